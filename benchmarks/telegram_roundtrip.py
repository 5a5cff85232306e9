"""Telegram round trip: commands/s and added latency of the daemon (issue 4).

N chats (default 50) each send a command in a loop — the next one as soon as
the reply to the previous one arrived — against the fake Bot API of
tests/fakes/telegram.py, which runs in this process with the load driver.
Latency is measured entirely by the fake's clock: from the moment it hands
the update out in a getUpdates answer to the moment the reply's sendMessage
arrives. Two bots are measured in the same run, each in its own process:

* ``baseline`` – a bare echo bot (getUpdates, then one sendMessage per update,
  no router, no state): the cost of the fake, HTTP and the process hop;
* ``baseline_oc`` – the same echo bot, but before each reply it makes the
  three OpenClaw reads ``/status`` makes (health, queue, system_stats) against
  the same fake OpenClaw: the unavoidable I/O of the command;
* ``daemon``   – ``python -m openclaw_connector`` with the Telegram channel
  (router, permissions, rate-limit buckets, StateStore writes per update);
* ``before``   – the same daemon from another checkout (``--before PATH``,
  e.g. a ``git worktree`` of main), for a before/after in one run.

Each row also reports the TCP connections the fake Bot API accepted during
the measured window per 100 replies (``conns_per_100``; issue 21's target
for the daemon: at most 2, i.e. kept-alive connections) and the bot's CPU
per reply.

The command is ``/status`` against the fake OpenClaw when the command set
(``openclaw_connector/commands/handlers.py``) exists, else ``/help``.
"Added latency" is daemon minus baseline_oc (baseline for /help) at the same
percentile, medians over the repeated runs. ``--pace-ms`` switches from a
closed loop (capacity) to one command per chat every PACE ms (latency at a
load the machine can carry).

    python benchmarks/telegram_roundtrip.py --chats 50 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks._stats import cpu_seconds, medians, percentile  # noqa: E402
from tests.fakes.telegram import TOKEN, FakeTelegram, Recorded  # noqa: E402

TARGET_P99_ADDED_MS = 20.0
FIRST_USER = 10_000

ECHO_BOT = r"""
import asyncio, json, sys
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
base = sys.argv[1]
http = AsyncHTTPClient(force_instance=True, max_clients=64)
def req(method, params, timeout):
    return HTTPRequest("%s/%s" % (base, method), method="POST", body=json.dumps(params),
                       headers={"Content-Type": "application/json"},
                       connect_timeout=10, request_timeout=timeout)
oc = sys.argv[2] if len(sys.argv) > 2 else ""
def get(path):
    return http.fetch(HTTPRequest(oc + path, connect_timeout=10, request_timeout=30))
async def reply(update):
    m = update["message"]
    if oc:   # the same three reads /status makes
        await asyncio.gather(get("/openclaw/health"), get("/api/queue"),
                             get("/api/system_stats"))
    await http.fetch(req("sendMessage", {"chat_id": m["chat"]["id"], "text": "ok"}, 30))
async def main():
    offset = 0
    while True:
        r = await http.fetch(req("getUpdates", {"offset": offset, "timeout": 30}, 40))
        for u in json.loads(r.body)["result"]:
            offset = max(offset, u["update_id"] + 1)
            asyncio.ensure_future(reply(u))
asyncio.run(main())
"""


class Load:
    """The chats: each queues a command, waits for its reply, repeats."""

    def __init__(self, tg: FakeTelegram, chats: int, command: str) -> None:
        self.tg, self.chats, self.command = tg, chats, command
        self.latencies: list[float] = []
        self.outstanding: dict[str, int] = {}
        self.waiters: dict[str, asyncio.Future] = {}
        self.measuring = False
        tg.answer_hooks.append(self._on_answer)

    def _on_answer(self, record: Recorded) -> None:
        if record.key != "sendmessage" or record.status != 200:
            return
        chat = record.chat_id
        uid = self.outstanding.pop(chat, None)
        if uid is None:
            return
        if self.measuring:
            self.latencies.append(record.at - self.tg.handed_out[uid])
        fut = self.waiters.pop(chat, None)
        if fut is not None and not fut.done():
            fut.set_result(None)

    async def _chat(self, user: int, stop_at: float, pace: float, start: float) -> int:
        loop = asyncio.get_running_loop()
        done = 0
        due = start
        while loop.time() < stop_at:
            if pace:
                await asyncio.sleep(max(0.0, due - loop.time()))
                due = max(due + pace, loop.time())
            fut = self.waiters[str(user)] = loop.create_future()
            self.outstanding[str(user)] = self.tg.queue_message(self.command, user_id=user)
            await asyncio.wait_for(fut, 30)
            done += 1
        return done

    async def run(self, warmup: float, seconds: float, pace: float = 0.0) -> tuple[int, float]:
        """Closed loop (``pace`` 0: next command as soon as the reply came) or one
        command per chat every ``pace`` seconds, chats spread evenly over the period."""
        loop = asyncio.get_running_loop()
        users = range(FIRST_USER, FIRST_USER + self.chats)
        now = loop.time()
        stop_at = now + warmup + seconds
        tasks = [asyncio.ensure_future(self._chat(u, stop_at, pace,
                                                  now + pace * i / self.chats))
                 for i, u in enumerate(users)]
        await asyncio.sleep(warmup)
        self.measuring = True
        started = time.monotonic()
        count_before = len(self.latencies)
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - started
        self.measuring = False
        return len(self.latencies) - count_before, elapsed


def _write_config(path: str, state_dir: str, tg_url: str, oc_url: Optional[str],
                  chats: int) -> None:
    users = ", ".join(str(FIRST_USER + i) for i in range(chats))
    text = ("state_dir: %s\nlog:\n  level: warning\n"
            "telegram:\n  token: '%s'\n  api_base: %s\n  poll_timeout_sec: 30\n"
            "  allowed_users: [%s]\n"
            "rate_limit:\n  per_minute: 1000000\n  burst: 1000000\n"
            % (state_dir, TOKEN, tg_url, users))
    if oc_url:
        text += "openclaw:\n  url: %s\n" % oc_url
    with open(path, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


async def _measure(name: str, argv: list[str], tg: FakeTelegram, args: Any,
                   command: str, root: str = ROOT) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_CONNECTOR_")}
    env["PYTHONPATH"] = root
    polls_before = tg.count("getUpdates")
    proc = subprocess.Popen(argv, cwd=root, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        await tg.wait_until(lambda: tg.count("getUpdates") > polls_before, 20)
        load = Load(tg, args.chats, command)
        cpu: list = []
        conns: list = []

        def window_start() -> None:
            cpu.append(cpu_seconds(proc.pid))
            conns.append(tg.connections)

        asyncio.get_running_loop().call_later(args.warmup, window_start)
        count, elapsed = await load.run(args.warmup, args.seconds, args.pace_ms / 1000.0)
        cpu.append(cpu_seconds(proc.pid))
        conns.append(tg.connections)
        tg.answer_hooks.remove(load._on_answer)
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    lat = [1000.0 * x for x in load.latencies]
    if not lat:
        raise SystemExit("%s: no replies measured; stderr:\n%s" % (name, err.decode()[-2000:]))
    return {"name": name, "commands": count, "seconds": round(elapsed, 2),
            "commands_per_s": round(count / elapsed, 1),
            "p50_ms": round(statistics.median(lat), 2),
            "p99_ms": round(percentile(lat, 99), 2),
            "max_ms": round(max(lat), 2),
            "bot_cpu_ms_per_cmd": round(1000.0 * (cpu[-1] - cpu[0]) / max(1, count), 3),
            "conns_per_100": round(100.0 * (conns[-1] - conns[0]) / max(1, count), 2),
            "conns_total": tg.connections}


async def main_async(args: Any) -> list[dict]:
    try:
        import openclaw_connector.commands.handlers  # noqa: F401
        from tests.fakes.openclaw import FakeOpenClaw
        command = "/status"
    except ImportError:
        FakeOpenClaw, command = None, "/help"
    command = args.command or command
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        oc = FakeOpenClaw() if FakeOpenClaw is not None else None
        if oc is not None:
            await oc.start()
        try:
            for variant in args.order.split(","):
                async with FakeTelegram() as tg:
                    root = args.before if variant == "before" else ROOT
                    if variant.startswith("baseline"):
                        argv = [sys.executable, "-c", ECHO_BOT,
                                "%s/bot%s" % (tg.url, TOKEN)]
                        if variant == "baseline_oc" and oc is not None:
                            argv.append(oc.url)
                    else:
                        cfg = os.path.join(tmp, "openclaw-%s.yaml" % len(results))
                        _write_config(cfg, os.path.join(tmp, "state%d" % len(results)),
                                      tg.url, oc.url if oc is not None else None,
                                      args.chats)
                        argv = [sys.executable, "-m", "openclaw_connector", "-c", cfg]
                        if args.profile:
                            argv[1:1] = ["-m", "cProfile", "-o", args.profile]
                    result = await _measure(variant, argv, tg, args, command, root)
                    result["command"] = command
                    results.append(result)
                    print(json.dumps(result), flush=True)
        finally:
            if oc is not None:
                await oc.stop()
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--chats", type=int, default=50)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--command", default="", help="override the command (default: /status "
                   "when the command set exists, else /help)")
    p.add_argument("--pace-ms", type=float, default=0.0,
                   help="each chat sends one command every PACE ms (0 = closed loop)")
    p.add_argument("--profile", metavar="PATH", help="cProfile the daemon into PATH")
    p.add_argument("--before", metavar="PATH", default=ROOT,
                   help="checkout whose daemon the 'before' variant runs")
    p.add_argument("--order", default="baseline,baseline_oc,daemon,baseline,baseline_oc,daemon",
                   help="variants to run, in order (repeat to see noise)")
    args = p.parse_args()
    print("# python %s, %s, %d CPUs, chats=%d" % (
        platform.python_version(), platform.platform(), os.cpu_count() or 0, args.chats))
    results = asyncio.run(main_async(args))
    med = medians(results, ("commands_per_s", "p50_ms", "p99_ms", "bot_cpu_ms_per_cmd",
                            "conns_per_100"))
    for name, m in med.items():
        print("median %-11s %7.0f cmd/s  p50 %7.2f ms  p99 %7.2f ms  bot CPU %.2f ms/cmd "
              "conns/100 replies %.2f (%d runs)" % (
                  name, m["commands_per_s"], m["p50_ms"], m["p99_ms"],
                  m["bot_cpu_ms_per_cmd"], m["conns_per_100"], m["runs"]))
    base = med.get("baseline_oc") or med.get("baseline")
    if base and "daemon" in med:
        d = med["daemon"]
        added = d["p99_ms"] - base["p99_ms"]
        print("added by the daemon vs %s: p50 %+.2f ms, p99 %+.2f ms (target <= %.0f ms: %s)"
              % ("baseline_oc" if "baseline_oc" in med else "baseline",
                 d["p50_ms"] - base["p50_ms"], added, TARGET_P99_ADDED_MS,
                 "met" if added <= TARGET_P99_ADDED_MS else "MISSED"))

if __name__ == "__main__":
    main()
