"""Helpers for the Telegram tests: a channel run directly against the fake, with a
recording ``on_inbound``; waiting is on events with timeouts, never sleeps."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator, Awaitable, Callable, Optional


from openclaw_connector.backoff import BackoffPolicy
from openclaw_connector.channels.base import ChannelDeps
from openclaw_connector.channels.telegram.channel import TelegramChannel
from openclaw_connector.net.transport import build_transport
from openclaw_connector.messages import Inbound
from openclaw_connector.metrics import Metrics
from openclaw_connector.state import StateStore
from tests.fakes.telegram import TOKEN, FakeTelegram
from tests.support import make_config


class Inbox:
    """Records every Inbound; ``await inbox.wait(n)`` until n arrived."""

    def __init__(self, behaviour: Optional[Callable[[Inbound], Awaitable[None]]] = None):
        self.items: list[Inbound] = []
        self.finished: list[Inbound] = []
        self.behaviour = behaviour
        self._changed = asyncio.Event()

    async def __call__(self, inbound: Inbound) -> None:
        self.items.append(inbound)
        self._changed.set()
        if self.behaviour is not None:
            await self.behaviour(inbound)
        self.finished.append(inbound)
        self._changed.set()

    async def wait(self, count: int = 1, timeout: float = 5.0, *,
                   finished: bool = False) -> list[Inbound]:
        async def _wait() -> None:
            while len(self.finished if finished else self.items) < count:
                self._changed.clear()
                await self._changed.wait()
        await asyncio.wait_for(_wait(), timeout)
        return self.items

    @property
    def texts(self) -> list[str]:
        return [i.text for i in self.items]


async def eventually(predicate: Callable[[], bool], *, turns: int = 1000) -> None:
    """Let the loop run (``sleep(0)``) until ``predicate()`` holds; fail after ``turns``."""
    for _ in range(turns):
        if predicate():
            return
        await asyncio.sleep(0)
    assert predicate(), "condition never became true"


def telegram_config(state_dir: Any, fake: FakeTelegram, **overrides: Any):
    values = {"telegram.token": TOKEN, "telegram.api_base": fake.url,
              "telegram.poll_timeout_sec": 1}
    values.update({k.replace("__", "."): v for k, v in overrides.items()})
    return make_config(state_dir, **values)


@contextlib.asynccontextmanager
async def running_channel(tmp_path: Any, fake: FakeTelegram, inbox: Inbox, *,
                          state: Optional[StateStore] = None,
                          **overrides: Any) -> AsyncIterator[TelegramChannel]:
    """A TelegramChannel with its own StateStore (or ``state``) and HTTP client."""
    overrides.setdefault("telegram__stop_drain_sec", 0.2)
    cfg = telegram_config(tmp_path, fake, **overrides)
    own_state = state is None
    if state is None:
        state = StateStore(str(tmp_path / "state"))
        state.open()
    http = build_transport(cfg)
    deps = ChannelDeps(state=state, http=http, metrics=Metrics(),
                       retry=BackoffPolicy(initial=0.01, factor=2.0, cap=0.05))
    channel = TelegramChannel(cfg.telegram, inbox, deps)
    await channel.start()
    try:
        yield channel
    finally:
        await channel.stop()
        http.close()
        if own_state:
            state.close()
