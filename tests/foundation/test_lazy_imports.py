"""Only the enabled channels' code is imported: a Telegram-only daemon never loads the
Discord, LINE, WhatsApp, media or webhook-server modules, nor cryptography (issue 21)."""

from __future__ import annotations

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
