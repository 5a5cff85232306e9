"""Webhook ingest: how fast the daemon acknowledges signed LINE webhooks (issue 6).

Compares, in one run on the same machine:

* ``bare``   – a bare Tornado handler that answers every POST with 200;
* ``daemon`` – ``python -m openclaw_connector`` with LINE on, its API pointed
  at a LINE fake (a separate process) answering every reply after
  ``--api-delay`` (50 ms: a realistic round trip).

``--fake lean`` (the default) runs that fake as benchmarks/_line_api.py, a bare
asyncio server costing ~35 µs of CPU per reply, so the shared machine
measures the daemon rather than the fake; ``--fake tornado`` runs the
behavioural fake of tests/fakes/line.py (~0.5 ms of CPU per reply).

Load comes from a separate process. *Saturation*: ``wrk`` (Debian package)
with a Lua script that sends, per request, a distinct pre-signed body (one
event, a fresh ``webhookEventId`` and reply token, text ``/help``) at
concurrency 1, 10 and 50 for ``--duration`` seconds; requests/s and p50/p99
acknowledgement latency come from wrk. *Paced*: a Python generator process
with 50 senders on keep-alive connections, each sending one request every
``--paced-interval`` seconds (a comma list: one paced load per value), so the
offered rate is fixed and latency is
not just Little's law of a saturated queue. For the daemon the run then
waits until the fake has received one reply per acknowledged request
("replies delivered"). Medians of ``--runs`` runs; ratios are daemon/bare.

    python benchmarks/webhook_ingest.py --runs 3 --duration 5

``BENCH_PROFILE=file`` runs the daemon under cProfile; ``BENCH_WRAP="cmd args"``
puts a wrapper (``env X=1``, a profiler) in front of the daemon's command line.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks._stats import cpu_seconds  # noqa: E402

SECRET = "bench-line-channel-secret-0123"
TOKEN = "bench-line-access-token-abcdefgh"
USER = "U" + "be" * 16
# The Outbox sends to one chat in order, one call at a time: with every reply to one
# user, delivery would run at 1/api-delay per second. Bodies cycle through USERS.
USERS = ["U%032x" % (0xbe000 + k) for k in range(512)]
PATH = "/line/webhook"
BODIES_PER_SEC = 25000          # distinct bodies generated per second of wrk run

WRK_LUA = r"""
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
local sigs, bodies, idx, wrapped = {}, {}, 0, 0
function init(args)
  local file, nthreads, n = args[1], tonumber(args[2]), 0
  for line in io.lines(file) do
    if n % nthreads == tid then
      local tab = line:find("\t", 1, true)
      sigs[#sigs + 1] = line:sub(1, tab - 1)
      bodies[#bodies + 1] = line:sub(tab + 1)
    end
    n = n + 1
  end
end
function request()
  idx = idx + 1
  if idx > #bodies then idx = 1; wrapped = wrapped + 1 end
  return wrk.format("POST", nil, {["Content-Type"] = "application/json",
                                  ["X-Line-Signature"] = sigs[idx]}, bodies[idx])
end
function done(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"non2xx":%d,"errors":%d,' ..
    '"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


# --------------------------------------------------------------------------- bodies

def make_bodies(path: str, count: int, tag: str) -> None:
    """``count`` lines of ``signature<TAB>body``, each a distinct /help event."""
    now = int(time.time() * 1000)
    key = SECRET.encode()
    with open(path, "w") as fh:
        for i in range(count):
            event = {"type": "message", "mode": "active", "timestamp": now,
                     "source": {"type": "user", "userId": USERS[i % len(USERS)]},
                     "webhookEventId": "01B%s%08d" % (tag, i),
                     "deliveryContext": {"isRedelivery": False},
                     "replyToken": "%s%08d%s" % (tag, i, secrets.token_hex(6)),
                     "message": {"id": "%s%d" % (tag, i), "type": "text", "text": "/help",
                                 "quoteToken": "q"}}
            body = json.dumps({"destination": USER, "events": [event]},
                              separators=(",", ":")).encode()
            sig = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
            fh.write("%s\t%s\n" % (sig, body.decode()))


# --------------------------------------------------------------------------- servers

def serve_fake_line(delay: float, kind: str) -> None:
    """Child process: the LINE fake, accepting any reply token, printing its port."""
    if kind == "lean":
        from benchmarks._line_api import main as serve_lean
        return serve_lean(delay, TOKEN)
    import tornado.ioloop
    from tests.fakes.line import FakeLine

    async def main() -> None:
        fake = FakeLine(access_token=TOKEN, delay=delay)
        fake.accept_any_token = True
        await fake.start()
        print("PORT %d" % fake.port, flush=True)
        await asyncio.Event().wait()
    tornado.ioloop.IOLoop.current().run_sync(main)


def serve_bare() -> None:
    """Child process: a bare Tornado handler that answers 200."""
    import tornado.httpserver
    import tornado.ioloop
    import tornado.netutil
    import tornado.web

    class Bare(tornado.web.RequestHandler):
        def post(self) -> None:
            self.finish(b"")

    async def main() -> None:
        sockets = tornado.netutil.bind_sockets(0, address="127.0.0.1")
        app = tornado.web.Application([(PATH, Bare)], log_function=lambda h: None)
        tornado.httpserver.HTTPServer(app).add_sockets(sockets)
        print("PORT %d" % sockets[0].getsockname()[1], flush=True)
        await asyncio.Event().wait()
    tornado.ioloop.IOLoop.current().run_sync(main)


def pinned(cpus: Optional[set]) -> Any:
    """A preexec_fn that pins the child to ``cpus`` (None: no pinning)."""
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def split_cpus() -> tuple[Optional[set], Optional[set]]:
    """(server under test, load generator + fake): CPU 0 vs the rest, if there are two."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return {cpus[0]}, set(cpus[1:])


def spawn_child(mode: list[str], cpus: Optional[set] = None) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), *mode],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            preexec_fn=pinned(cpus))
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError("child %s did not start: %r" % (mode, line))
    return proc, int(line.split()[1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_daemon(tmp: str, api_port: int,
                 cpus: Optional[set] = None) -> tuple[subprocess.Popen, int]:
    port = free_port()
    cfg = os.path.join(tmp, "bench.yaml")
    with open(cfg, "w") as fh:
        json.dump({"state_dir": os.path.join(tmp, "state"),
                   "openclaw": {"url": "http://127.0.0.1:%d" % free_port()},
                   "log": {"file": os.path.join(tmp, "daemon.log"), "level": "info"},
                   "rate_limit": {"per_minute": 1e9, "burst": 1000000000},
                   "line": {"channel_secret": SECRET, "channel_access_token": TOKEN,
                            "api_base": "http://127.0.0.1:%d" % api_port,
                            "allowed_users": USERS, "port": port}}, fh)
    os.chmod(cfg, 0o600)
    profile = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]] \
        if os.environ.get("BENCH_PROFILE") else []
    wrap = os.environ.get("BENCH_WRAP", "").split()
    proc = subprocess.Popen([*wrap, sys.executable, *profile, "-m", "openclaw_connector", "-c", cfg],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=pinned(cpus))
    if not wait_ready(tmp, port, api_port, time.time() + 20):
        proc.kill()
        raise RuntimeError("daemon did not become ready; see %s" % tmp)
    return proc, port


def wait_ready(tmp: str, port: int, api_port: int, deadline: float) -> bool:
    """Real readiness: one signed ``/help`` answered 200 and its reply at the fake.

    The webhook port's bare ``/healthz`` answers 200 as soon as the socket is
    bound, before the channel and the router run; timing from there would put
    the daemon's start-up into the first measured run.
    """
    warm = os.path.join(tmp, "warm.txt")
    make_bodies(warm, 1, "WARM")
    with open(warm) as fh:
        sig, body = fh.readline().rstrip("\n").split("\t", 1)
    before = delivered(api_port)
    while time.time() < deadline:
        request = urllib.request.Request(
            "http://127.0.0.1:%d%s" % (port, PATH), data=body.encode(), method="POST",
            headers={"Content-Type": "application/json", "X-Line-Signature": sig})
        try:
            with urllib.request.urlopen(request, timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.05)
    while time.time() < deadline:
        if delivered(api_port) > before:
            return True
        time.sleep(0.02)
    return False


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


def delivered(api_port: int) -> int:
    with urllib.request.urlopen("http://127.0.0.1:%d/_fake/stats" % api_port, timeout=5) as r:
        return json.load(r)["delivered"]


# --------------------------------------------------------------------------- load

def run_wrk(url: str, concurrency: int, duration: float, bodies: str, script: str,
            cpus: Optional[set] = None) -> dict:
    threads = min(2, concurrency)
    out = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % concurrency,
                          "-d%ds" % int(duration), "--timeout", "10s", "-s", script, url,
                          "--", bodies, str(threads)],
                         capture_output=True, text=True, check=True, preexec_fn=pinned(cpus))
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")][0]
    res = json.loads(line[7:])
    res["rps"] = res["requests"] / (res["duration_us"] / 1e6)
    res["ok"] = res["requests"] - res["non2xx"]
    return res


async def _paced(url: str, bodies_path: str, senders: int, interval: float,
                 duration: float) -> dict:
    host, port = url.split("//")[1].split("/")[0].split(":")
    lines = open(bodies_path).read().splitlines()
    latencies: list[float] = []
    non2xx = 0
    cursor = iter(range(len(lines)))

    async def sender(k: int) -> None:
        nonlocal non2xx
        reader, writer = await asyncio.open_connection(host, int(port))
        loop = asyncio.get_running_loop()
        start = loop.time() + interval * k / senders
        end = loop.time() + duration
        n = 0
        while True:
            due = start + n * interval
            if due > end:
                break
            await asyncio.sleep(max(0.0, due - loop.time()))
            sig, body = lines[next(cursor)].split("\t", 1)
            raw = body.encode()
            writer.write(b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                         b"X-Line-Signature: %s\r\nContent-Length: %d\r\n\r\n%s" % (
                             PATH.encode(), host.encode(), sig.encode(), len(raw), raw))
            sent = time.perf_counter()
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for h in head.split(b"\r\n"):
                if h.lower().startswith(b"content-length:"):
                    length = int(h.split(b":")[1])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - sent)
            if not head.startswith(b"HTTP/1.1 200"):
                non2xx += 1
            n += 1
        writer.close()

    await asyncio.gather(*(sender(k) for k in range(senders)))
    latencies.sort()
    return {"requests": len(latencies), "non2xx": non2xx, "ok": len(latencies) - non2xx,
            "rps": len(latencies) / duration,
            "p50_us": 1e6 * latencies[len(latencies) // 2],
            "p99_us": 1e6 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]}


def paced_client(args: list[str]) -> None:
    url, bodies, senders, interval, duration = args
    result = asyncio.run(_paced(url, bodies, int(senders), float(interval), float(duration)))
    print("RESULT " + json.dumps(result), flush=True)


def run_paced(url: str, bodies: str, senders: int, interval: float, duration: float,
              cpus: Optional[set] = None) -> dict:
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--paced-client", url,
                          bodies, str(senders), str(interval), str(duration)],
                         capture_output=True, text=True, check=True, preexec_fn=pinned(cpus))
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")][0]
    return json.loads(line[7:])


# --------------------------------------------------------------------------- main

def measure(args: argparse.Namespace) -> dict:
    tmp = tempfile.mkdtemp(prefix="webhook-bench-")
    script = os.path.join(tmp, "bodies.lua")
    with open(script, "w") as fh:
        fh.write(WRK_LUA)
    server_cpus, load_cpus = split_cpus() if args.pin else (None, None)
    fake, api_port = spawn_child(["--serve-fake-line", str(args.api_delay), args.fake],
                                 load_cpus)
    bare, bare_port = spawn_child(["--serve-bare"], server_cpus)
    daemon, daemon_port = start_daemon(tmp, api_port, server_cpus)
    urls = {"bare": "http://127.0.0.1:%d%s" % (bare_port, PATH),
            "daemon": "http://127.0.0.1:%d%s" % (daemon_port, PATH)}
    results: dict[str, list] = {}
    tag = 0
    try:
        for run in range(args.runs):
            for conc in args.concurrency:
                for target in ("bare", "daemon"):
                    tag += 1
                    bodies = os.path.join(tmp, "bodies.txt")
                    make_bodies(bodies, int(BODIES_PER_SEC * args.duration), "R%04d" % tag)
                    before = delivered(api_port)
                    server = daemon if target == "daemon" else bare
                    cpu0, fake0 = cpu_seconds(server.pid), cpu_seconds(fake.pid)
                    res = run_wrk(urls[target], conc, args.duration, bodies, script,
                                  load_cpus)
                    if target == "daemon":
                        res.update(wait_replies(api_port, before, res["ok"]))
                    res["cpu_ms_per_req"] = 1000 * (cpu_seconds(server.pid) - cpu0) / max(
                        1, res["requests"])
                    res["fake_cpu_s"] = cpu_seconds(fake.pid) - fake0
                    results.setdefault("%s c=%d" % (target, conc), []).append(res)
                    print("run %d %-6s c=%-3d %8.0f req/s p50 %6.2f ms p99 %6.2f ms "
                          "cpu %.2f ms/req fake %.1f s%s" % (
                              run + 1, target, conc, res["rps"], res["p50_us"] / 1000,
                              res["p99_us"] / 1000, res["cpu_ms_per_req"], res["fake_cpu_s"],
                              "  replies %d/%d in %.1fs" % (
                            res["replies"], res["ok"], res["drain_s"])
                        if target == "daemon" else ""), flush=True)
            for interval in args.paced_interval:
                load = paced_name(args.paced_senders, interval)
                for target in ("bare", "daemon"):
                    tag += 1
                    bodies = os.path.join(tmp, "bodies.txt")
                    count = int(args.paced_senders * args.duration / interval) + 100
                    make_bodies(bodies, count, "P%04d" % tag)
                    before = delivered(api_port)
                    res = run_paced(urls[target], bodies, args.paced_senders, interval,
                                    args.duration, load_cpus)
                    if target == "daemon":
                        res.update(wait_replies(api_port, before, res["ok"]))
                    results.setdefault("%s %s" % (target, load), []).append(res)
                    print("run %d %-6s %s %5.0f req/s p50 %6.2f ms p99 %6.2f ms" % (
                        run + 1, target, load, res["rps"], res["p50_us"] / 1000,
                        res["p99_us"] / 1000), flush=True)
    finally:
        for proc in (daemon, bare, fake):
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def paced_name(senders: int, interval: float) -> str:
    return "paced %d×%g/s" % (senders, 1.0 / interval)


def wait_replies(api_port: int, before: int, expected: int, timeout: float = 120.0) -> dict:
    started = time.time()
    got = 0
    while time.time() - started < timeout:
        got = delivered(api_port) - before
        if got >= expected:
            break
        time.sleep(0.1)
    return {"replies": got, "drain_s": time.time() - started}


def summarize(results: dict, args: argparse.Namespace) -> None:
    def med(key: str, field: str) -> float:
        return statistics.median(r[field] for r in results[key])

    print("\n%s, Python %s, %d CPUs, tornado daemon vs bare, API delay %.0f ms, "
          "%d runs x %ss" % (platform.platform(), platform.python_version(), os.cpu_count(),
                             args.api_delay * 1000, args.runs, args.duration))
    print("| load | bare req/s | daemon req/s | ratio | bare p50/p99 ms | daemon p50/p99 ms "
          "| replies delivered |")
    print("|---|---|---|---|---|---|---|")
    for load in ["c=%d" % c for c in args.concurrency] + [
            paced_name(args.paced_senders, i) for i in args.paced_interval]:
        b, d = "bare " + load, "daemon " + load
        replies = sum(r["replies"] for r in results[d])
        acked = sum(r["ok"] for r in results[d])
        print("| %s | %.0f | %.0f | %.2f | %.2f / %.2f | %.2f / %.2f | %d / %d |" % (
            load, med(b, "rps"), med(d, "rps"), med(d, "rps") / med(b, "rps"),
            med(b, "p50_us") / 1000, med(b, "p99_us") / 1000, med(d, "p50_us") / 1000,
            med(d, "p99_us") / 1000, replies, acked))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-fake-line":
        return serve_fake_line(float(sys.argv[2]), sys.argv[3])
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-bare":
        return serve_bare()
    if len(sys.argv) > 1 and sys.argv[1] == "--paced-client":
        return paced_client(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",") if x],
                        default=[1, 10, 50])
    parser.add_argument("--api-delay", type=float, default=0.05)
    parser.add_argument("--fake", choices=("lean", "tornado"), default="lean",
                        help="LINE API fake: benchmarks/_line_api.py (cheap) or "
                             "tests/fakes/line.py (behavioural)")
    parser.add_argument("--paced-senders", type=int, default=50)
    parser.add_argument("--paced-interval", type=lambda s: [float(x) for x in s.split(",") if x],
                        default=[0.1], help="seconds between one sender's requests; a comma "
                        "list runs one paced load per value (none: '')")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="do not pin the server to CPU 0 and the load to the others")
    parser.add_argument("--json", help="also write the raw results here")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is required: apt-get install -y wrk")
    results = measure(args)
    summarize(results, args)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
