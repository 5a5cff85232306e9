"""The openclaw-connectord command as a user runs it: flags, exit statuses, signals."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

import pytest

from tests.ops.identity_fake import closed_port_url

TOKEN = "123456789:AAHsecretsecretsecretsecretsecret12"


def run_cli(*args, env=None, input=None, timeout=20):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_CONNECTOR_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "openclaw_connector", *args], env=full_env,
                          input=input, capture_output=True, text=True, timeout=timeout)


def write(tmp_path, text, name="openclaw.yaml", mode=0o600):
    path = tmp_path / name
    path.write_text(text)
    os.chmod(path, mode)
    return str(path)


def test_check_config_on_example_exits_0():
    """The shipped example validates with --console, as the Quick start runs it."""
    result = run_cli("-c", "openclaw.yaml.example", "--check-config", "--console")
    assert result.returncode == 0, result.stderr
    assert "config OK" in result.stdout


def test_check_config_prints_masked_channel_lines(tmp_path):
    """Each enabled channel gets a line; the token is masked."""
    path = write(tmp_path, "telegram:\n  token: '%s'\n  allowed_users: [42]\n"
                           "state_dir: %s\n" % (TOKEN, tmp_path / "s"))
    result = run_cli("-c", path, "--check-config")
    assert result.returncode == 0, result.stderr
    assert "telegram: token=***et12 allowed_users=1" in result.stdout
    assert TOKEN not in result.stdout + result.stderr


def test_three_mistakes_print_three_lines_and_exit_78(tmp_path):
    """Every problem is reported at once, one line each, with the key path."""
    path = write(tmp_path, "linee: {}\ntelegram:\n  token: x\n  allowed_users: [1, bob]\n"
                           "line:\n  port: 70000\n")
    result = run_cli("-c", path, "--check-config")
    assert result.returncode == 78
    lines = [l for l in result.stderr.splitlines() if l.startswith("openclaw.yaml:")]
    assert len(lines) == 3, result.stderr
    assert 'openclaw.yaml: linee: unknown key (did you mean "line"?)' in lines
    assert 'openclaw.yaml: telegram.allowed_users[1]: expected a user id (digits), got "bob"' \
        in lines
    assert any(l.startswith("openclaw.yaml: line.port: port out of range") for l in lines)


def test_missing_config_file_exits_78_and_creates_nothing(tmp_path):
    missing = tmp_path / "nope.yaml"
    result = run_cli("-c", str(missing))
    assert result.returncode == 78
    assert "file not found" in result.stderr
    assert not missing.exists()


def test_config_from_environment_variable(tmp_path):
    path = write(tmp_path, "state_dir: %s\n" % (tmp_path / "s"))
    result = run_cli("--check-config", "--console", env={"OPENCLAW_CONNECTOR_CONFIG": path})
    assert result.returncode == 0, result.stderr


def test_bad_yaml_reports_line_and_column(tmp_path):
    path = write(tmp_path, "telegram:\n  token: [unclosed\n")
    result = run_cli("-c", path, "--check-config")
    assert result.returncode == 78
    assert "line 3, column 1" in result.stderr or "line 2" in result.stderr


def test_print_config_masks_every_secret(tmp_path):
    path = write(tmp_path, "openclaw:\n  admin_token: adm1nS3cretValue\ntelegram:\n"
                           "  token: '%s'\n" % TOKEN)
    result = run_cli("-c", path, "--print-config",
                     env={"OPENCLAW_CONNECTOR_LINE_CHANNEL_SECRET": "lineSecretValue99",
                          "OPENCLAW_CONNECTOR_LINE_CHANNEL_ACCESS_TOKEN": "lineAccessTok77"})
    assert result.returncode == 0, result.stderr
    for secret in (TOKEN, "adm1nS3cretValue", "lineSecretValue99", "lineAccessTok77"):
        assert secret not in result.stdout
    assert "admin_token: '***'" in result.stdout


def test_group_readable_config_with_secret_warns(tmp_path):
    path = write(tmp_path, "telegram:\n  token: '%s'\n" % TOKEN, mode=0o644)
    result = run_cli("-c", path, "--check-config")
    assert result.returncode == 0
    assert "chmod 0640" in result.stdout


def test_unwritable_state_dir_exits_78(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    path = write(tmp_path, "state_dir: %s/sub\n" % blocker)
    result = run_cli("-c", path, "--console", input="")
    assert result.returncode == 78, result.stderr
    assert "state_dir" in result.stderr


def test_console_help_over_a_pipe_then_eof_exits_0(tmp_path):
    """Piped /help gets the command list; end of input stops cleanly."""
    path = write(tmp_path, "state_dir: %s\n" % (tmp_path / "s"))
    result = run_cli("-c", path, "--console", input="/help\n/nope\n")
    assert result.returncode == 0, result.stderr
    assert "Commands:" in result.stdout and "/help" in result.stdout
    assert "Unknown command /nope. Send /help for the list." in result.stdout


def _start(tmp_path, *extra):
    # ComfyUI at a closed port, not the default 127.0.0.1:8188 that anything on a shared
    # machine may hold (a listener there that never answers would stall the start).
    path = write(tmp_path, "state_dir: %s\nopenclaw:\n  url: %s\n" % (tmp_path / "s",
                                                                   closed_port_url()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_CONNECTOR_")}
    return subprocess.Popen([sys.executable, "-m", "openclaw_connector", "-c", path,
                             "--console", *extra], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_line(stream, needle, timeout=30.0):
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], deadline - time.monotonic())
        if not ready:
            break
        line = stream.readline()
        if not line:
            break
        seen += line
        if needle in line:
            return seen
    raise AssertionError("%r not seen; got:\n%s" % (needle, seen))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_console_session_exits_0_within_5s(tmp_path, signum):
    proc = _start(tmp_path)
    try:
        _wait_for_line(proc.stderr, "event=daemon_ready")
        proc.stdin.write("/help\n")
        proc.stdin.flush()
        _wait_for_line(proc.stdout, "Commands:")
        sent = time.monotonic()
        proc.send_signal(signum)
        assert proc.wait(timeout=5) == 0
        assert time.monotonic() - sent < 5
    finally:
        proc.kill()
        proc.wait()


def test_pidfile_written_refused_when_live_and_removed(tmp_path):
    pidfile = tmp_path / "d.pid"
    proc = _start(tmp_path, "--pidfile", str(pidfile))
    try:
        _wait_for_line(proc.stderr, "event=daemon_ready")
        assert pidfile.read_text().strip() == str(proc.pid)
        second = run_cli("-c", write(tmp_path, "state_dir: %s\n" % (tmp_path / "t"), "b.yaml"),
                         "--console", "--pidfile", str(pidfile), input="")
        assert second.returncode == 1
        assert "names running process %d" % proc.pid in second.stderr
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert not pidfile.exists()
    finally:
        proc.kill()
        proc.wait()


def test_stale_pidfile_is_replaced(tmp_path):
    pidfile = tmp_path / "d.pid"
    pidfile.write_text("999999\n")
    path = write(tmp_path, "state_dir: %s\n" % (tmp_path / "s"))
    result = run_cli("-c", path, "--console", "--pidfile", str(pidfile), input="/help\n")
    assert result.returncode == 0, result.stderr
    assert not pidfile.exists()


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0 and "openclaw-connectord" in result.stdout
