"""Chat channels: one small class per platform behind one interface (base.Channel).

``build_channels`` is the one place that knows which class serves which
config section; each module is imported only when its channel is on, so a
user without Discord never imports the gateway code.
"""

from __future__ import annotations

import dataclasses
import os

from openclaw_connector.channels.base import Channel, ChannelDeps
from openclaw_connector.config import Config
from openclaw_connector.messages import InboundHandler


def build_channels(cfg: Config, on_inbound: InboundHandler, deps: ChannelDeps) -> list[Channel]:
    """The enabled channels, in start order (console first: it is the operator's)."""
    channels: list[Channel] = []
    if cfg.console.enabled:
        from openclaw_connector.channels.console import ConsoleChannel
        console = dataclasses.replace(cfg.console, save_dir=cfg.console.save_dir or
                                      os.path.join(cfg.state_dir, "console"))
        channels.append(ConsoleChannel(console, on_inbound, deps))
    if cfg.telegram.on:
        from openclaw_connector.channels.telegram.channel import TelegramChannel
        channels.append(TelegramChannel(cfg.telegram, on_inbound, deps))
    if cfg.discord.on:
        from openclaw_connector.channels.discord.channel import DiscordChannel
        channels.append(DiscordChannel(cfg.discord, on_inbound, deps))
    if cfg.line.on:
        from openclaw_connector.channels.line import LineChannel
        channels.append(LineChannel(cfg.line, on_inbound, deps))
    if cfg.whatsapp.on:
        from openclaw_connector.channels.whatsapp import WhatsAppChannel
        channels.append(WhatsAppChannel(cfg.whatsapp, on_inbound, deps))
    return channels
