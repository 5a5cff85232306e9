"""Issue 15: the seed's own setup works and every early mistake is caught (CLI subprocess)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.e2e.process import free_port
from tests.foundation.test_cli import _wait_for_line, run_cli, write
from tests.ops.identity_fake import closed_port_url

TOKEN = "123456789:AAHsecretsecretsecretsecretsecret12"


def test_environment_only_start_runs_on_defaults_and_says_so(tmp_path):
    """No -c and no OPENCLAW_CONNECTOR_CONFIG: defaults + environment, one INFO line."""
    state = tmp_path / "s"
    result = run_cli("--console", input="/help\n",
                     env={"OPENCLAW_CONNECTOR_STATE_DIR": str(state)})
    assert result.returncode == 0, result.stderr
    assert "Commands:" in result.stdout
    said = [ln for ln in result.stderr.splitlines() if "event=config_source" in ln]
    assert len(said) == 1 and " INFO " in said[0] and "source=environment" in said[0]
    assert state.is_dir()          # the environment's state_dir was used


def test_environment_only_check_config_reads_seed_variables(tmp_path):
    """The seed's variables alone make a valid config (python -m openclaw_connector)."""
    result = run_cli("--check-config", env={
        "OPENCLAW_CONNECTOR_TELEGRAM_TOKEN": TOKEN,
        "OPENCLAW_CONNECTOR_TELEGRAM_ALLOWED_USERS": "123, 789012",
        "OPENCLAW_CONNECTOR_ADMIN_USERS": "123",
        "OPENCLAW_CONNECTOR_STATE_DIR": str(tmp_path / "s")})
    assert result.returncode == 0, result.stderr
    assert "telegram: token=***et12 allowed_users=2" in result.stdout
    assert "admin_users=1" in result.stdout


def test_debug_variable_beats_yaml_level_but_not_the_flag(tmp_path):
    """OPENCLAW_CONNECTOR_DEBUG=1 gives debug lines over log.level: info; --log-level wins."""
    path = write(tmp_path, "state_dir: %s\nlog:\n  level: info\n" % (tmp_path / "s"))
    env = {"OPENCLAW_CONNECTOR_DEBUG": "1"}
    debug = run_cli("-c", path, "--console", input="/help\n", env=env)
    assert debug.returncode == 0, debug.stderr
    assert " DEBUG " in debug.stderr
    pinned = run_cli("-c", path, "--console", "--log-level", "info", input="/help\n", env=env)
    assert pinned.returncode == 0, pinned.stderr
    assert " DEBUG " not in pinned.stderr and " INFO " in pinned.stderr
    plain = run_cli("-c", path, "--console", input="/help\n")
    assert " DEBUG " not in plain.stderr


def test_duplicate_yaml_key_is_an_error_with_its_path(tmp_path):
    """A block written twice used to drop the first silently; now it stops with 78."""
    path = write(tmp_path, "telegram:\n  token: '%s'\n  allowed_users: [1]\n"
                           "telegram:\n  allowed_users: [2]\nline:\n  port: 1\n  port: 2\n"
                           % TOKEN)
    result = run_cli("-c", path, "--check-config")
    assert result.returncode == 78
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("openclaw.yaml:")]
    assert lines == [
        "openclaw.yaml: telegram: duplicate key at line 4 (first at line 1); YAML would "
        "keep only the last one: merge them into one",
        "openclaw.yaml: line.port: duplicate key at line 8 (first at line 7); YAML would "
        "keep only the last one: merge them into one"], result.stderr


def test_unknown_environment_variable_warns_with_a_suggestion(tmp_path):
    result = run_cli("--check-config", "--console", env={
        "OPENCLAW_CONNECTOR_TELEGRAM_TOKN": TOKEN,
        "OPENCLAW_CONNECTOR_STATE_DIR": str(tmp_path / "s")})
    assert result.returncode == 0, result.stderr
    assert ("warning: environment: OPENCLAW_CONNECTOR_TELEGRAM_TOKN: unknown variable, "
            "ignored (did you mean OPENCLAW_CONNECTOR_TELEGRAM_TOKEN?)") in result.stdout
    assert TOKEN not in result.stdout + result.stderr


def test_no_channel_is_a_configuration_error(tmp_path):
    """Nothing enabled and no --console: exit 78 before anything starts, not an idle daemon."""
    path = write(tmp_path, "state_dir: %s\n" % (tmp_path / "s"))
    for extra in ((), ("--check-config",)):
        result = run_cli("-c", path, *extra, input="")
        assert result.returncode == 78, result.stderr
        assert "openclaw.yaml: no channel is enabled" in result.stderr
        assert "or pass --console" in result.stderr
    assert not (tmp_path / "s").exists()


def test_config_error_also_goes_to_the_log_file(tmp_path):
    """A service's terminal is nowhere: the problem lines land in --log-file as well."""
    path = write(tmp_path, "telegramm:\n  token: x\n")
    log_file = tmp_path / "log" / "d.log"
    log_file.parent.mkdir()
    result = run_cli("-c", path, "--log-file", str(log_file))
    assert result.returncode == 78
    assert 'telegramm: unknown key (did you mean "telegram"?)' in result.stderr
    logged = log_file.read_text()
    assert "ERROR" in logged and 'telegramm: unknown key (did you mean "telegram"?)' in logged
    assert "configuration invalid: 1 problem; nothing was started" in logged


def test_line_without_public_base_url_warns_in_check_config_and_at_start(tmp_path):
    env = {"OPENCLAW_CONNECTOR_LINE_CHANNEL_SECRET": "line-secret-value",
           "OPENCLAW_CONNECTOR_LINE_CHANNEL_ACCESS_TOKEN": "line-access-value",
           "OPENCLAW_CONNECTOR_LINE_PORT": str(free_port()),
           "OPENCLAW_CONNECTOR_STATE_DIR": str(tmp_path / "s"),
           "OPENCLAW_CONNECTOR_URL": "http://127.0.0.1:9"}
    want = ("media: images cannot be delivered to LINE until media.public_base_url is set "
            "to your HTTPS tunnel URL")
    checked = run_cli("--check-config", env=env)
    assert checked.returncode == 0, checked.stderr
    assert "warning: " + want in checked.stdout
    started = run_cli("--console", input="/help\n", env=env)
    assert started.returncode == 0, started.stderr
    warned = [ln for ln in started.stderr.splitlines() if want in ln]
    assert len(warned) == 1 and " WARNING " in warned[0]
    env["OPENCLAW_CONNECTOR_PUBLIC_BASE_URL"] = "https://tunnel.example.test"
    assert want not in run_cli("--check-config", env=env).stdout


def test_console_without_a_terminal_or_pipe_warns_and_keeps_running(tmp_path):
    """Under a service (stdin = /dev/null) the console stays idle; SIGTERM still stops it."""
    path = write(tmp_path, "state_dir: %s\nconsole:\n  enabled: true\nopenclaw:\n  url: %s\n"
                 % (tmp_path / "s", closed_port_url()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_CONNECTOR_")}
    proc = subprocess.Popen([sys.executable, "-m", "openclaw_connector", "-c", path],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        seen = _wait_for_line(proc.stderr, "event=daemon_ready")
        assert "event=console_unusable" in seen and "WARNING" in seen
        assert "not a terminal or pipe" in seen
        assert proc.poll() is None          # end of /dev/null did not stop the daemon
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
