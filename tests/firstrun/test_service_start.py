"""Issue 15, the service path: a start that fails says why, at once, on the terminal."""

from __future__ import annotations

import errno
import socket
import time

from tests.ops.identity_fake import closed_port_url
from tests.ops.test_ops_contrib import InitScript, needs_ssd


@needs_ssd
def test_sysvinit_start_failure_prints_the_daemons_error_without_waiting(tmp_path):
    """--check-config passes but the daemon cannot bind: start fails well before
    READY_TIMEOUT (the daemon sends ERRNO=) and prints the daemon's own ERROR line."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        init = InitScript(tmp_path, config_text="openclaw:\n  url: %s\nconsole:\n  enabled: "
                          "true\nstatus:\n  port: %d\n" % (closed_port_url(), port))
        started = time.monotonic()
        result = init("start")
        took = time.monotonic() - started
    assert result.returncode == 1, result.stdout + result.stderr
    assert took < 15, took                              # READY_TIMEOUT is 20 s
    errors = [ln for ln in result.stderr.splitlines() if " ERROR " in ln]
    assert errors and "cannot listen: 127.0.0.1:%d: Address already in use" % port in errors[0]
    assert "did not start" in result.stdout + result.stderr
    assert init("status").returncode == 3


def test_config_file_advice_agrees_everywhere(tmp_path):
    """Example, contrib steps, unit and the daemon's own warning all say root:<group> 0640;
    a 0640 file with a secret is fine, a world-readable one gets the same advice."""
    from pathlib import Path

    from tests.foundation.test_cli import TOKEN, run_cli, write
    root = Path(__file__).resolve().parents[2]
    example = (root / "openclaw.yaml.example").read_text()
    steps = (root / "contrib" / "README.rst").read_text()
    unit = (root / "contrib" / "systemd" / "openclaw-connectord.service").read_text()
    assert "chmod 0640" in example and "keep it private (chmod 600)" not in example
    assert "install -m 0640 -o root -g openclaw-connector openclaw.yaml.example" in steps
    assert "SupplementaryGroups=openclaw-connector" in unit
    text = "telegram:\n  token: '%s'\nstate_dir: %s\n" % (TOKEN, tmp_path / "s")
    group_only = run_cli("-c", write(tmp_path, text, "a.yaml", mode=0o640), "--check-config")
    assert group_only.returncode == 0 and "warning" not in group_only.stdout
    everyone = run_cli("-c", write(tmp_path, text, "b.yaml", mode=0o644), "--check-config")
    assert "chown root:<group of the service user>" in everyone.stdout
    assert "chmod 0640" in everyone.stdout and "chmod 600" not in everyone.stdout


def test_failed_start_tells_the_service_manager_why(tmp_path):
    """Under Type=notify a start that fails sends STATUS= and ERRNO= (never READY=1), so
    systemctl status shows the reason and start-stop-daemon stops waiting at once."""
    import os
    import subprocess
    import sys
    import tempfile

    from tests.e2e.process import ROOT
    directory = tempfile.mkdtemp(prefix="ocn-")
    path = os.path.join(directory, "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock, \
            socket.socket() as taken:
        sock.bind(path)
        sock.settimeout(10)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "openclaw.yaml"
        config.write_text("state_dir: %s\nopenclaw:\n  url: %s\nconsole:\n  enabled: true\n"
                          "status:\n  port: %d\n" % (tmp_path / "s", closed_port_url(),
                                                      taken.getsockname()[1]))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT),
               "NOTIFY_SOCKET": path}
        result = subprocess.run([sys.executable, "-m", "openclaw_connector", "-c", str(config)],
                                env=env, stdin=subprocess.DEVNULL, capture_output=True,
                                text=True, timeout=30)
        message = sock.recv(4096).decode()
    os.unlink(path)
    os.rmdir(directory)
    assert result.returncode == 78
    assert message == ("STATUS=start failed: cannot listen: 127.0.0.1:%d: Address already in "
                       "use\nERRNO=%d" % (port, errno.EADDRINUSE)), message
