"""The JobWatcher on its own (no daemon): delivery retries, give-up, stop and resume,
through the real Outbox with a recording channel standing in for a platform."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator

import pytest

from openclaw_connector.jobs.watcher import JobWatcher
from openclaw_connector.messages import ChannelSendError, ChatRef, Reply, Sent
from openclaw_connector.metrics import Metrics
from openclaw_connector.net.transport import build_transport
from openclaw_connector.openclaw.client import OpenClawClient
from openclaw_connector.state import StateStore
from tests.jobs.support import PNG, TOKEN, GatedFake, jobs_config
from tests.harness import outbox_for

CHAT = ChatRef(platform="test", chat_id="c1", user_id="u1")


class Platform:
    """A channel for the Outbox: refuses according to a script, records what it accepted."""

    platform = "test"

    def __init__(self, *failures: ChannelSendError) -> None:
        self.failures = list(failures)
        self.accepted: list[Reply] = []
        self.attempts = 0
        self.changed = asyncio.Event()

    async def send(self, chat: ChatRef, reply: Reply, *, start_part: int = 0,
                   key: str = "") -> Sent:
        self.attempts += 1
        self.changed.set()
        if self.failures:
            raise self.failures.pop(0)
        self.accepted.append(reply)
        return Sent("test", chat.chat_id, str(len(self.accepted)), str(len(self.accepted)))

    async def wait(self, pred, timeout: float = 5.0) -> None:
        async def _wait() -> None:
            while not pred():
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(_wait(), timeout)


@contextlib.asynccontextmanager
async def watcher(tmp_path, fake, platform, **overrides: Any) -> AsyncIterator[JobWatcher]:
    cfg = jobs_config(tmp_path, fake, **overrides)
    state = StateStore(cfg.state_dir)
    state.open()
    http = build_transport(cfg)
    stopping = asyncio.Event()
    outbox = outbox_for(platform, attempts=cfg.results.delivery_attempts, state=state,
                        stopping=stopping)
    jobs = JobWatcher(cfg, openclaw=OpenClawClient(cfg.openclaw, http), state=state,
                      outbox=outbox, metrics=Metrics())
    await jobs.start()
    try:
        yield jobs
    finally:
        stopping.set()          # as the daemon does first when it stops
        await jobs.stop()
        http.close()
        state.close()


def _rows(tmp_path) -> list:
    state = StateStore(str(tmp_path / "state"))
    state.open()
    try:
        return [(r.kind, r.state) for r in state.watches()]
    finally:
        state.close()


@pytest.mark.gen_test(timeout=10)
async def test_send_fails_twice_then_succeeds_one_delivery(tmp_path):
    platform = Platform(ChannelSendError("busy", retry_after=0.01), ChannelSendError("reset"))
    async with GatedFake(admin_token=TOKEN) as fake:
        fake.register_view("a.png", PNG)
        async with watcher(tmp_path, fake, platform) as jobs:
            pid = fake.submit()
            await jobs.watch_prompt(pid, "portrait", CHAT)
            fake.finish_job(pid, images=["a.png"])
            await platform.wait(lambda: platform.accepted)
            await platform.wait(lambda: not jobs.introspect().pending)
            assert jobs._metrics.value("job_results_total", outcome="success",
                                       platform="test") == 1
    assert platform.attempts == 3 and len(platform.accepted) == 1
    assert platform.accepted[0].images[0].data == PNG
    assert len(fake.calls("/api/view")) == 1          # images fetched once, not per attempt
    assert _rows(tmp_path) == [("prompt", "done")]


@pytest.mark.gen_test(timeout=10)
async def test_images_refused_for_good_the_text_still_goes(tmp_path):
    platform = Platform(ChannelSendError("photo too large", permanent=True))
    async with GatedFake(admin_token=TOKEN) as fake:
        fake.register_view("a.png", PNG)
        async with watcher(tmp_path, fake, platform) as jobs:
            pid = fake.submit()
            await jobs.watch_prompt(pid, "portrait", CHAT)
            fake.finish_job(pid, images=["a.png"])
            await platform.wait(lambda: platform.accepted)
    (reply,) = platform.accepted
    assert reply.images == () and reply.text.startswith("[Done] portrait")
    assert "(images not attached: the platform refused them)" in reply.text


@pytest.mark.gen_test(timeout=10)
async def test_gives_up_after_delivery_attempts_and_never_resends(tmp_path, caplog):
    platform = Platform(*[ChannelSendError("down") for _ in range(3)])
    async with GatedFake(admin_token=TOKEN) as fake:
        async with watcher(tmp_path, fake, platform, results__delivery_attempts=3) as jobs:
            pid = fake.submit()
            await jobs.watch_prompt(pid, "portrait", CHAT)
            fake.fail_job(pid)
            await platform.wait(lambda: platform.attempts == 3)
            await platform.wait(lambda: not jobs.introspect().pending)
        assert _rows(tmp_path) == [("prompt", "failed")]
        async with watcher(tmp_path, fake, platform) as again:
            assert again.introspect().pending == []
    assert platform.accepted == [] and platform.attempts == 3
    lines = [r.getMessage() for r in caplog.records if r.name.endswith(("jobs", "delivery"))]
    assert sum("event=delivery_retry" in m for m in lines) == 2     # then the third failed
    assert any("event=result_gave_up" in m and "attempts=3" in m for m in lines)


@pytest.mark.gen_test(timeout=10)
async def test_stop_during_retry_keeps_the_watch_and_next_start_delivers(tmp_path):
    platform = Platform(ChannelSendError("flood", retry_after=30.0))
    async with GatedFake(admin_token=TOKEN) as fake:
        async with watcher(tmp_path, fake, platform) as jobs:
            pid = fake.submit()
            await jobs.watch_prompt(pid, "portrait", CHAT)
            fake.interrupt(pid)
            await platform.wait(lambda: platform.attempts == 1)
        assert _rows(tmp_path) == [("prompt", "pending")]
        async with watcher(tmp_path, fake, platform) as again:
            await platform.wait(lambda: platform.accepted)
            await platform.wait(lambda: not again.introspect().pending)
    assert [r.text for r in platform.accepted] == ["[Stopped] portrait · %s" % pid]
    assert _rows(tmp_path) == [("prompt", "done")]


@pytest.mark.gen_test(timeout=10)
async def test_unreachable_comfyui_at_start_keeps_watches_until_it_answers(tmp_path):
    """Pending watches survive a ComfyUI that is down; no [Lost] while it is unreachable."""
    platform = Platform()
    async with GatedFake(admin_token=TOKEN) as fake:
        async with watcher(tmp_path, fake, platform) as jobs:
            pid = fake.submit()
            await jobs.watch_prompt(pid, "portrait", CHAT)
        await fake.go_down()
        async with watcher(tmp_path, fake, platform) as again:
            fake.finish_job(pid)
            assert len(again.introspect().pending) == 1
            await fake.come_up()
            await platform.wait(lambda: platform.accepted)
    assert platform.accepted[0].text.startswith("[Done] portrait · %s" % pid[:8])


@pytest.mark.gen_test(timeout=10)
async def test_approval_unknown_to_openclaw_is_reported_lost(tmp_path):
    platform = Platform()
    async with GatedFake(admin_token=TOKEN) as fake:
        async with watcher(tmp_path, fake, platform) as jobs:
            await jobs.watch_approval("apr_gone", "portrait", CHAT, "")
            await platform.wait(lambda: platform.accepted)
    assert platform.accepted[0].text == \
        "[Lost] apr_gone · portrait: OpenClaw no longer knows this approval request"
    assert _rows(tmp_path) == [("approval", "done")]
