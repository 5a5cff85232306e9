"""Discord presets on the harness: the fake, a running channel, the channel's log.
``Inbox``/``LogWaiter`` are the harness's (re-exported)."""

from __future__ import annotations

import contextlib
import logging
from typing import Any, AsyncIterator, Optional

import pytest

from openclaw_connector.channels.discord.channel import DiscordChannel
from openclaw_connector.state import StateStore
from tests import harness
from tests.fakes.discord import TOKEN, FakeDiscord
from tests.harness import Inbox, LogWaiter, log_waiter, make_config

__all__ = ["Inbox", "LogWaiter", "discord_config", "running_channel", "ready", "settle"]


@pytest.fixture
def discord_log(io_loop):
    """A LogWaiter on the ``openclaw_connector.discord`` logger, at DEBUG."""
    with log_waiter("openclaw_connector.discord", logging.DEBUG) as waiter:
        yield waiter


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
    """The fake Discord on 127.0.0.1:<ephemeral>, 50 ms heartbeats (an unscripted call
    fails the test at teardown, tests/fakes/scripted.py)."""
    fake = FakeDiscord(heartbeat_interval_ms=50).start()
    yield fake
    fake.stop()


def discord_config(fake: FakeDiscord, state_dir: Any, **overrides: Any):
    """A Config with Discord pointed at ``fake``."""
    return make_config(state_dir, **{**harness.discord_values(fake),
                                     **harness.dotted(**overrides)})


@contextlib.asynccontextmanager
async def running_channel(fake: FakeDiscord, tmp_path: Any, *, inbox: Any = None,
                          state: Optional[StateStore] = None,
                          **overrides: Any) -> AsyncIterator[tuple[DiscordChannel, Any]]:
    """A started DiscordChannel against ``fake``; yields ``(channel, inbox)``."""
    cfg = discord_config(fake, tmp_path / "state", **overrides)
    inbox = inbox if inbox is not None else Inbox()
    async with harness.running_channel(
            lambda c, deps: DiscordChannel(c.discord, inbox, deps), cfg,
            tmp_path / "state", state=state) as channel:
        yield channel, inbox
