"""Outages of the things the daemon talks to: ComfyUI down, every platform failing at once.

``E2E_COMFY_DOWN_SEC`` sets how long ComfyUI stays down (default 2 s; the
documented run uses 30). While it is down its port is held by a listener
that accepts and drops every connection, so each attempt the daemon makes
is counted (a refused connect never reaches a server to be counted).
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from tests.e2e.world import PLATFORMS, World, tick, until
from tests.fakes.discord import Response
from tests.fakes.telegram import bad_gateway

DOWN_SEC = float(os.environ.get("E2E_COMFY_DOWN_SEC", "2"))
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` from /proc (Linux)."""
    with open("/proc/%d/stat" % pid) as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class DropServer:
    """Holds a port while ComfyUI is "down": accepts, counts, closes at once."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.accepts: list[float] = []
        self._server = None

    async def start(self) -> None:
        async def _drop(reader, writer) -> None:
            self.accepts.append(time.monotonic())
            writer.close()
        self._server = await asyncio.start_server(_drop, "127.0.0.1", self.port,
                                                  reuse_address=True)

    async def stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()


@pytest.mark.gen_test(timeout=90)
async def test_comfyui_down_status_unreachable_watches_deliver_after_no_busy_loop(tmp_path):
    """ComfyUI dies with four jobs queued: /status says unreachable, the daemon retries
    at a bounded rate with little CPU, and every result arrives once after it returns."""
    async with World(tmp_path) as w:
        # Caps of 1 s: the websocket and the /queue poll each retry about twice a second
        # once backed off (full jitter); a loop that ignores its backoff makes hundreds.
        await w.start_daemon(**{"retry.max_sec": 1.0, "results.poll_max_sec": 1.0})
        runs = [await w.send(p, "/run portrait") for p in PLATFORMS]
        for item in runs:
            await w.wait_answers(item, "[Queued]")
        port = w.openclaw.port
        await w.openclaw.go_down()
        drop = DropServer(port)
        await drop.start()
        pid = w.daemon.pid
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        status = await w.send("telegram", "/status")
        await w.wait_answers(status, "ComfyUI is not reachable")
        await tick(DOWN_SEC)                      # the outage itself
        cpu1, t1 = cpu_seconds(pid), time.monotonic()
        code, health = await w.status_json()
        await drop.stop()
        w.start_worker()
        await w.openclaw.come_up()
        for item in runs:
            await w.wait_answers(item, "[Done]", timeout=15)
        after = await w.send("discord", "/status")
        await w.wait_answers(after, "ComfyUI: reachable")
        assert await w.daemon.stop() == 0
        rate = len(drop.accepts) / (t1 - t0)
        middle = (t0 + t1) / 2                    # backed off by then: the steady rate
        steady = sum(a >= middle for a in drop.accepts) / (t1 - middle)
        busy = (cpu1 - cpu0) / (t1 - t0)
        print("E2E comfyui down %.1f s: %d connects (%.1f/s, second half %.1f/s), cpu %.1f%%"
              % (t1 - t0, len(drop.accepts), rate, steady, 100 * busy))
        assert drop.accepts, "the daemon never tried to reconnect"
        assert rate < 20, "reconnect storm: %.1f connects/s" % rate
        assert steady < 10, "no backoff while down: %.1f connects/s" % steady
        assert busy < 0.15, "busy while ComfyUI is down: %.0f%% CPU" % (100 * busy)
        assert health.get("comfyui", {}).get("reachable") is False, health
        assert [w.answers(i, "[Done]") for i in runs] == [1, 1, 1, 1]
        assert [w.answers(i, "[Queued]") for i in runs] == [1, 1, 1, 1]
        assert w.leaked() == []


def _fail_every_platform(w: World, n: int, chats: dict, *, polls: bool = True) -> None:
    """The next ``n`` sends on every platform (and ``n`` Telegram polls) answer 5xx."""
    if polls:
        w.telegram.script("getUpdates", *[bad_gateway() for _ in range(n)])
    w.telegram.script("sendMessage", *[bad_gateway() for _ in range(n)])
    w.discord.script_send(chats["discord"], *[Response(502, {"message": "bad gateway"})
                                              for _ in range(n)])
    w.line.fail("reply", 500, times=n)
    w.line.fail("push", 503, times=n)
    w.whatsapp.fail(500, 1, "internal error", times=n)


def _stamp(fake) -> list[float]:
    """Record the arrival time of every request to a FakeAPI (LINE, WhatsApp)."""
    stamps: list[float] = []
    inner = fake.record

    def record(request):
        stamps.append(time.monotonic())
        return inner(request)
    fake.record = record
    return stamps


@pytest.mark.parametrize("failures", [
    2,
    8,
])
@pytest.mark.gen_test(timeout=90)
async def test_every_platform_failing_then_recovering_loses_no_reply(tmp_path, failures):
    """Every platform answers 5xx ``failures`` times at once, then recovers: polling resumes
    with visible backoff and every command reply and job result arrives exactly once."""
    async with World(tmp_path) as w:
        w.start_worker()
        line_at, wa_at = _stamp(w.line), _stamp(w.whatsapp)
        # One HTTP attempt per Outbox attempt now (issue 13): the cap must outlast the
        # scripted outage, which the channels' own retry loops used to absorb.
        await w.start_daemon(**{"retry.initial_sec": 0.05, "retry.max_sec": 0.4,
                                "results.delivery_attempts": failures + 2})
        n = w._n + 1
        chats = {p: w.chat_for(p, n + i) for i, p in enumerate(PLATFORMS)}
        _fail_every_platform(w, failures, chats)
        helps = [await w.send(p, "/help", n=n + i) for i, p in enumerate(PLATFORMS)]
        for item in helps:
            await w.wait_answers(item, "Commands:", timeout=8)
        runs = [await w.send(p, "/run portrait") for p in PLATFORMS]
        for item in runs:
            await w.wait_answers(item, "[Done]", timeout=15)
        assert await w.daemon.stop() == 0
        # The Telegram poll loop: every failed poll was followed by a backoff wait.
        calls = w.telegram.calls("getUpdates")
        first = next(i for i, r in enumerate(calls) if r.status == 502)
        polls = [r.at for r in calls[first:first + failures + 1]]
        gaps = [b - a for a, b in zip(polls, polls[1:])]
        assert min(gaps) >= 0.02, "poll retried without backoff: %s" % gaps
        if failures >= 8:
            assert sum(gaps[4:8]) > sum(gaps[:2]), "no growth in poll backoff: %s" % gaps
        # Each platform's retries of the first (failing) send were spaced by backoff too
        # (LINE's first step, reply -> push, is a fallback, not a retry).
        tg_sends = [r.at for r in w.telegram.calls("sendMessage")][:min(failures, 3)]
        dc_sends = [s.at for s in w.discord.sends if s.channel_id == chats["discord"]]
        for name, stamps in (("telegram", tg_sends), ("discord", dc_sends[:failures + 1]),
                             ("line", line_at[1:failures + 2]),
                             ("whatsapp", wa_at[:failures + 1])):
            spacing = [b - a for a, b in zip(stamps, stamps[1:])]
            assert spacing and min(spacing) >= 0.02, "%s retried at once: %s" % (name,
                                                                                spacing)
        assert [w.answers(i, "Commands:") for i in helps] == [1, 1, 1, 1]
        assert [w.answers(i, "[Done]") for i in runs] == [1, 1, 1, 1]
        assert w.leaked() == []


@pytest.mark.gen_test(timeout=90)
async def test_sigkill_during_an_outage_every_reply_arrives_once_after_recovery(tmp_path):
    """Every platform refuses sends; the daemon is SIGKILLed while it retries the replies;
    the outage outlasts the crash, then ends: each command is answered exactly once."""
    async with World(tmp_path) as w:
        # One HTTP attempt per Outbox attempt (issue 13): the cap outlasts the outage.
        await w.start_daemon(**{"retry.initial_sec": 0.05, "retry.max_sec": 0.3,
                                "results.delivery_attempts": 12})
        n = w._n + 1
        chats = {p: w.chat_for(p, n + i) for i, p in enumerate(PLATFORMS)}
        _fail_every_platform(w, 10, chats, polls=False)
        items = [await w.send(p, "/help", n=n + i) for i, p in enumerate(PLATFORMS)]

        def failing_everywhere() -> bool:
            return (sum(r.status == 502 for r in w.telegram.calls("sendMessage")) >= 2 and
                    sum(s.status == 502 for s in w.discord.sends) >= 2 and
                    len(w.line.requests) >= 3 and len(w.whatsapp.requests) >= 2)
        await until(failing_everywhere, 15, "retries on every platform")
        w.daemon.kill()
        await w.daemon.wait_exit()
        await w.start_daemon()
        for item in items:
            await w.wait_answers(item, "Commands:", timeout=20)
        assert await w.daemon.stop() == 0
        assert [w.answers(i, "Commands:") for i in items] == [1, 1, 1, 1]
        assert w.leaked() == []
