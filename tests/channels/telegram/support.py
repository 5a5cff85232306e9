"""Telegram presets on the harness: a config pointed at the fake and a TelegramChannel
run directly against it.  ``Inbox``/``eventually`` are the harness's (re-exported)."""

from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator, Optional

from openclaw_connector.channels.telegram.channel import TelegramChannel
from openclaw_connector.state import StateStore
from tests import harness
from tests.fakes.telegram import TOKEN, FakeTelegram
from tests.harness import Inbox, eventually, make_config

__all__ = ["Inbox", "eventually", "telegram_config", "running_channel"]


def telegram_config(state_dir: Any, fake: FakeTelegram, **overrides: Any):
    """A Config with Telegram pointed at ``fake`` (1 s long polls)."""
    return make_config(state_dir, **{**harness.telegram_values(fake, TOKEN),
                                     **harness.dotted(**overrides)})


@contextlib.asynccontextmanager
async def running_channel(tmp_path: Any, fake: FakeTelegram, inbox: Inbox, *,
                          state: Optional[StateStore] = None,
                          **overrides: Any) -> AsyncIterator[TelegramChannel]:
    """A TelegramChannel with its own StateStore (or ``state``) and HTTP client."""
    overrides.setdefault("telegram__stop_drain_sec", 0.2)
    cfg = telegram_config(tmp_path, fake, **overrides)
    async with harness.running_channel(
            lambda c, deps: TelegramChannel(c.telegram, inbox, deps), cfg,
            tmp_path / "state", state=state) as channel:
        yield channel
