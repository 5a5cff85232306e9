"""Soak: steady mixed traffic on all four platforms with 1 % injected faults (issue 9).

The real daemon runs as a subprocess (``python -m openclaw_connector``)
against the loopback fakes of tests/fakes/, driven through the e2e harness
(tests/e2e/world.py): Telegram updates, Discord MESSAGE_CREATE on the live
gateway, signed LINE and WhatsApp webhook POSTs. Commands are ``/help``,
``/status`` and ``/run portrait`` (the fake ComfyUI finishes each job with
one image, so every run also produces a result delivery). Each command goes
to its own chat, so every reply is attributed to exactly one command.

Faults: each command, with probability ``--fault-rate`` (default 1 %),
schedules one failure on its platform's next send (Telegram 502, Discord
502, LINE 500, WhatsApp 500) or on ComfyUI's next ``/system_stats`` (500).
One failure is within every retry budget, so nothing may be lost.

Reported at the end: commands sent/handled, replies and results delivered,
duplicates and lost (both must be 0), daemon RSS and open fds after warm-up
and at the end (RSS growth must stay ≤ 10 %), and reply latency p50/p99
(from the fake platform receiving the user's message to the reply reaching
the fake platform).

    python benchmarks/soak.py                       # 10 minutes, 5 commands/s
    python benchmarks/soak.py --minutes 1 --rate 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sys
import tempfile
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.e2e.world import PLATFORMS, World, tick  # noqa: E402
from tests.fakes.discord import Response  # noqa: E402
from tests.fakes.telegram import bad_gateway  # noqa: E402

PREFIX = {"/help": "Commands:", "/status": "ComfyUI", "/run portrait": "[Queued]"}
MIX = ["/help"] * 5 + ["/status"] * 3 + ["/run portrait"] * 2


class Stamped(list):
    """A fake's record list that stamps each appended dict with its arrival time."""

    def append(self, item: Any) -> None:
        if isinstance(item, dict):
            item["_at"] = time.monotonic()
        super().append(item)


def proc_stats(pid: int) -> tuple[float, int]:
    """(RSS in MiB, open file descriptors) of ``pid``."""
    rss = 0.0
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024.0
    return rss, len(os.listdir("/proc/%d/fd" % pid))


def inject(w: World, rng: random.Random, item_platform: str, chat: str) -> str:
    """Schedule one failure; returns what was injected."""
    kind = rng.choice(["platform", "platform", "platform", "comfyui"])
    if kind == "comfyui":
        w.openclaw.fail_next(1, 500, path="/system_stats")
        return "comfyui:500"
    if item_platform == "telegram":
        w.telegram.script("sendMessage", bad_gateway())
    elif item_platform == "discord":
        w.discord.script_send(chat, Response(502, {"message": "bad gateway"}))
    elif item_platform == "line":
        w.line.fail("push", 500)
    else:
        w.whatsapp.fail(500, 1, "internal error")
    return "%s:5xx" % item_platform


def index_answers(w: World) -> dict:
    """(platform, chat) → [(text, arrival monotonic)] for everything the fakes accepted."""
    out: dict = {}
    for r in w.telegram.sent():
        text = r.params.get("text") or r.params.get("caption")
        if text:
            out.setdefault(("telegram", r.chat_id), []).append((str(text),
                                                                r.answered_at or r.at))
    for s in w.discord.sends:
        if not s.duplicate and s.status in (None, 200) and s.content:
            out.setdefault(("discord", s.channel_id), []).append((s.content, s.at))
    for d in w.line.delivered:
        for m in d["messages"]:
            if m["type"] == "text":
                out.setdefault(("line", d["to"]), []).append((m["text"], d["_at"]))
    for b in w.whatsapp.sent:
        ref = (b.get("context") or {}).get("message_id")
        if b.get("type") == "text" and ref:
            out.setdefault(("whatsapp", ref), []).append((b["text"]["body"], b["_at"]))
    return out


def tally(w: World) -> dict:
    answers = index_answers(w)
    res: dict = {"sent": len(w.sent), "handled": 0, "replies": 0, "results": 0, "lost": [],
                 "dup": [], "results_lost": [], "results_dup": [], "latency": []}
    for item in w.sent:
        got = answers.get((item.platform, item.chat), [])
        mine = [(t, at) for t, at in got if t.startswith(PREFIX[item.text])]
        if mine:
            res["handled"] += 1
            res["latency"].append(mine[0][1] - item.at)
        res["replies"] += len(mine)
        if not mine:
            res["lost"].append("%s %s %s" % (item.platform, item.chat, item.text))
        elif len(mine) > 1:
            res["dup"].append("%s %s %s ×%d" % (item.platform, item.chat, item.text,
                                                len(mine)))
        if item.text == "/run portrait":
            done = [t for t, _at in got if t.startswith("[Done]")]
            res["results"] += len(done)
            if mine and not done:
                res["results_lost"].append("%s %s" % (item.platform, item.chat))
            elif len(done) > 1:
                res["results_dup"].append("%s %s ×%d" % (item.platform, item.chat, len(done)))
    return res


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def soak(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    tmp = tempfile.mkdtemp(prefix="openclaw-soak-")
    async with World(tmp) as w:
        w.dump_logs = False
        w.line.delivered = Stamped()
        w.whatsapp.sent = Stamped()
        w.start_worker()
        run = await w.start_daemon()
        ready_rss, ready_fds = proc_stats(run.pid)
        faults: list[str] = []
        pending: set = set()
        started = time.monotonic()
        end = started + args.minutes * 60
        warm = started + min(30.0, args.minutes * 6)
        warm_stats = None
        samples: list[tuple[float, float]] = []        # (minutes, RSS MiB) every 30 s
        next_sample = started
        interval = 1.0 / args.rate
        next_at = started
        while time.monotonic() < end:
            if warm_stats is None and time.monotonic() >= warm:
                warm_stats = proc_stats(run.pid)
            if time.monotonic() >= next_sample:
                samples.append(((time.monotonic() - started) / 60, proc_stats(run.pid)[0]))
                next_sample += 30.0
            platform_name = rng.choice(PLATFORMS)
            text = rng.choice(MIX)
            n = w._next()
            if rng.random() < args.fault_rate:
                faults.append(inject(w, rng, platform_name, w.chat_for(platform_name, n)))
            task = asyncio.ensure_future(w.send(platform_name, text, n=n))
            pending.add(task)
            task.add_done_callback(pending.discard)
            next_at += interval
            await tick(max(0.0, next_at - time.monotonic()))
        if pending:
            await asyncio.wait(pending, timeout=30)
        sent_done = time.monotonic()
        while time.monotonic() - sent_done < 60:
            t = tally(w)
            if not t["lost"] and not t["results_lost"]:
                break
            await tick(0.5)
        end_rss, end_fds = proc_stats(run.pid)
        code = await run.stop()
        t = tally(w)
        warm_rss, warm_fds = warm_stats or (ready_rss, ready_fds)
        growth = 100.0 * (end_rss - warm_rss) / warm_rss
        lat = [1000 * x for x in t["latency"]]
        print("soak: %.1f min at %.1f commands/s, seed %d, python %s, %s" % (
            (sent_done - started) / 60, args.rate, args.seed, platform.python_version(),
            platform.platform()))
        print("commands sent %d, handled %d; replies %d; results delivered %d" % (
            t["sent"], t["handled"], t["replies"], t["results"]))
        print("faults injected %d (%s)" % (len(faults), ", ".join(sorted(set(faults)))))
        print("duplicates %d, lost %d, results duplicated %d, results lost %d" % (
            len(t["dup"]), len(t["lost"]), len(t["results_dup"]), len(t["results_lost"])))
        for name in ("dup", "lost", "results_dup", "results_lost"):
            for line in t[name][:10]:
                print("  %s: %s" % (name, line))
        print("RSS MiB: ready %.1f, after warm-up %.1f, end %.1f (growth %+.1f %%)" % (
            ready_rss, warm_rss, end_rss, growth))
        print("RSS MiB every 30 s: %s" % " ".join("%.1f" % r for _m, r in samples))
        print("open fds: ready %d, after warm-up %d, end %d" % (ready_fds, warm_fds, end_fds))
        print("reply latency ms: p50 %.1f, p99 %.1f, max %.1f" % (
            pct(lat, 0.5), pct(lat, 0.99), max(lat) if lat else float("nan")))
        print("daemon exit %d; warning/error lines logged: %d" % (
            code, sum(" WARNING " in x or " ERROR " in x for x in run.lines)))
        ok = (not t["dup"] and not t["lost"] and not t["results_dup"] and
              not t["results_lost"] and growth <= 10.0 and code == 0)
        print("RESULT: %s" % ("PASS" if ok else "FAIL"))
        return 0 if ok else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--rate", type=float, default=5.0, help="commands per second, total")
    p.add_argument("--fault-rate", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=int(time.time()))
    return asyncio.run(soak(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
