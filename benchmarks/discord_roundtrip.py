"""Discord round trip: commands/s, added latency, and heartbeat punctuality under load (issue 5).

N channels (default 50) each send ``/help`` in a closed loop — the next one as
soon as the reply to the previous one arrived — over the gateway of the fake
in tests/fakes/discord.py, which runs in this process with the load driver.
Latency is measured by the fake's clock: from the moment it writes the
MESSAGE_CREATE to the socket to the moment the reply's ``POST
/channels/{id}/messages`` arrives. Two bots, each in its own process:

* ``baseline`` – a bare gateway echo bot (IDENTIFY, heartbeat, one POST per
  MESSAGE_CREATE; no router, no state, no rate-limit bookkeeping);
* ``daemon``   – ``python -m openclaw_connector`` with the Discord channel
  (dedupe in the StateStore, session persisted per dispatch, router,
  permissions, rate-limit buckets, nonce).

Heartbeat lateness: the fake's HELLO asks for a beat every
``--heartbeat-ms``; the largest gap between beats during the measured window,
minus the interval, shows whether command handling ever delayed a beat.

    python benchmarks/discord_roundtrip.py --chats 50 --seconds 10
    python benchmarks/discord_roundtrip.py --pace-ms 1000     # 50 cmd/s, Discord's cap
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
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks._stats import medians, percentile  # noqa: E402
from tests.fakes.discord import GUILD_ID, TOKEN, FakeDiscord, SentMessage  # noqa: E402

FIRST_CHANNEL = 1_200_000_000_000_000_100

ECHO_BOT = r"""
import asyncio, json, sys
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect
api, gw, token = sys.argv[1], sys.argv[2], sys.argv[3]
http = AsyncHTTPClient(force_instance=True, max_clients=64)
async def reply(d):
    body = json.dumps({"content": "ok", "message_reference": {"message_id": d["id"]}})
    await http.fetch(HTTPRequest("%s/channels/%s/messages" % (api, d["channel_id"]),
                                 method="POST", body=body, connect_timeout=10,
                                 request_timeout=30,
                                 headers={"Authorization": "Bot " + token,
                                          "Content-Type": "application/json"}))
async def beat(ws, interval, state):
    while True:
        await asyncio.sleep(interval)
        ws.write_message(json.dumps({"op": 1, "d": state["s"]}))
async def main():
    ws = await websocket_connect(gw + "/?v=10&encoding=json")
    state = {"s": None}
    while True:
        msg = await ws.read_message()
        if msg is None:
            return
        f = json.loads(msg)
        if f.get("s") is not None:
            state["s"] = f["s"]
        if f["op"] == 10:
            asyncio.ensure_future(beat(ws, f["d"]["heartbeat_interval"] / 1000, state))
            ws.write_message(json.dumps({"op": 2, "d": {"token": token, "intents": 37377,
                                                        "properties": {}}}))
        elif f["op"] == 0 and f["t"] == "MESSAGE_CREATE" and not f["d"]["author"].get("bot"):
            asyncio.ensure_future(reply(f["d"]))
asyncio.run(main())
"""


class Load:
    """The channels: each sends ``/help``, waits for the reply, repeats."""

    def __init__(self, fake: FakeDiscord, chats: int) -> None:
        self.fake, self.chats = fake, chats
        self.latencies: list[float] = []
        self.sent_at: dict[str, float] = {}
        self.waiters: dict[str, asyncio.Future] = {}
        self.measuring = False
        fake.send_hooks.append(self.on_send)

    def on_send(self, sent: SentMessage) -> None:
        started = self.sent_at.pop(sent.channel_id, None)
        if started is None:
            return
        if self.measuring:
            self.latencies.append(sent.at - started)
        fut = self.waiters.pop(sent.channel_id, None)
        if fut is not None and not fut.done():
            fut.set_result(None)

    async def _chat(self, channel: str, stop_at: float, pace: float, due: float) -> None:
        loop = asyncio.get_running_loop()
        while loop.time() < stop_at:
            if pace:
                await asyncio.sleep(max(0.0, due - loop.time()))
                due = max(due + pace, loop.time())
            fut = self.waiters[channel] = loop.create_future()
            self.sent_at[channel] = time.monotonic()
            self.fake.message_create("/help", channel_id=channel, guild_id=GUILD_ID)
            await asyncio.wait_for(fut, 30)

    async def run(self, warmup: float, seconds: float,
                  pace: float = 0.0) -> tuple[int, float, list[float]]:
        """Closed loop (``pace`` 0) or one command per channel every ``pace`` seconds."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        stop_at = now + warmup + seconds
        tasks = [asyncio.ensure_future(self._chat(str(FIRST_CHANNEL + i), stop_at, pace,
                                                  now + pace * i / self.chats))
                 for i in range(self.chats)]
        await asyncio.sleep(warmup)
        self.measuring = True
        beats_from = len(self.fake.heartbeats)
        started = time.monotonic()
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - started
        self.measuring = False
        beats = [b.at for b in self.fake.heartbeats[beats_from:]]
        return len(self.latencies), elapsed, [b - a for a, b in zip(beats, beats[1:])]


def _write_config(path: str, state_dir: str, api: str, chats: int) -> None:
    channels = ", ".join("'%d'" % (FIRST_CHANNEL + i) for i in range(chats))
    text = ("state_dir: %s\nlog:\n  level: warning\n"
            "discord:\n  token: '%s'\n  api_base: %s\n  allowed_channels: [%s]\n"
            "rate_limit:\n  per_minute: 1000000\n  burst: 1000000\n"
            % (state_dir, TOKEN, api, channels))
    with open(path, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


async def _measure(name: str, argv: list[str], fake: FakeDiscord, args: Any) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_CONNECTOR_")}
    env["PYTHONPATH"] = ROOT
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    load = None
    try:
        await fake.wait_for(lambda: fake.live is not None and fake.live.session is not None,
                            20, "READY")
        load = Load(fake, args.chats)
        count, elapsed, gaps = await load.run(args.warmup, args.seconds,
                                              args.pace_ms / 1000.0)
        fake.send_hooks.remove(load.on_send)
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if load is None:
            print("%s did not get READY; fake saw %d connections, %d identifies; stderr:\n%s"
                  % (name, len(fake.connections), len(fake.identifies),
                     err.decode()[-3000:]), file=sys.stderr)
    lat = [1000.0 * x for x in load.latencies]
    if not lat:
        raise SystemExit("%s: no replies measured; stderr:\n%s" % (name, err.decode()[-2000:]))
    interval = args.heartbeat_ms
    return {"name": name, "commands": count, "seconds": round(elapsed, 2),
            "commands_per_s": round(count / elapsed, 1),
            "p50_ms": round(statistics.median(lat), 2),
            "p99_ms": round(percentile(lat, 99), 2), "max_ms": round(max(lat), 2),
            "beats": len(gaps) + 1 if gaps else 0,
            "beat_late_max_ms": round(max(1000 * g - interval for g in gaps), 1)
            if gaps else None}


async def main_async(args: Any) -> list[dict]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for variant in args.order.split(","):
            fake = FakeDiscord(heartbeat_interval_ms=args.heartbeat_ms).start()
            try:
                if variant == "baseline":
                    argv = [sys.executable, "-c", ECHO_BOT, fake.api_base, fake.gateway_url,
                            TOKEN]
                else:
                    cfg = os.path.join(tmp, "openclaw-%d.yaml" % len(results))
                    _write_config(cfg, os.path.join(tmp, "state%d" % len(results)),
                                  fake.api_base, args.chats)
                    argv = [sys.executable, "-m", "openclaw_connector", "-c", cfg]
                result = await _measure(variant, argv, fake, args)
            finally:
                fake.stop()
            results.append(result)
            print(json.dumps(result), flush=True)
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--chats", type=int, default=50)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--heartbeat-ms", type=float, default=250.0)
    p.add_argument("--pace-ms", type=float, default=0.0,
                   help="each channel sends one command every PACE ms (0 = closed loop); "
                   "50 channels at 1000 ms is Discord's global 50 requests/s")
    p.add_argument("--order", default="baseline,daemon,baseline,daemon,baseline,daemon",
                   help="variants to run, in order (repeat to see noise)")
    args = p.parse_args()
    print("# python %s, %s, %d CPUs, chats=%d, pace_ms=%g, load average %.2f" % (
        platform.python_version(), platform.platform(), os.cpu_count() or 0, args.chats,
        args.pace_ms, os.getloadavg()[0]))
    results = asyncio.run(main_async(args))
    med = medians(results, ("commands_per_s", "p50_ms", "p99_ms", "beat_late_max_ms"))
    for name, m in med.items():
        print("median %-9s %7.0f cmd/s  p50 %7.2f ms  p99 %7.2f ms  beat late max %6.1f ms "
              "(%d runs)" % (name, m["commands_per_s"], m["p50_ms"], m["p99_ms"],
                             m["beat_late_max_ms"], m["runs"]))
    if "baseline" in med and "daemon" in med:
        b, d = med["baseline"], med["daemon"]
        print("daemon vs baseline: throughput x%.2f, p50 %+.2f ms, p99 %+.2f ms" % (
            d["commands_per_s"] / b["commands_per_s"], d["p50_ms"] - b["p50_ms"],
            d["p99_ms"] - b["p99_ms"]))


if __name__ == "__main__":
    main()
