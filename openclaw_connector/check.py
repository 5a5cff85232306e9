"""``openclaw-connectord -c FILE --check``: prove the config works against the real services.

Runs after the config has been loaded and validated. This module is only the
driver: it asks ``OpenClawClient.probe()`` (ComfyUI health, then one
admin-tier call, openclaw/probe.py) and the probe beside each enabled
platform's wire code (``channels/telegram/probe.py``, ``channels/discord/probe.py``,
``channels/line_probe.py``, ``channels/whatsapp_probe.py``), runs them
concurrently, adds the local ``state_dir`` check, the config warnings and the
proxy route, and prints one line per check, ``OK   name: what was found`` or
``FAIL name: what happened — the fix`` (``WARN`` lines do not fail), then the
webhook URLs to paste into the LINE and WhatsApp consoles. The exit status is
0 only if every check passed. It makes no HTTP call of its own: the caller
(cli.py) builds the daemon's transport, so a proxy is used here as it will be
there, and closes it.

Every probe GET uses ``openclaw.timeout_sec`` as its connect and request
timeout. No line ever holds a secret: probes show URLs as ``scheme://host``
only, and every line is also passed through the log redaction with the
configured secrets.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Awaitable, Callable, TextIO

from openclaw_connector import log as logmod
from openclaw_connector.config import Config
from openclaw_connector.net.proxy import Proxy
from openclaw_connector.net.resolver import public_url
from openclaw_connector.openclaw.client import OpenClawClient
from openclaw_connector.probe import ProbeResult, fail, ok, warn

if TYPE_CHECKING:   # the type only; the transport is built and closed by cli.py
    from openclaw_connector.net.transport import HTTPTransport

PLATFORMS = ("telegram", "discord", "line", "whatsapp")
# A platform probe: (its config section, the transport, seconds per GET) -> one line.
Probe = Callable[..., Awaitable[ProbeResult]]


# --------------------------------------------------------------------------- local and driver

def check_network(cfg: Config) -> list[ProbeResult]:
    """Which proxy the platform calls (and the Discord gateway) go through."""
    net = cfg.network
    if not net.proxy and not net.http_proxy:
        return []
    used = [Proxy.from_url(url) for url in (net.proxy, net.http_proxy) if url]
    return [ok("proxy", "platform API calls%s go through %s (loopback, %s and "
               "network.no_proxy are dialled directly)" % (
                   " and the Discord gateway" if cfg.discord.on and net.proxy else "",
                   ", ".join("%s:%d" % (p.host, p.port) for p in used),
                   public_url(cfg.openclaw.url)))]


def check_state_dir(cfg: Config) -> ProbeResult:
    """The state directory exists and is writable, or can be created."""
    path = os.path.abspath(cfg.state_dir)
    if os.path.isdir(path):
        if os.access(path, os.W_OK | os.X_OK):
            return ok("state_dir", "%s is writable" % path)
        return fail("state_dir", "%s is not writable by this user — chown it to the "
                    "service user or set state_dir" % path)
    parent = os.path.dirname(path)
    while parent and not os.path.isdir(parent):
        parent = os.path.dirname(parent)
    if parent and os.access(parent, os.W_OK | os.X_OK):
        return ok("state_dir", "%s will be created" % path)
    return fail("state_dir", "%s does not exist and %s is not writable — create it for the "
                "service user or set state_dir" % (path, parent or "/"))


def platform_probe(name: str) -> Probe:
    """The probe beside ``name``'s wire code, imported only when that channel is on."""
    if name == "telegram":
        from openclaw_connector.channels.telegram import probe as telegram
        return telegram.probe
    if name == "discord":
        from openclaw_connector.channels.discord import probe as discord
        return discord.probe
    if name == "line":
        from openclaw_connector.channels import line_probe
        return line_probe.probe
    from openclaw_connector.channels import whatsapp_probe
    return whatsapp_probe.probe


async def collect(cfg: Config, http: "HTTPTransport") -> list[ProbeResult]:
    """Every check, run concurrently, in a stable order."""
    timeout = cfg.openclaw.timeout_sec
    platforms = [name for name in PLATFORMS if getattr(cfg, name).on]
    comfyui, channels = await asyncio.gather(
        OpenClawClient(cfg.openclaw, http).probe(timeout),
        asyncio.gather(*(platform_probe(name)(getattr(cfg, name), http, timeout)
                         for name in platforms)))
    enabled = ", ".join(cfg.enabled_channels()) or "none"
    results = [ok("config", "%s (channels: %s)" % (cfg.source or "defaults", enabled)),
               check_state_dir(cfg)]
    results.extend(comfyui)
    results.extend(channels)
    for text in cfg.warnings():
        where, _sep, sentence = text.partition(": ")
        results.append(warn(where, sentence))
    results.extend(check_network(cfg))
    return results


def webhook_lines(cfg: Config) -> list[str]:
    """The URLs to paste into the LINE / Meta consoles, and where the tunnel points."""
    lines = []
    base = cfg.media.public_base_url
    for name, what in (("line", "LINE Developers → Messaging API → Webhook URL"),
                       ("whatsapp", "Meta app → WhatsApp → Configuration → Callback URL")):
        c = getattr(cfg, name)
        if not c.on:
            continue
        # Port 0: the system picks one at start, so only the daemon's log can tell it.
        local = ("http://%s:%d" % (c.bind, c.port) if c.port else
                 "the port the daemon logs at start (event=listening bind=%s)" % c.bind)
        lines.append("URL  %s webhook: %s%s — paste into %s; the tunnel forwards to %s" % (
            name, base or "https://<your tunnel host>", c.path, what, local))
    return lines


def ffmpeg_line() -> str:
    """Whether ``ffmpeg`` is installed (issue 19); information, not a check: nothing
    needs it, since no output is transcoded."""
    from openclaw_connector.media_out import ffmpeg_path
    path = ffmpeg_path()
    if path:
        return ("INFO ffmpeg: found at %s, not used: videos and animations are sent as they "
                "are (native video, file or signed link)" % path)
    return ("INFO ffmpeg: not on PATH (optional): videos and animations are sent as they "
            "are; GIF and animated WEBP reach LINE and WhatsApp as signed links")


async def run_checks(cfg: Config, out: TextIO, http: "HTTPTransport") -> int:
    """Run every check, print one line each; the exit status: 0 if all passed, else 1.

    ``http`` is the daemon's own transport (``net.transport.build_transport``), owned
    and closed by the caller; ``cli.py --check`` runs this with ``asyncio.run``.
    """
    results = await collect(cfg, http)
    secrets = cfg.secrets()
    for result in results:
        out.write(logmod.redact(result.line(), secrets) + "\n")
    # ffmpeg would matter where animations cannot be shown natively: LINE, WhatsApp.
    media = [ffmpeg_line()] if cfg.line.on or cfg.whatsapp.on else []
    for line in webhook_lines(cfg) + media:
        out.write(logmod.redact(line, secrets) + "\n")
    failed = sum(1 for r in results if not r.passed)
    out.write("%d checks, %d failed\n" % (len(results), failed))
    out.flush()
    return 0 if failed == 0 else 1
