"""SIGTERM while the Outbox waits to retry a job result (issue 13)."""

from __future__ import annotations

import time

import pytest

from tests.harness import until
from tests.e2e.world import World
from tests.fakes.telegram import error


@pytest.mark.gen_test(timeout=60)
async def test_sigterm_during_a_backoff_wait_keeps_the_result_and_delivers_it_once(tmp_path):
    """A finished job whose photo upload keeps failing: SIGTERM lands in the Outbox's
    backoff wait, the process exits 0 at once, the result stays pending, and the next
    start delivers the rest once: the caption is not sent again, the photo arrives once."""
    async with World(tmp_path, channels=("telegram",)) as w:
        w.start_worker()
        # Long backoff: the SIGTERM below certainly lands inside a wait.
        run = await w.start_daemon(**{"retry.initial_sec": 4, "retry.max_sec": 4})
        w.telegram.script("sendPhoto", *[error(500, "Internal Server Error")
                                         for _ in range(20)])
        item = await w.send("telegram", "/run portrait")
        await run.wait_line("event=delivery_retry", timeout=15)
        assert w.answers(item, "[Done]") == 1

        began = time.monotonic()
        run.signal(15)
        assert await run.wait_exit() == 0
        assert time.monotonic() - began < 2.5, "the backoff wait held up the stop"
        assert run.count("event=delivery_stopped") == 1

        def photos() -> int:
            return sum(r.status == 200 for r in w.telegram.calls("sendPhoto"))
        assert photos() == 0
        w.telegram.unscript("sendPhoto")
        again = await w.start_daemon()
        await until(lambda: photos() == 1, 15, "the photo after the restart")
        assert await again.stop() == 0
        assert w.answers(item, "[Done]") == 1 and photos() == 1
        assert again.count("event=delivery_resumed") == 1
        assert w.leaked() == []
