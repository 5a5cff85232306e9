"""Delivery latency of the JobWatcher (issue 7), and its idle cost.

For each N in ``--sizes`` (default 1, 100, 1000):

1. the OpenClaw/ComfyUI fake and the Telegram fake (tests/fakes) run in this
   process; N prompts are queued in the ComfyUI fake (they stay pending, as on a
   busy machine) and N pending watch rows for them are put in a fresh state
   directory exactly as the JobWatcher stores them, each for its own chat;
2. the daemon runs as a separate process (``python -m openclaw_connector -c``)
   with Telegram on, pointed at both fakes; we wait until its start-up pass
   asked ``/queue`` and its ``/ws`` is connected;
3. **idle**: CPU time (utime+stime from ``/proc/<pid>/stat``) of the daemon
   over ``--idle-sec`` seconds with nothing changing, and the number of
   requests it made meanwhile;
4. **latency, one at a time**: ``--samples`` jobs are finished one after the
   other (``finish_job``: history written and ``status`` broadcast on /ws);
   latency = from that call to the ``sendPhoto`` upload of that job's image
   arriving at the Telegram fake (caption text is sent before the photo);
5. **burst** (N ≥ 100): ``--burst`` more jobs finish at once; per-job latency
   and time until the last image arrived.

Targets (issue 7): p50 ≤ 100 ms and p99 ≤ 300 ms at 100 watches; idle CPU with
1000 watches ≤ 1 % of a core. Linux only (``/proc``).

    python benchmarks/delivery_latency.py --sizes 1,100,1000 --samples 50
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
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import yaml  # noqa: E402

from benchmarks._stats import cpu_seconds  # noqa: E402
from openclaw_connector.jobs.watcher import PENDING, PROMPT, Watch, watch_key  # noqa: E402
from openclaw_connector.messages import ChatRef  # noqa: E402
from openclaw_connector.state import StateStore  # noqa: E402
from tests.fakes import telegram as ftg  # noqa: E402
from tests.fakes.openclaw import FakeOpenClaw  # noqa: E402

ADMIN_TOKEN = "bench-admin-token-0123456789"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64          # ~16 KiB "image"
CHAT_BASE = 700000
RUN_USER = 4242                   # the chat user whose /run makes the N=1 samples


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[index]


async def pause(seconds: float) -> None:
    """A benchmark interval (measurement window or settling), not a test wait."""
    await asyncio.sleep(seconds)


class Arrivals:
    """Timestamps of sendPhoto uploads per chat id, with waiting."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.changed = asyncio.Event()

    def hook(self, rec: Any) -> None:
        if rec.key == "sendphoto" and rec.status == 200:
            self.at.setdefault(rec.chat_id, time.perf_counter())
            self.changed.set()

    async def wait(self, chats: list[str], timeout: float = 30.0) -> None:
        async def _wait() -> None:
            while not all(c in self.at for c in chats):
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(_wait(), timeout)


async def run_size(n: int, args: argparse.Namespace) -> dict:
    tmp = tempfile.mkdtemp(prefix="oc-bench-")
    oc = await FakeOpenClaw(admin_token=ADMIN_TOKEN).start()
    tg = await ftg.FakeTelegram().start()
    arrivals = Arrivals()
    tg.answer_hooks.append(arrivals.hook)
    oc.register_view("bench.png", PNG)
    ids = [oc.submit("portrait") for _ in range(n)]
    chats = {pid: str(CHAT_BASE + i) for i, pid in enumerate(ids)}
    state = StateStore(os.path.join(tmp, "state"))
    state.open()
    now = time.time()
    for pid, chat_id in chats.items():
        chat = ChatRef("telegram", chat_id, user_id=chat_id)
        state.put_watch(Watch(watch_key(PROMPT, pid, chat), PROMPT, pid, "portrait", chat,
                              now, state=PENDING, updated=now))
    state.close()
    cfg_path = os.path.join(tmp, "connector.yaml")
    with open(cfg_path, "w") as f:
        yaml.safe_dump({"state_dir": os.path.join(tmp, "state"),
                        "openclaw": {"url": oc.url, "admin_token": ADMIN_TOKEN},
                        "telegram": {"token": ftg.TOKEN, "api_base": tg.url,
                                     "poll_timeout_sec": 30,
                                     "allowed_users": [str(RUN_USER)]},
                        "admin_users": ["telegram:%d" % RUN_USER],
                        "rate_limit": {"per_minute": 100000, "burst": 1000},
                        "log": {"level": "warning"}}, f)
    os.chmod(cfg_path, 0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_CONNECTOR")}
    env["PYTHONPATH"] = ROOT
    log = open(os.path.join(tmp, "daemon.log"), "w")
    proc = subprocess.Popen([sys.executable, "-m", "openclaw_connector", "-c", cfg_path],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=ROOT,
                            env=env)
    result: dict = {"watches": n}
    try:
        await oc.wait_request("/api/queue", timeout=30)
        while not oc.ws_clients:
            await pause(0.01)
        await pause(args.settle_sec)

        def requests() -> int:   # everything but Telegram's own long poll
            return len(oc.requests) + len(tg.requests) - tg.count("getUpdates")

        before = requests()
        c0, w0 = cpu_seconds(proc.pid), time.monotonic()
        await pause(args.idle_sec)
        c1, w1 = cpu_seconds(proc.pid), time.monotonic()
        result["idle_cpu_pct"] = 100.0 * (c1 - c0) / (w1 - w0)
        result["idle_requests"] = requests() - before

        lat: list[float] = []
        sample = ids[:min(args.samples, n)]
        if n == 1:
            # One watch at a time, many times: each sample is a fresh /run from chat.
            sample = []
            chat_id = str(RUN_USER)

            def queued() -> list[str]:
                return [t.split("Prompt: ")[1].strip() for t in tg.texts(chat_id)
                        if t.startswith("[Queued]")]
            for i in range(args.samples):
                tg.queue_message("/run portrait", user_id=RUN_USER)
                await tg.wait_until(lambda: len(queued()) > i, timeout=30)
                pid = queued()[i]
                arrivals.at.pop(chat_id, None)
                started = time.perf_counter()
                oc.finish_job(pid, images=["bench.png"])
                await arrivals.wait([chat_id])
                lat.append(1000.0 * (arrivals.at[chat_id] - started))
        for pid in sample:
            started = time.perf_counter()
            oc.finish_job(pid, images=["bench.png"])
            await arrivals.wait([chats[pid]])
            lat.append(1000.0 * (arrivals.at[chats[pid]] - started))
        result.update(samples=len(lat), p50_ms=pct(lat, 50), p99_ms=pct(lat, 99),
                      max_ms=max(lat), mean_ms=statistics.mean(lat))

        burst = ids[len(sample):len(sample) + args.burst] if n >= 100 else []
        if burst:
            starts = {}
            t0 = time.perf_counter()
            for pid in burst:
                starts[pid] = time.perf_counter()
                oc.finish_job(pid, images=["bench.png"])
            await arrivals.wait([chats[p] for p in burst], timeout=120)
            blat = [1000.0 * (arrivals.at[chats[p]] - starts[p]) for p in burst]
            result.update(burst=len(burst), burst_p50_ms=pct(blat, 50),
                          burst_p99_ms=pct(blat, 99),
                          burst_last_ms=1000.0 * (max(arrivals.at[chats[p]] for p in burst)
                                                  - t0))
        result["duplicate_photos"] = tg.count("sendPhoto") - len(arrivals.at) - \
            (max(0, len(lat) - 1) if n == 1 else 0)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        await tg.stop()
        await oc.stop()
    return result


def render(results: list[dict]) -> str:
    lines = ["| watches | idle CPU % | idle requests | samples | p50 ms | p99 ms | max ms "
             "| burst | burst p50 ms | burst p99 ms | burst last ms |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append("| %d | %.2f | %d | %d | %.1f | %.1f | %.1f | %s | %s | %s | %s |" % (
            r["watches"], r["idle_cpu_pct"], r["idle_requests"], r["samples"], r["p50_ms"],
            r["p99_ms"], r["max_ms"], r.get("burst", "-"),
            "%.1f" % r["burst_p50_ms"] if "burst" in r else "-",
            "%.1f" % r["burst_p99_ms"] if "burst" in r else "-",
            "%.1f" % r["burst_last_ms"] if "burst" in r else "-"))
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1,100,1000")
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--idle-sec", type=float, default=10.0)
    parser.add_argument("--settle-sec", type=float, default=1.0)
    args = parser.parse_args()
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        r = await run_size(n, args)
        print("N=%d %s" % (n, {k: round(v, 2) if isinstance(v, float) else v
                               for k, v in r.items()}), flush=True)
        if r["duplicate_photos"]:
            print("  WARNING: %d duplicate deliveries" % r["duplicate_photos"])
        results.append(r)
    print()
    print("%s, Python %s, %d CPUs" % (platform.platform(), platform.python_version(),
                                      os.cpu_count() or 0))
    print(render(results))


if __name__ == "__main__":
    asyncio.run(main())
