"""1000 pending watches and a quiet ComfyUI: the daemon makes no requests and uses
(almost) no CPU. Measured over a window, not asserted after a sleep."""

from __future__ import annotations

import time

import pytest

from openclaw_connector.messages import ChatRef
from tests.harness import settle, tick, until
from tests.jobs.support import job_env

N = 1000
WINDOW_SEC = 1.0


@pytest.mark.gen_test(timeout=30)
async def test_thousand_pending_watches_leave_the_daemon_idle(tmp_path):
    # Default poll_max_sec: the safety pass (10 × poll_max_sec) is 5 min away.
    async with job_env(tmp_path, results__poll_max_sec=30.0) as (fake, daemon):
        ids = [fake.submit("portrait") for _ in range(N)]     # all stay queued
        for i, pid in enumerate(ids):
            await daemon.jobs.watch_prompt(pid, "portrait",
                                           ChatRef("console", "console", user_id="u%d" % i))
        assert len(daemon.jobs.introspect().pending) == N
        before = len(fake.calls("/api/queue"))
        await fake.wait_request("/api/queue", count=before + 1)   # the pass after the adds
        last = fake.calls("/api/queue")[-1]
        await until(lambda: last.status != 0, 5, "the /queue answer")   # sent back ...
        await settle(50)                                     # ... and read by the pass
        requests = len(fake.requests)
        cpu0, wall0 = time.process_time(), time.monotonic()
        await tick(WINDOW_SEC)
        cpu = time.process_time() - cpu0
        wall = time.monotonic() - wall0
        assert len(fake.requests) == requests, "requests while nothing changed"
        assert fake.calls("/api/history") == []    # everything still queued: no lookups
    share = cpu / wall
    print("idle cpu with %d watches: %.4f s over %.2f s = %.2f %%" % (N, cpu, wall,
                                                                     100 * share))
    assert share < 0.05
