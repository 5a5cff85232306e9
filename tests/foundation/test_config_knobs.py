"""Timeouts and listener ports as config keys: accepted, defaulted, refused with the key path."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from openclaw_connector import config as configmod
from openclaw_connector.config import ConfigError
from tests.e2e.process import ROOT, DaemonProc

# (dotted key, today's default, a good YAML value, a bad YAML value)
KNOBS = [
    ("openclaw.connect_timeout_sec", None, 3, 0),
    ("openclaw.request_timeout_sec", None, 30, "soon"),
    ("telegram.connect_timeout_sec", 10.0, 2.5, -1),
    ("telegram.request_timeout_sec", 60.0, 90, "long"),
    ("telegram.poll_margin_sec", 10.0, 0.05, -1),
    ("telegram.stop_drain_sec", 5.0, 0.5, "x"),
    ("telegram.max_inflight", 200, 8, 0),
    ("discord.connect_timeout_sec", 10.0, 4, 0),
    ("discord.request_timeout_sec", 60.0, 120, [1]),
    ("discord.gateway_timeout_sec", 15.0, 5, -3),
    ("line.connect_timeout_sec", 10.0, 1, 0),
    ("line.request_timeout_sec", 20.0, 40, "20s"),
    ("whatsapp.connect_timeout_sec", 10.0, 1, 0),
    ("whatsapp.request_timeout_sec", 20.0, 40, {"a": 1}),
    ("line.port", 8099, 0, 70000),
    ("whatsapp.port", 8098, 0, -1),
    ("status.port", None, 0, "http"),
]
IDS = [k[0] for k in KNOBS]


def _yaml_for(dotted: str, value) -> str:
    import yaml
    section, key = dotted.split(".")
    return yaml.safe_dump({section: {key: value}})


def _get(cfg, dotted: str):
    section, key = dotted.split(".")
    return getattr(getattr(cfg, section), key)


@pytest.mark.parametrize("dotted,default,good,bad", KNOBS, ids=IDS)
def test_knob_default_and_accepted_value(tmp_path, dotted, default, good, bad):
    """Unset, the key keeps today's value; set in YAML, the loaded config carries it."""
    path = tmp_path / "c.yaml"
    path.write_text(_yaml_for(dotted, good))
    assert _get(configmod.load(None, env={}), dotted) == default
    assert _get(configmod.load(str(path), env={}), dotted) == good


@pytest.mark.parametrize("dotted,default,good,bad", KNOBS, ids=IDS)
def test_knob_bad_value_names_the_key(tmp_path, dotted, default, good, bad):
    """A bad value is one problem line that starts with the file and the key path."""
    path = tmp_path / "openclaw.yaml"
    path.write_text(_yaml_for(dotted, bad))
    with pytest.raises(ConfigError) as err:
        configmod.load(str(path), env={})
    assert len(err.value.problems) == 1
    assert err.value.problems[0].startswith("openclaw.yaml: %s: expected" % dotted) or \
        err.value.problems[0].startswith("openclaw.yaml: %s: port out of range" % dotted)


def test_knobs_from_the_environment():
    """Each new key has its OPENCLAW_CONNECTOR_* variable."""
    cfg = configmod.load(None, env={"OPENCLAW_CONNECTOR_LINE_REQUEST_TIMEOUT_SEC": "7",
                                    "OPENCLAW_CONNECTOR_CONNECT_TIMEOUT_SEC": "2",
                                    "OPENCLAW_CONNECTOR_STATUS_PORT": "0"})
    assert cfg.line.request_timeout_sec == 7.0
    assert cfg.openclaw.connect_timeout_sec == 2.0 and cfg.status.port == 0


def test_openclaw_timeouts_fall_back_to_timeout_sec():
    """The seed's one knob, timeout_sec, still sets both until the finer keys are given."""
    cfg = configmod.load(None, env={"OPENCLAW_CONNECTOR_TIMEOUT_SEC": "4"})
    assert (cfg.openclaw.connect_sec, cfg.openclaw.request_sec) == (4.0, 4.0)
    cfg = configmod.load(None, env={"OPENCLAW_CONNECTOR_TIMEOUT_SEC": "4",
                                    "OPENCLAW_CONNECTOR_REQUEST_TIMEOUT_SEC": "9"})
    assert (cfg.openclaw.connect_sec, cfg.openclaw.request_sec) == (4.0, 9.0)


def test_status_port_0_beside_a_webhook_port_0_warns():
    """Port 0 is one free port per address: status would share the internet-facing listener."""
    env = {"OPENCLAW_CONNECTOR_LINE_CHANNEL_SECRET": "s",
           "OPENCLAW_CONNECTOR_LINE_CHANNEL_ACCESS_TOKEN": "t",
           "OPENCLAW_CONNECTOR_LINE_PORT": "0", "OPENCLAW_CONNECTOR_STATUS_PORT": "0"}
    warnings = configmod.load(None, env=env).warnings()
    assert any(w.startswith("status: status.port 0 and line.port 0") for w in warnings)
    env["OPENCLAW_CONNECTOR_STATUS_PORT"] = "9108"
    assert not any(w.startswith("status:") for w in configmod.load(None, env=env).warnings())


def test_every_bad_knob_stops_the_daemon_with_78(tmp_path):
    """The command line reports every bad knob at once, each with its key path, exit 78."""
    import yaml
    tree: dict = {}
    for dotted, _default, _good, bad in KNOBS:
        section, key = dotted.split(".")
        tree.setdefault(section, {})[key] = bad
    path = tmp_path / "openclaw.yaml"
    path.write_text(yaml.safe_dump(tree))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_CONNECTOR_")}
    env["PYTHONPATH"] = ROOT
    result = subprocess.run([sys.executable, "-m", "openclaw_connector", "-c", str(path),
                             "--check-config", "--console"], env=env, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 78, result.stderr
    for dotted in IDS:
        assert "openclaw.yaml: %s: " % dotted in result.stderr, dotted


def _line_on_port_0(tmp_path, extra: str = "") -> str:
    """A config file: LINE on 127.0.0.1 port 0, ComfyUI and the LINE API unreachable."""
    config = tmp_path / "openclaw.yaml"
    config.write_text(
        "openclaw: {url: 'http://127.0.0.1:9', timeout_sec: 1}\n"
        "retry: {initial_sec: 0.05, max_sec: 0.2}\n"
        "state_dir: %s\n%s\n"
        "line: {channel_secret: sec, channel_access_token: tok, port: 0,\n"
        "       api_base: 'http://127.0.0.1:9'}\n" % (tmp_path / "state", extra))
    return str(config)


@pytest.mark.gen_test(timeout=40)
async def test_port_0_binds_a_free_port_logs_it_and_answers_on_it(tmp_path):
    """``line.port: 0``: the listening line names the real port, and /healthz answers there."""
    daemon = await DaemonProc.spawn(_line_on_port_0(tmp_path))
    try:
        line = await daemon.wait_line("event=listening", timeout=20)
        port = int(line.split(" port=")[1].split()[0])
        assert port != 0
        assert "routes=/line/webhook" in line
        await daemon.ready(timeout=20)
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=5) as resp:
            assert (resp.status, resp.read()) == (200, b"ok\n")
    finally:
        code = await daemon.stop()
    assert code == 0


@pytest.mark.gen_test(timeout=40)
async def test_status_port_0_gets_its_own_free_port_beside_the_webhook_one(tmp_path):
    """``status.port: 0`` on another loopback address: two listening lines, two real
    ports; /metrics answers on the status port only."""
    daemon = await DaemonProc.spawn(
        _line_on_port_0(tmp_path, "status: {bind: 127.0.0.2, port: 0}"))
    try:
        await daemon.ready(timeout=20)
        lines = [line for line in daemon.lines if "event=listening" in line]
        ports = {line.split(" bind=")[1].split()[0]: int(line.split(" port=")[1].split()[0])
                 for line in lines}
        assert set(ports) == {"127.0.0.1", "127.0.0.2"} and 0 not in ports.values()
        assert "status=1" in next(line for line in lines if "bind=127.0.0.2" in line)
        url = "http://127.0.0.2:%d/metrics" % ports["127.0.0.2"]
        with urllib.request.urlopen(url, timeout=5) as resp:
            assert resp.status == 200
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen("http://127.0.0.1:%d/metrics" % ports["127.0.0.1"],
                                   timeout=5)
        assert err.value.code == 404
    finally:
        code = await daemon.stop()
    assert code == 0


def test_check_names_no_port_0_for_the_tunnel():
    """--check's webhook line cannot know a port 0 listener's port: it says where to read it."""
    from openclaw_connector import check
    cfg = configmod.load(None, env={"OPENCLAW_CONNECTOR_LINE_CHANNEL_SECRET": "s",
                                    "OPENCLAW_CONNECTOR_LINE_CHANNEL_ACCESS_TOKEN": "t",
                                    "OPENCLAW_CONNECTOR_LINE_PORT": "0"})
    [line] = check.webhook_lines(cfg)
    assert ":0" not in line
    assert line.endswith("the tunnel forwards to the port the daemon logs at start "
                         "(event=listening bind=127.0.0.1)")
