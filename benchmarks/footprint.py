"""Footprint: start-to-ready time and resident memory of the daemon (issue 8).

Compares, in one run and on the same interpreter:

* ``bare_import``   – ``import tornado, yaml`` (package ``__init__`` only), then
  READY;
* ``bare_used``     – the third-party and heavy stdlib modules the daemon really
  loads (tornado.web, .httpclient, .httpserver, .websocket, yaml, sqlite3; no
  cryptography since HKDF moved to stdlib ``hmac``), then READY;
* ``bare_tornado``  – a Tornado server listening on 127.0.0.1 that says READY;
* ``daemon_idle``   – ``python -m openclaw_connector`` with Telegram, Discord,
  LINE and WhatsApp all enabled against the loopback fakes of tests/fakes
  (run in a separate process), plus the status server;
* ``daemon_watches`` – the same with N watched jobs: N prompts are queued in
  the OpenClaw fake (so they stay pending, as on a busy ComfyUI) and N
  pending watch rows for them are put in the state before the start, exactly
  as the JobWatcher stores them; ``/metrics`` ``job_watches`` confirms the
  daemon follows all N.

"Ready" is the READY=1 datagram each process sends to ``$NOTIFY_SOCKET``
(the daemon sends it after every channel started, exactly what systemd
waits for), timed from just before the exec. For the daemon the run also
waits until ``/healthz`` answers 200 (every channel connected), then lets it
settle and reads ``VmRSS`` from ``/proc/<pid>/status``. Medians of
``--runs`` runs. Linux only.

Every process runs with ``PYTHONDONTWRITEBYTECODE=1`` so that measuring leaves
nothing behind; the package is therefore byte-compiled (``compileall``, quietly)
before the first run, as an installed daemon's is: with stale or missing
bytecode each start would recompile the package, ~100 ms and ~1 MiB more.

    python benchmarks/footprint.py --runs 7
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from typing import Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADMIN_TOKEN = "footprint-admin-token-0123456789"
TARGETS = {"ready_s": 0.2, "idle_mib": 35.0, "watches_mib": 50.0}

_READY_THEN_WAIT = r"""
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"].replace("@", "\0", 1).encode())
signal.sigwait([signal.SIGTERM])
"""
BARE_IMPORT = "import os, socket, signal\nimport tornado, yaml\n" + _READY_THEN_WAIT
BARE_USED = ("import os, socket, signal\n"
             "import tornado.web, tornado.httpclient, tornado.httpserver, tornado.websocket\n"
             "import yaml, sqlite3\n" + _READY_THEN_WAIT)

BARE_TORNADO = r"""
import asyncio, os, signal, socket
import tornado.web

class Hello(tornado.web.RequestHandler):
    def get(self):
        self.write("ok")

async def main():
    app = tornado.web.Application([(r"/", Hello)])
    app.listen(0, "127.0.0.1")
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"].replace("@", "\0", 1).encode())
    await stop.wait()

asyncio.run(main())
"""


# --------------------------------------------------------------------------- the fakes process

async def serve_fakes(queued: int) -> None:
    """Start every platform fake and the OpenClaw fake with ``queued`` pending prompts;
    print their URLs and the prompt ids; run until stdin EOF."""
    sys.path.insert(0, ROOT)
    from tests.fakes import discord as fdiscord
    from tests.fakes import telegram as ftelegram
    from tests.fakes import whatsapp as fwhatsapp
    from tests.fakes.line import FakeLine
    from tests.fakes.openclaw import FakeOpenClaw

    import logging
    logging.disable(logging.CRITICAL)
    tg = await ftelegram.FakeTelegram().start()
    dc = fdiscord.FakeDiscord(heartbeat_interval_ms=41250).start()
    ln = await FakeLine().start()
    wa = await fwhatsapp.FakeWhatsApp().start()
    oc = await FakeOpenClaw(admin_token=ADMIN_TOKEN).start()
    graph = {"9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "bench"}}}
    prompt_ids = [oc.model.submit(graph, template_id="bench") for _ in range(queued)]
    print(json.dumps({
        "telegram": {"api_base": tg.url, "token": tg.token},
        "discord": {"api_base": dc.api_base, "gateway_url": dc.gateway_url, "token": dc.token},
        "line": {"api_base": ln.url, "channel_access_token": ln.access_token},
        "whatsapp": {"api_base": wa.api_base, "access_token": wa.access_token,
                     "phone_number_id": wa.phone_number_id},
        "openclaw": {"url": oc.url},
        "prompt_ids": prompt_ids,
    }), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


# --------------------------------------------------------------------------- measuring

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def daemon_config(fakes: dict, state_dir: str) -> tuple[dict, int]:
    status_port = free_port()
    cfg = {
        "state_dir": state_dir,
        "openclaw": {"url": fakes["openclaw"]["url"], "admin_token": ADMIN_TOKEN},
        "telegram": dict(fakes["telegram"], allowed_users=["1111"]),
        "discord": dict(fakes["discord"], allowed_users=["1000000000000000004"]),
        "line": dict(fakes["line"], channel_secret="footprint-line-secret",
                     port=free_port()),
        "whatsapp": dict(fakes["whatsapp"], verify_token="footprint-verify",
                         app_secret="footprint-app-secret", port=free_port()),
        "status": {"port": status_port},
        "log": {"level": "warning"},
    }
    return cfg, status_port


def rss_kib(pid: int) -> int:
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def healthz(port: int) -> int:
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=1) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def seed_watches(state_dir: str, prompt_ids: list[str]) -> bool:
    """Store one pending JobWatcher watch per prompt id; False without a JobWatcher."""
    sys.path.insert(0, ROOT)
    try:
        from openclaw_connector.jobs import watcher as jobs
    except ImportError:
        return False
    from openclaw_connector.messages import ChatRef
    from openclaw_connector.state import StateStore, Watch
    store = StateStore(state_dir)
    store.open()
    now = time.time()
    try:
        for number, pid in enumerate(prompt_ids):
            chat = ChatRef("telegram", str(1000 + number % 50), user_id="1111")
            store.put_watch(Watch(jobs.watch_key(jobs.PROMPT, pid, chat), jobs.PROMPT, pid,
                                  "bench", chat, now, {}, jobs.PENDING, now))
    finally:
        store.close()
    return True


def metric(port: int, name: str) -> Optional[float]:
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def measure(argv: list[str], env: dict, *, settle_s: float, health_port: Optional[int] = None,
            health_timeout_s: float = 15.0) -> dict:
    """Start ``argv``; time exec→READY=1; optionally wait for /healthz 200; then read RSS."""
    name = "ocn-footprint-%d-%d" % (os.getpid(), time.monotonic_ns())
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(b"\0" + name.encode())
        notify.settimeout(30)
        env = dict(env, NOTIFY_SOCKET="@" + name)
        started = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            while notify.recv(4096) != b"READY=1":
                pass
            ready_s = time.perf_counter() - started
            connected_s = None
            if health_port is not None:
                deadline = time.monotonic() + health_timeout_s
                while healthz(health_port) != 200 and time.monotonic() < deadline:
                    time.sleep(0.01)
                if healthz(health_port) == 200:
                    connected_s = time.perf_counter() - started
            time.sleep(settle_s)
            rss = rss_kib(proc.pid)
            watches = metric(health_port, "openclaw_connector_job_watches") if health_port else None
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                _out, err = proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                _out, err = proc.communicate()
    if proc.returncode not in (0, -signal.SIGTERM):
        raise RuntimeError("%s exited %s: %s" % (argv, proc.returncode, err.decode()[-2000:]))
    return {"ready_s": ready_s, "rss_mib": rss / 1024.0, "connected_s": connected_s,
            "job_watches": watches}


def compile_package() -> None:
    """Byte-compile the package as an install does (the runs themselves write none)."""
    if not compileall.compile_dir(os.path.join(ROOT, "openclaw_connector"), quiet=1):
        raise RuntimeError("compileall failed for openclaw_connector")


def run_all(runs: int, watches: int, settle_s: float) -> dict:
    compile_package()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": ROOT,
           "PYTHONDONTWRITEBYTECODE": "1"}
    fakes_proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve-fakes",
                                   "--watches", str(watches)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    try:
        fakes = json.loads(fakes_proc.stdout.readline())
        results: dict[str, list[dict]] = {"bare_import": [], "bare_used": [],
                                          "bare_tornado": [], "daemon_idle": [],
                                          "daemon_watches": []}
        watches_note = ""
        with tempfile.TemporaryDirectory(prefix="ocn-footprint-") as tmp:
            for run in range(runs):
                results["bare_import"].append(
                    measure([sys.executable, "-c", BARE_IMPORT], env, settle_s=settle_s))
                results["bare_used"].append(
                    measure([sys.executable, "-c", BARE_USED], env, settle_s=settle_s))
                results["bare_tornado"].append(
                    measure([sys.executable, "-c", BARE_TORNADO], env, settle_s=settle_s))
                for scenario in ("daemon_idle", "daemon_watches"):
                    state_dir = os.path.join(tmp, "%s-%d" % (scenario, run))
                    if scenario == "daemon_watches":
                        if not seed_watches(state_dir, fakes["prompt_ids"]):
                            watches_note = ("not measured: no JobWatcher "
                                            "(openclaw_connector/jobs/watcher.py) in this tree")
                            continue
                    cfg, port = daemon_config(fakes, state_dir)
                    path = os.path.join(tmp, "%s-%d.yaml" % (scenario, run))
                    with open(path, "w") as fh:
                        json.dump(cfg, fh)      # JSON is YAML
                    os.chmod(path, 0o600)
                    results[scenario].append(measure(
                        [sys.executable, "-m", "openclaw_connector", "-c", path], env,
                        settle_s=settle_s, health_port=port))
    finally:
        fakes_proc.stdin.close()
        fakes_proc.wait(timeout=20)
    return {"results": results, "watches_note": watches_note}


def median(rows: list[dict], key: str) -> Optional[float]:
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else None


def report(data: dict, runs: int, watches: int) -> str:
    res = data["results"]
    lines = ["footprint: %d runs, medians; Python %s, %s, %d CPUs, load average %s "
             "at the end" % (runs, platform.python_version(), platform.platform(),
                             os.cpu_count() or 0,
                             " ".join("%.2f" % x for x in os.getloadavg())), "",
        "%-16s %10s %12s %10s %8s %8s" % ("scenario", "ready ms", "connected ms", "RSS MiB",
                                           "watches", "runs")]
    for name, rows in res.items():
        if not rows:
            continue
        connected = median(rows, "connected_s")
        followed = median(rows, "job_watches")
        lines.append("%-16s %10.0f %12s %10.1f %8s %8d" % (
            name, 1000 * median(rows, "ready_s"),
            "%.0f" % (1000 * connected) if connected is not None else "-",
            median(rows, "rss_mib"), "%.0f" % followed if followed is not None else "-",
            len(rows)))
    if data["watches_note"]:
        lines.append("%-16s %s" % ("daemon_watches", data["watches_note"]))
    idle, tor, used = res["daemon_idle"], res["bare_tornado"], res["bare_used"]
    if idle:
        lines += ["",
                  "ready: daemon/bare_tornado = %.2fx; RSS: daemon/bare_used = %.2fx, "
                  "daemon/bare_tornado = %.2fx" % (
                      median(idle, "ready_s") / median(tor, "ready_s"),
                      median(idle, "rss_mib") / median(used, "rss_mib"),
                      median(idle, "rss_mib") / median(tor, "rss_mib")),
                  "targets: ready <= %.1f s: %s; idle RSS <= %.0f MiB: %s" % (
                      TARGETS["ready_s"],
                      "met" if median(idle, "ready_s") <= TARGETS["ready_s"] else "MISSED",
                      TARGETS["idle_mib"],
                      "met" if median(idle, "rss_mib") <= TARGETS["idle_mib"] else "MISSED")]
    if res["daemon_watches"]:
        rss = median(res["daemon_watches"], "rss_mib")
        lines.append("         %d watches RSS <= %.0f MiB: %s" % (
            watches, TARGETS["watches_mib"], "met" if rss <= TARGETS["watches_mib"]
            else "MISSED"))
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--watches", type=int, default=1000)
    p.add_argument("--settle", type=float, default=1.0,
                   help="seconds to idle after ready before reading RSS")
    p.add_argument("--json", action="store_true", help="print raw results as JSON too")
    p.add_argument("--serve-fakes", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve_fakes:
        asyncio.run(serve_fakes(args.watches))
        return 0
    data = run_all(args.runs, args.watches, args.settle)
    print(report(data, args.runs, args.watches))
    if args.json:
        print(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
