"""SIGTERM while connected everywhere with commands in flight (faults.md §4 case 26)."""

from __future__ import annotations

import time

import pytest

from tests.e2e.world import PLATFORMS, World


GRACE = 0.3          # shutdown_grace_sec for the hung-ComfyUI test


@pytest.mark.gen_test(timeout=60)
async def test_sigterm_stops_webhooks_flushes_in_flight_replies_and_exits_0(tmp_path):
    """SIGTERM with /status waiting on ComfyUI on every platform: webhooks are refused at
    once, the in-flight replies still go out, Telegram's offset is confirmed, Discord
    closes with 1000, and the process exits 0 within shutdown_grace_sec."""
    async with World(tmp_path) as w:
        gate = w.openclaw.hold("/system_stats")
        run = await w.start_daemon()
        items = [await w.send(p, "/status") for p in ("telegram", "discord", "line",
                                                      "whatsapp")]
        await w.openclaw.wait_request("/system_stats", count=4, timeout=10)
        began = time.monotonic()
        run.signal(15)
        await run.wait_line("event=service_stopped name=web")
        late = await w.post_webhook("line", b'{"destination":"x","events":[]}')
        gate.set()
        assert await run.wait_exit() == 0
        took = time.monotonic() - began
        assert late.code == 599, "webhook still accepted after SIGTERM (%s)" % late.code
        assert [w.answers(i, "ComfyUI: reachable") for i in items] == [1, 1, 1, 1]
        tg_update = int(items[0].msg_id)
        assert w.telegram.confirmed == tg_update + 1, "offset not confirmed at stop"
        assert 1000 in w.discord.client_closes
        assert took < 5 + 2, "shutdown took %.1f s (grace 5 s)" % took
        assert run.count("event=daemon_stopped") == 1
        assert w.leaked() == []


@pytest.mark.gen_test(timeout=60)
async def test_sigterm_with_a_hung_comfyui_exits_within_the_grace_period(tmp_path):
    """Commands stuck on a ComfyUI that never answers cannot hold shutdown past
    shutdown_grace_sec, and the next start answers each of them once (all four platforms
    keep an unanswered command pending)."""
    async with World(tmp_path) as w:
        gate = w.openclaw.hold("/system_stats")
        run = await w.start_daemon(shutdown_grace_sec=GRACE)
        items = [await w.send(p, "/status") for p in PLATFORMS]
        await w.openclaw.wait_request("/system_stats", count=4, timeout=10)
        began = time.monotonic()
        run.signal(15)
        assert await run.wait_exit() == 0
        took = time.monotonic() - began
        assert took < GRACE + 2, "shutdown took %.1f s (grace %.1f s)" % (took, GRACE)
        assert [w.answers(i, "ComfyUI") for i in items] == [0, 0, 0, 0]
        gate.set()
        again = await w.start_daemon()
        for item in items:
            await w.wait_answers(item, "ComfyUI: reachable")
        assert await again.stop() == 0
        assert [w.answers(i, "ComfyUI") for i in items] == [1, 1, 1, 1]
        assert w.leaked() == []
