"""Live job card latency and edit rate (issue 16).

The OpenClaw/ComfyUI fake and the Telegram fake (tests/fakes) run in this
process; the daemon runs as a separate process (``python -m
openclaw_connector -c``) with Telegram on.

1. **latency** (``progress.min_interval_sec: 0``): ``--cards`` chats each send
   ``/run portrait``, so that many cards are live at once (ComfyUI runs one job,
   the others wait and their cards show the queue position). For each job in
   turn, once the daemon attached its run socket (``/ws?clientId=<the job's
   client_id>``), the fake emits ``progress`` steps 1..``--steps`` one at a time;
   latency = from the fake writing the event to the ``editMessageText`` showing
   that step arriving at the Telegram fake. Then the job finishes (its result and
   the waiting cards' new positions go out) and the next one starts.
2. **edit rate** (default ``progress.min_interval_sec``, 2 s): one job emits a
   ``progress`` event every ``--event-ms`` for ``--rate-sec``; we count the edits
   of its card and scale to edits per minute.

Targets (issue 16): p50 ≤ 50 ms, p99 ≤ 200 ms at 20 concurrent cards; with the
default interval ≤ 31 edits per card per minute.

    python benchmarks/progress_latency.py --cards 20 --steps 30 --rate-sec 30
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import yaml  # noqa: E402

from benchmarks._stats import percentile  # noqa: E402
from tests.fakes import telegram as ftg  # noqa: E402
from tests.fakes.openclaw import FakeOpenClaw  # noqa: E402

ADMIN_TOKEN = "bench-admin-token-0123456789"
RUN_USER = 4242
CHAT_BASE = 810000


async def pause(seconds: float) -> None:
    """A benchmark pace (the fake sampler's step time), not a test wait."""
    await asyncio.sleep(seconds)


class Edits:
    """Arrival time of each accepted editMessageText, by (chat, text fragment)."""

    def __init__(self) -> None:
        self.log: list[tuple[float, str, str]] = []     # (perf_counter, chat, text)
        self.changed = asyncio.Event()

    def hook(self, rec: Any) -> None:
        if rec.key == "editmessagetext" and rec.status == 200:
            self.log.append((time.perf_counter(), rec.chat_id, rec.params.get("text", "")))
            self.changed.set()

    async def wait(self, chat: str, fragment: str, since: int, timeout: float = 10.0) -> float:
        """The arrival time of the first edit after index ``since`` with ``fragment``."""
        async def _wait() -> float:
            while True:
                for at, c, text in self.log[since:]:
                    if c == chat and fragment in text:
                        return at
                self.changed.clear()
                await self.changed.wait()
        return await asyncio.wait_for(_wait(), timeout)


async def start_daemon(tmp: str, oc: FakeOpenClaw, tg: Any, interval: Optional[float],
                       chats: list[str]) -> subprocess.Popen:
    cfg: dict = {"state_dir": os.path.join(tmp, "state"),
                 "openclaw": {"url": oc.url, "admin_token": ADMIN_TOKEN},
                 "telegram": {"token": ftg.TOKEN, "api_base": tg.url, "poll_timeout_sec": 30,
                              "allowed_users": [str(RUN_USER)]},
                 "admin_users": ["telegram:%d" % RUN_USER],
                 "rate_limit": {"per_minute": 100000, "burst": 1000},
                 "results": {"poll_min_sec": 0.05, "poll_max_sec": 1.0},
                 "log": {"level": "warning"}}
    if interval is not None:
        cfg["progress"] = {"min_interval_sec": interval}
    path = os.path.join(tmp, "connector.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f)
    os.chmod(path, 0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_CONNECTOR")}
    env["PYTHONPATH"] = ROOT
    log = open(os.path.join(tmp, "daemon.log"), "w")
    proc = subprocess.Popen([sys.executable, "-m", "openclaw_connector", "-c", path],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=ROOT, env=env)
    try:
        await tg.next_request("getUpdates", timeout=30)      # the daemon is polling
        for chat in chats:
            tg.queue_message("/run portrait", user_id=RUN_USER, chat_id=int(chat))
        await tg.wait_until(lambda: all(any(t.startswith("[Queued]") for t in tg.texts(c))
                                        for c in chats), timeout=60)
    except BaseException:
        stop(proc)                  # never leave the daemon running behind a failed start
        raise
    return proc


def prompt_of(tg: Any, chat: str) -> str:
    (text,) = [t for t in tg.texts(chat) if t.startswith("[Queued]")]
    return text.split("Prompt: ")[1].split()[0]


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


async def latency(args: argparse.Namespace) -> dict:
    tmp = tempfile.mkdtemp(prefix="oc-bench-card-")
    oc = await FakeOpenClaw(admin_token=ADMIN_TOKEN).start()
    tg = await ftg.FakeTelegram().start()
    edits = Edits()
    tg.answer_hooks.append(edits.hook)
    chats = [str(CHAT_BASE + i) for i in range(args.cards)]
    proc = await start_daemon(tmp, oc, tg, 0.0, chats)
    lat: list[float] = []
    try:
        by_pid = {prompt_of(tg, c): c for c in chats}
        while oc.model.running is not None:
            pid = oc.model.running.prompt_id
            chat = by_pid[pid]
            while not oc.runs.attached_to(pid):
                await pause(0.005)
            since = len(edits.log)
            oc.runs.executing("3")
            await edits.wait(chat, "Running", since)
            for step in range(1, args.steps + 1):
                since = len(edits.log)
                t0 = time.perf_counter()
                oc.runs.progress(step, args.steps, node="3")
                at = await edits.wait(chat, "KSampler %d/%d" % (step, args.steps), since)
                lat.append(1000.0 * (at - t0))
            oc.finish_job(pid)
            await tg.wait_until(lambda: any(t.startswith("[Done]") for t in tg.texts(chat)),
                                timeout=30)
    finally:
        stop(proc)
        await tg.stop()
        await oc.stop()
    return {"cards": args.cards, "events": len(lat), "p50_ms": percentile(lat, 50),
            "p99_ms": percentile(lat, 99), "max_ms": max(lat),
            "mean_ms": statistics.mean(lat), "edits": len(edits.log)}


async def edit_rate(args: argparse.Namespace) -> dict:
    tmp = tempfile.mkdtemp(prefix="oc-bench-card-")
    oc = await FakeOpenClaw(admin_token=ADMIN_TOKEN).start()
    tg = await ftg.FakeTelegram().start()
    edits = Edits()
    tg.answer_hooks.append(edits.hook)
    chat = str(CHAT_BASE)
    proc = await start_daemon(tmp, oc, tg, None, [chat])
    try:
        pid = prompt_of(tg, chat)
        while not oc.runs.attached_to(pid):
            await pause(0.005)
        oc.runs.executing("3")
        start, events = time.perf_counter(), 0
        while time.perf_counter() - start < args.rate_sec:
            events += 1
            oc.runs.progress(events % 1000, 1000, node="3")
            await pause(args.event_ms / 1000.0)
        window = time.perf_counter() - start
        count = sum(1 for at, c, _t in edits.log if c == chat and at >= start)
    finally:
        stop(proc)
        await tg.stop()
        await oc.stop()
    return {"window_s": window, "events": events, "edits": count,
            "edits_per_min": count * 60.0 / window}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cards", type=int, default=20)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rate-sec", type=float, default=30.0)
    parser.add_argument("--event-ms", type=float, default=50.0)
    args = parser.parse_args()
    lat = await latency(args)
    print("latency %s" % {k: round(v, 1) if isinstance(v, float) else v for k, v in lat.items()},
          flush=True)
    rate = await edit_rate(args)
    print("rate %s" % {k: round(v, 1) if isinstance(v, float) else v for k, v in rate.items()},
          flush=True)
    print()
    print("%s, Python %s, %d CPUs, load %.1f" % (platform.platform(), platform.python_version(),
                                                 os.cpu_count() or 0, os.getloadavg()[0]))
    print("| cards | events | p50 ms | p99 ms | max ms | edits/min at 2 s (events every %d ms) |"
          % args.event_ms)
    print("|---:|---:|---:|---:|---:|---:|")
    print("| %d | %d | %.1f | %.1f | %.1f | %.1f |" % (lat["cards"], lat["events"], lat["p50_ms"],
                                                      lat["p99_ms"], lat["max_ms"],
                                                      rate["edits_per_min"]))


if __name__ == "__main__":
    asyncio.run(main())
