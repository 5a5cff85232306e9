"""Fixtures for the Discord channel tests: the fake, a running channel, an inbox."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, AsyncIterator, Optional

import pytest

from openclaw_connector.backoff import BackoffPolicy
from openclaw_connector.channels.base import ChannelDeps
from openclaw_connector.channels.discord.channel import DiscordChannel
from openclaw_connector.net.transport import build_transport
from openclaw_connector.messages import Inbound
from openclaw_connector.metrics import Metrics
from openclaw_connector.state import StateStore
from tests.fakes.discord import TOKEN, FakeDiscord
from tests.support import make_config


class Inbox:
    """The channel's ``on_inbound``: records each Inbound; ``gate`` can hold handlers."""

    def __init__(self) -> None:
        self.items: list[Inbound] = []
        self.gate: Optional[asyncio.Event] = None
        self._changed = asyncio.Event()

    async def __call__(self, inbound: Inbound) -> None:
        self.items.append(inbound)
        self._changed.set()
        if self.gate is not None:
            await self.gate.wait()

    async def wait(self, count: int = 1, timeout: float = 5.0) -> list[Inbound]:
        async def _wait() -> None:
            while len(self.items) < count:
                self._changed.clear()
                await self._changed.wait()
        await asyncio.wait_for(_wait(), timeout)
        return self.items

    async def wait_for_id(self, message_id: str, timeout: float = 5.0) -> Inbound:
        async def _wait() -> Inbound:
            while True:
                for item in self.items:
                    if item.message_id == message_id:
                        return item
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(_wait(), timeout)


class LogWaiter(logging.Handler):
    """Await a log line containing some text (the channel's own events, no sleeps)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self._changed = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        self._changed.set()

    async def wait_for(self, needle: str, timeout: float = 5.0) -> str:
        async def _wait() -> str:
            while True:
                for line in self.lines:
                    if needle in line:
                        return line
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(_wait(), timeout)


@pytest.fixture
def discord_log(io_loop):
    """A LogWaiter on the ``openclaw_connector.discord`` logger."""
    logger = logging.getLogger("openclaw_connector.discord")
    waiter = LogWaiter()
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(waiter)
    yield waiter
    logger.removeHandler(waiter)
    logger.setLevel(old_level)


async def ready(fake: FakeDiscord, count: int = 1) -> None:
    """Until the fake has handed out READY/RESUMED ``count`` times on a live socket."""
    await fake.wait_for(lambda: fake.live is not None and len(fake.identifies) +
                        len(fake.resumes) >= count and fake.session is not None and
                        fake.live.session is fake.session, what="READY/RESUMED")


async def settle(fake: FakeDiscord, inbox: Inbox, text: str = "/sentinel") -> None:
    """Round-trip one DM so everything sent before it has been handled."""
    sentinel = fake.message_create(text)["id"]
    await inbox.wait_for_id(sentinel)


@pytest.fixture(autouse=True)
def no_token_in_logs(caplog):
    """Every Discord test: the bot token never appears in a log line, at any level."""
    caplog.set_level(logging.DEBUG, logger="openclaw_connector")
    yield
    leaked = [r.getMessage() for r in caplog.records if TOKEN in r.getMessage()]
    assert not leaked, leaked


@pytest.fixture
def fake_discord(io_loop):
    """The fake Discord on 127.0.0.1:<ephemeral>, 50 ms heartbeats; fails on unscripted calls."""
    fake = FakeDiscord(heartbeat_interval_ms=50).start()
    yield fake
    fake.stop()
    assert not fake.unexpected, fake.unexpected


def discord_config(fake: FakeDiscord, state_dir: Any, **overrides: Any):
    values = {"discord__token": fake.token, "discord__api_base": fake.api_base,
              "discord__invalid_session_wait_sec": 0.05}
    values.update(overrides)
    return make_config(state_dir, **values)


@contextlib.asynccontextmanager
async def running_channel(fake: FakeDiscord, tmp_path: Any, *, inbox: Any = None,
                          state: Optional[StateStore] = None,
                          **overrides: Any) -> AsyncIterator[tuple[DiscordChannel, Any]]:
    """A started DiscordChannel against ``fake``; yields ``(channel, inbox)``."""
    cfg = discord_config(fake, tmp_path / "state", **overrides)
    own_state = state is None
    if state is None:
        state = StateStore(str(tmp_path / "state"))
        state.open()
    http = build_transport(cfg)
    inbox = inbox if inbox is not None else Inbox()
    deps = ChannelDeps(state=state, http=http, metrics=Metrics(),
                       retry=BackoffPolicy(initial=0.01, factor=2.0, cap=0.05))
    channel = DiscordChannel(cfg.discord, inbox, deps)
    await channel.start()
    try:
        yield channel, inbox
    finally:
        await channel.stop()
        http.close()
        if own_state:
            state.close()
