"""Only the enabled channels' code is imported: a Telegram-only daemon never loads the
Discord, LINE, WhatsApp, media or webhook-server modules, nor cryptography; and rare
paths (typo hints, ``--check``, proxies, uploads, tornado's curses) stay unloaded in a
daemon started through the entry point (issue 21, benchmarks/README.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PROBE = r"""
import asyncio, sys
from openclaw_connector import config
from openclaw_connector.daemon import Daemon

cfg = config.load(None, env={}, overrides={
    "state_dir": sys.argv[1], "telegram.token": "123456789:AAHlazyimportsprobe0123456789abcd",
    "telegram.api_base": "http://127.0.0.1:9", "retry.initial_sec": 0.01,
    "retry.max_sec": 0.05, "shutdown_grace_sec": 1})

async def main():
    daemon = Daemon(cfg)
    await daemon.start()
    await daemon.stop()

asyncio.run(main())
print(" ".join(sorted(sys.modules)))
"""


def test_telegram_only_daemon_imports_no_other_channel(tmp_path):
    """Start and stop a Telegram-only daemon in a fresh interpreter and list its modules."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_CONNECTOR_")}
    env["PYTHONPATH"] = ROOT
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "state")], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    modules = set(done.stdout.split())
    assert "openclaw_connector.channels.telegram" in modules
    for absent in ("openclaw_connector.channels.discord", "openclaw_connector.channels.line",
                   "openclaw_connector.channels.whatsapp", "openclaw_connector.channels.webhook",
                   "openclaw_connector.media", "openclaw_connector.web", "cryptography"):
        assert absent not in modules, absent


# The real entry point, LINE only: cli.main runs the daemon until a thread that saw
# READY=1 on $NOTIFY_SOCKET sends SIGTERM; then the interpreter lists its modules.
ENTRY_PROBE = r"""
import os, signal, socket, sys, threading
name = "ocn-lazy-%d" % os.getpid()
notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
notify.bind(b"\0" + name.encode())
os.environ["NOTIFY_SOCKET"] = "@" + name

def stop_when_ready():
    while notify.recv(4096) != b"READY=1":
        pass
    os.kill(os.getpid(), signal.SIGTERM)

threading.Thread(target=stop_when_ready, daemon=True).start()
from openclaw_connector import cli
code = cli.main(["-c", sys.argv[1]])
print(code, " ".join(sorted(n for n, m in sys.modules.items() if m is not None)))
"""

# Rare paths: each is imported by the function that needs it (a typo hint, --check, a
# proxy, a photo upload, ffmpeg lookup), never at start.
NEVER_AT_START = (
    "curses",                              # tornado.log's colours; cli declines it
    "difflib",                             # did-you-mean hints (config, templates)
    "uuid", "platform",                    # ids come from secrets/hashlib
    "shutil", "bz2", "lzma",               # argparse's width, media_out.ffmpeg_path
    "openclaw_connector.check", "openclaw_connector.probe", "openclaw_connector.net.probe",
    "openclaw_connector.openclaw.probe",   # --check
    "openclaw_connector.net.tunnel",       # only when a proxy is configured
    "openclaw_connector.net.multipart",    # photo upload to ComfyUI (LINE sends none)
    "openclaw_connector.channels.telegram", "openclaw_connector.channels.discord",
    "openclaw_connector.channels.whatsapp", "openclaw_connector.channels.console",
    "cryptography",
)


def test_line_only_daemon_through_the_entry_point_leaves_rare_paths_unloaded(tmp_path):
    """``openclaw-connectord -c line.yaml`` up to READY and a clean stop loads none of
    the rare paths: adding an eager import of one back fails here."""
    cfg = {"state_dir": str(tmp_path / "state"),
           "openclaw": {"url": "http://127.0.0.1:9"},
           "line": {"channel_secret": "lazy-imports-line-secret",
                    "channel_access_token": "lazy-imports-line-access-token",
                    "api_base": "http://127.0.0.1:9", "bind": "127.0.0.1", "port": 0},
           "retry": {"initial_sec": 0.01, "max_sec": 0.05}, "shutdown_grace_sec": 1,
           "log": {"level": "warning"}}
    path = tmp_path / "line.yaml"
    path.write_text(json.dumps(cfg))       # JSON is YAML
    path.chmod(0o600)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OPENCLAW_CONNECTOR_") and k != "NOTIFY_SOCKET"}
    env["PYTHONPATH"] = ROOT
    done = subprocess.run([sys.executable, "-c", ENTRY_PROBE, str(path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    code, _, listed = done.stdout.strip().partition(" ")
    assert code == "0", done.stderr[-2000:]
    modules = set(listed.split())
    assert "openclaw_connector.channels.line" in modules
    assert "tornado.web" in modules
    loaded = [name for name in NEVER_AT_START if name in modules]
    assert loaded == [], loaded
