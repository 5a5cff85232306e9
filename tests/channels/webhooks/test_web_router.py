"""The webhook HTTP path lives in web/ and imports no channel (issue 14): channels
register a WebhookRoute instead."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def test_web_package_imports_no_channel():
    """Importing every web/ module in a fresh interpreter loads nothing under channels/."""
    probe = ("import sys, openclaw_connector.web, openclaw_connector.web.router, "
             "openclaw_connector.web.webhook, openclaw_connector.web.listener; "
             "print(' '.join(sorted(sys.modules)))")
    env = {**os.environ, "PYTHONPATH": ROOT}
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    modules = done.stdout.split()
    assert "openclaw_connector.web.router" in modules
    assert [m for m in modules if m.startswith("openclaw_connector.channels")] == []

