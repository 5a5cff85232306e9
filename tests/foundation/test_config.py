"""Config loading: precedence defaults < YAML < env < CLI, and validation messages."""

from __future__ import annotations

import pytest

from openclaw_connector import config as configmod
from openclaw_connector.config import ConfigError

# One key of every section: (dotted key, YAML value, env name, env value, CLI value, parsed)
PRECEDENCE = [
    ("openclaw.url", "http://10.0.0.5:8188", "OPENCLAW_CONNECTOR_URL", "http://10.0.0.6:8188",
     "http://10.0.0.7:8188"),
    ("admin_users", ["1"], "OPENCLAW_CONNECTOR_ADMIN_USERS", "2, telegram:3", ["9"]),
    ("debug", False, "OPENCLAW_CONNECTOR_DEBUG", "yes", False),
    ("state_dir", "/tmp/a", "OPENCLAW_CONNECTOR_STATE_DIR", "/tmp/b", "/tmp/c"),
    ("log.level", "info", "OPENCLAW_CONNECTOR_LOG_LEVEL", "warning", "debug"),
    ("console.enabled", False, "OPENCLAW_CONNECTOR_CONSOLE", "1", True),
    ("telegram.poll_timeout_sec", 20, "OPENCLAW_CONNECTOR_TELEGRAM_POLL_TIMEOUT_SEC", "25", 5),
    ("discord.allowed_channels", ["123456"], "OPENCLAW_CONNECTOR_DISCORD_ALLOWED_CHANNELS",
     "234567,345678", ["999999"]),
    ("line.port", 8100, "OPENCLAW_CONNECTOR_LINE_PORT", "8101", 8102),
    ("whatsapp.path", "/wa", "OPENCLAW_CONNECTOR_WHATSAPP_PATH", "/wb", "/wc"),
    ("media.ttl_sec", 100, "OPENCLAW_CONNECTOR_MEDIA_TTL_SEC", "200", 300),
    ("status.port", 9100, "OPENCLAW_CONNECTOR_STATUS_PORT", "9101", 9102),
    ("results.max_images", 2, "OPENCLAW_CONNECTOR_RESULTS_MAX_IMAGES", "3", 5),
    ("rate_limit.burst", 2, "OPENCLAW_CONNECTOR_RATE_LIMIT_BURST", "3", 4),
    ("retry.max_sec", 30, "OPENCLAW_CONNECTOR_RETRY_MAX_SEC", "40", 50),
]


def _yaml_for(dotted, value):
    import yaml
    node: dict = {}
    cur = node
    parts = dotted.split(".")
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value
    return yaml.safe_dump(node)


def _get(cfg, dotted):
    value = cfg
    for part in dotted.split("."):
        value = getattr(value, part)
    return list(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize("dotted,yaml_value,env_name,env_value,cli_value", PRECEDENCE,
                         ids=[p[0] for p in PRECEDENCE])
def test_precedence_yaml_env_cli(tmp_path, dotted, yaml_value, env_name, env_value, cli_value):
    path = tmp_path / "c.yaml"
    path.write_text(_yaml_for(dotted, yaml_value))
    default = _get(configmod.load(None, env={}), dotted)
    from_yaml = _get(configmod.load(str(path), env={}), dotted)
    from_env = _get(configmod.load(str(path), env={env_name: env_value}), dotted)
    from_cli = _get(configmod.load(str(path), env={env_name: env_value},
                                   overrides={dotted: cli_value}), dotted)
    assert from_yaml != default or yaml_value == default
    assert from_yaml == (yaml_value if not isinstance(yaml_value, list) else yaml_value)
    assert from_env != from_yaml
    assert from_cli == cli_value
    assert len({repr(from_yaml), repr(from_env), repr(from_cli)}) == 3 or dotted in (
        "debug", "console.enabled")


def test_env_list_is_comma_separated_and_trimmed():
    cfg = configmod.load(None, env={"OPENCLAW_CONNECTOR_TELEGRAM_ALLOWED_USERS": "123, 789012"})
    assert cfg.telegram.allowed_users == ("123", "789012")


def test_channel_on_by_credential_and_off_by_enabled_false():
    env = {"OPENCLAW_CONNECTOR_TELEGRAM_TOKEN": "1:x"}
    assert configmod.load(None, env=env).telegram.on
    assert not configmod.load(None, env=env, overrides={"telegram.enabled": False}).telegram.on


def problems(text=None, env=None, tmp_path=None, **overrides):
    path = None
    if text is not None:
        path = tmp_path / "openclaw.yaml"
        path.write_text(text)
    with pytest.raises(ConfigError) as info:
        configmod.load(str(path) if path else None, env=env or {}, overrides=overrides)
    return info.value.problems


def test_companion_keys_required(tmp_path):
    out = problems("whatsapp:\n  access_token: t\nline:\n  channel_secret: s\n",
                   tmp_path=tmp_path)
    assert "openclaw.yaml: whatsapp: phone_number_id is required when access_token is set" in out
    assert "openclaw.yaml: whatsapp: verify_token is required when access_token is set" in out
    assert ("openclaw.yaml: line: channel_access_token is required when channel_secret is set"
            in out)


def test_public_base_url_must_be_https(tmp_path):
    out = problems("media:\n  public_base_url: http://example.test\n", tmp_path=tmp_path)
    assert len(out) == 1 and out[0].startswith("openclaw.yaml: media.public_base_url: expected "
                                               "an https:// URL")


def test_non_http_url_and_wrong_types(tmp_path):
    out = problems("openclaw:\n  url: ftp://x\n  timeout_sec: soon\ndebug: maybe\n"
                   "telegram: [1]\n", tmp_path=tmp_path)
    joined = "\n".join(out)
    assert "openclaw.url: expected an http:// or https:// URL" in joined
    assert 'openclaw.timeout_sec: expected a number, got "soon"' in joined
    assert 'debug: expected true or false' in joined
    assert "telegram: expected a mapping of keys" in joined


def test_unknown_nested_key_suggests(tmp_path):
    out = problems("telegram:\n  tokn: x\n", tmp_path=tmp_path)
    assert out == ['openclaw.yaml: telegram.tokn: unknown key (did you mean "token"?)']


def test_env_problem_names_the_variable():
    out = problems(env={"OPENCLAW_CONNECTOR_LINE_PORT": "http"})
    assert "line.port (from OPENCLAW_CONNECTOR_LINE_PORT)" in out[0]


def test_prefixed_ids_accepted_and_wrong_platform_refused(tmp_path):
    cfg = configmod.load(None, env={}, overrides={"admin_users": ["telegram:1", "discord:2", "3"]})
    assert cfg.admin_users == ("telegram:1", "discord:2", "3")
    out = problems("telegram:\n  allowed_users: ['discord:123']\n", tmp_path=tmp_path)
    assert "names another platform" in out[0]


def test_empty_file_is_all_defaults(tmp_path):
    path = tmp_path / "e.yaml"
    path.write_text("")
    cfg = configmod.load(str(path), env={})
    assert cfg.openclaw.url == "http://127.0.0.1:8188"
    assert cfg.enabled_channels() == []
    assert cfg.log_level == "INFO"


def test_secrets_listed_for_redaction():
    cfg = configmod.load(None, env={"OPENCLAW_CONNECTOR_ADMIN_TOKEN": "tok-abc-123",
                                    "OPENCLAW_CONNECTOR_WHATSAPP_VERIFY_TOKEN": "verify-xyz"})
    assert set(cfg.secrets()) == {"tok-abc-123", "verify-xyz"}


def test_permission_warning_only_for_secrets_in_the_file(tmp_path):
    import os
    path = tmp_path / "c.yaml"
    path.write_text("telegram:\n  allowed_users: [1]\n")
    os.chmod(path, 0o644)
    env = {"OPENCLAW_CONNECTOR_TELEGRAM_TOKEN": "123:abc"}
    cfg = configmod.load(str(path), env=env)
    assert configmod.permission_warning(str(path), cfg) is None
    path.write_text("telegram:\n  token: '123:abc'\n")
    cfg = configmod.load(str(path), env={})
    warning = configmod.permission_warning(str(path), cfg)
    assert warning and "telegram.token" in warning and "chmod 0640" in warning
    os.chmod(path, 0o600)
    assert configmod.permission_warning(str(path), cfg) is None


def test_readme_documents_every_key():
    """Each key's YAML path and environment variable stand in README.rst's table."""
    import pathlib
    readme = (pathlib.Path(__file__).parents[2] / "README.rst").read_text()
    missing = [(path, meta["env"]) for path, _v, meta in configmod._walk(configmod.Config())
               if "``%s``" % path not in readme or "``%s``" % meta["env"] not in readme]
    assert missing == []
