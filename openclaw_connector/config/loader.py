"""Loading and validation: YAML file + ``OPENCLAW_CONNECTOR_*`` environment + CLI flags.

Precedence, lowest first: defaults < YAML < environment < command line
(config.md). Validation collects every problem and reports them together, one
line each, ``file: key.path: what is wrong and the fix``. This module is the
only place that reads the environment.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import stat
from typing import Any, Mapping, Optional
from urllib.parse import urlparse

import yaml

from openclaw_connector.config.schema import E, _walk
from openclaw_connector.config.sections import Config
from openclaw_connector.config_values import KeyProblem, ListProblem, Problem, describe, \
    parse_value


class ConfigError(Exception):
    """Raised with every problem found; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# --------------------------------------------------------------------------- loading

def _suggest(word: str, choices: list[str]) -> str:
    close = _closest(word, choices, 0.6)
    return ' (did you mean "%s"?)' % close if close else ""


def _closest(word: str, choices: list[str], cutoff: float) -> str:
    """The nearest choice, or "": difflib is imported only for a typo (~0.2 MiB RSS)."""
    import difflib
    close = difflib.get_close_matches(word, choices, n=1, cutoff=cutoff)
    return close[0] if close else ""


def _build(cls: type, raw: Mapping, env: Mapping[str, str], prefix: str,
           problems: list[str], origin: str, cli: Mapping[str, Any]) -> Any:
    values = {}
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    for key in raw:
        if key not in fields:
            problems.append("%s: %s%s: unknown key%s" % (
                origin, prefix, key, _suggest(str(key), list(fields))))
    section = prefix.rstrip(".").split(".")[0] if prefix else ""
    for name, f in fields.items():
        path = prefix + name
        if f.default_factory is not dataclasses.MISSING:
            sub = raw.get(name)
            if sub is None:
                sub = {}
            if not isinstance(sub, Mapping):
                problems.append("%s: %s: expected a mapping of keys, got %s" % (
                    origin, path, describe(sub)))
                sub = {}
            section_cls: Any = f.default_factory   # the section's dataclass
            values[name] = _build(section_cls, sub, env, path + ".", problems, origin, cli)
            continue
        source = ""
        value: Any = dataclasses.MISSING
        if name in raw and raw[name] is not None:
            source, value = origin, raw[name]
        env_name = f.metadata.get("env")
        if env_name and env.get(env_name, "").strip() != "":
            source, value = "environment", env[env_name]
        if cli.get(path) is not None:
            source, value = "command line", cli[path]
        if value is dataclasses.MISSING:
            for env_name in f.metadata.get("std_env", ()):
                if env.get(env_name, "").strip() != "":
                    fallback: Any = env[env_name]
                    source, value = "environment", fallback
                    break
        if value is dataclasses.MISSING:
            continue
        where = {origin: path, "environment": "%s (from %s)" % (path, env_name)}.get(
            source, "%s (from the command line)" % path)
        try:
            values[name] = parse_value(value, f.metadata, section)
        except ListProblem as exc:
            for index, text in exc.items:
                problems.append("%s: %s[%d]: %s" % (origin, where, index, text))
        except KeyProblem as exc:
            problems.append("%s: %s: %s" % (origin, where.replace(
                path, "%s.%s" % (path, exc.subkey), 1), exc))
        except Problem as exc:
            problems.append("%s: %s: %s" % (origin, where, exc))
    return cls(**values)


def _cross_checks(cfg: Config, origin: str) -> list[str]:
    problems = []

    def need(section: str, key: str, because: str) -> None:
        if not getattr(getattr(cfg, section), key):
            problems.append("%s: %s: %s is required when %s is set" % (
                origin, section, key, because))

    if cfg.line.on:
        need("line", "channel_access_token", "channel_secret")
    if cfg.whatsapp.on:
        need("whatsapp", "phone_number_id", "access_token")
        need("whatsapp", "verify_token", "access_token")
        if not cfg.whatsapp.app_secret and (cfg.whatsapp.require_signature or
                                            not cfg.whatsapp.insecure_unsigned):
            problems.append(
                "%s: whatsapp.app_secret: required, because Meta signs every webhook and "
                "without it anyone who finds the URL can post as any number; copy it from "
                "the Meta app dashboard (App settings > Basic > App secret) into "
                "whatsapp.app_secret or OPENCLAW_CONNECTOR_WHATSAPP_APP_SECRET (only for "
                "a test setup: whatsapp.insecure_unsigned: true accepts unsigned posts "
                "and refuses admin commands from WhatsApp)" % origin)
    listeners: dict[tuple[str, int], str] = {}
    for name in ("line", "whatsapp"):
        sub = getattr(cfg, name)
        if sub.on:
            if listeners.get((sub.bind, sub.port)) == sub.path:
                problems.append("%s: %s.path: %s is already the path of another channel "
                                "on %s:%d" % (origin, name, sub.path, sub.bind, sub.port))
            listeners[(sub.bind, sub.port)] = sub.path
            if sub.path == cfg.media.path or sub.path == "/healthz":
                problems.append("%s: %s.path: %s collides with the media or health route" % (
                    origin, name, sub.path))
    if cfg.retry.max_sec < cfg.retry.initial_sec:
        problems.append("%s: retry.max_sec: must be at least retry.initial_sec (%s)" % (
            origin, cfg.retry.initial_sec))
    if cfg.results.poll_max_sec < cfg.results.poll_min_sec:
        problems.append("%s: results.poll_max_sec: must be at least results.poll_min_sec" % (
            origin))
    return problems


def _env_warnings(env: Mapping[str, str]) -> list[str]:
    """An ``OPENCLAW_CONNECTOR_*`` variable that no key reads is most likely a typo."""
    known = {meta["env"] for _path, _value, meta in _walk(Config()) if meta.get("env")}
    known.add(E + "CONFIG")
    found = []
    for name in sorted(env):
        if name.startswith(E) and name not in known:
            close = _closest(name, sorted(known), 0.8)
            found.append("environment: %s: unknown variable, ignored%s" % (
                name, " (did you mean %s?)" % close if close else ""))
    return found


def _duplicate_keys(node: Any, prefix: str, origin: str, out: list[str]) -> None:
    """A key written twice in one mapping: YAML keeps the last one silently."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is None or key == "<<":
                continue
            line = key_node.start_mark.line + 1
            if key in seen:
                out.append("%s: %s%s: duplicate key at line %d (first at line %d); YAML would "
                           "keep only the last one: merge them into one" % (
                               origin, prefix, key, line, seen[key]))
            else:
                seen[key] = line
            _duplicate_keys(value_node, prefix + key + ".", origin, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _duplicate_keys(item, "%s[%d]." % (prefix.rstrip("."), index), origin, out)


def _read_yaml(path: str) -> tuple[dict, str]:
    origin = os.path.basename(path) or path
    try:
        with open(path, "rb") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise ConfigError(["%s: file not found (pass -c with the path of your config; "
                           "openclaw.yaml.example is a start)" % path]) from None
    except OSError as exc:
        raise ConfigError(["%s: cannot read: %s" % (path, exc.strerror)]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = "line %d, column %d" % (mark.line + 1, mark.column + 1) if mark else "?"
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(["%s: %s: invalid YAML: %s" % (path, where, what)]) from None
    duplicates: list[str] = []
    _duplicate_keys(yaml.compose(text, Loader=yaml.SafeLoader), "", origin, duplicates)
    if duplicates:
        raise ConfigError(duplicates)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(["%s: the top level must be a mapping of keys, got %s" % (
            path, type(data).__name__)])
    return data, origin


def load(path: Optional[str], *, env: Optional[Mapping[str, str]] = None,
         overrides: Optional[Mapping[str, Any]] = None) -> Config:
    """Load, merge and validate; raise :class:`ConfigError` with every problem.

    ``overrides`` are command-line values keyed by dotted path
    (``{"console.enabled": True, "log.file": "x.log"}``); they win over all.
    """
    env = os.environ if env is None else env
    raw, origin = _read_yaml(path) if path else ({}, "environment")
    problems: list[str] = []
    cli = {k: v for k, v in (overrides or {}).items() if v is not None}
    cfg = _build(Config, raw, env, "", problems, origin, cli)
    if not problems:
        problems.extend(_cross_checks(cfg, origin))
    if problems:
        raise ConfigError(problems)
    return dataclasses.replace(cfg, source=path or "", load_warnings=tuple(_env_warnings(env)))


def no_channel_problem(cfg: Config) -> Optional[str]:
    """The problem line when nothing could ever send a command (an idle daemon)."""
    if cfg.enabled_channels():
        return None
    return ("%s: no channel is enabled: set a platform credential (telegram.token, "
            "discord.token, line.channel_secret or whatsapp.access_token, or their "
            "OPENCLAW_CONNECTOR_* variables) or pass --console" % (
                os.path.basename(cfg.source) if cfg.source else "environment"))


def with_overrides(cfg: Config, **sections: Mapping[str, Any]) -> Config:
    """A copy of ``cfg`` with some keys replaced, e.g. ``with_overrides(cfg, telegram={...})``."""
    changes = {name: dataclasses.replace(getattr(cfg, name), **vals)
               for name, vals in sections.items()}
    return dataclasses.replace(cfg, **changes)


def permission_warning(path: str, cfg: Config) -> Optional[str]:
    """A warning line when the file itself holds a secret and every user can read it.

    Secrets that come from the environment (an ``EnvironmentFile``) do not
    make a world-readable YAML file a leak, so only the file's own keys count.
    """
    if not path:
        return None
    try:
        mode = os.stat(path).st_mode
        raw, _origin = _read_yaml(path)
    except (OSError, ConfigError):
        return None
    # Group-readable is the service setup (root:<service group>, 0640); others are not.
    if not mode & stat.S_IROTH:
        return None
    for dotted, _value, meta in _walk(cfg):
        node: Any = raw
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if meta.get("secret") and node:
            return ("config file %s holds secrets (%s) and is readable by every user; run: "
                    "chown root:<group of the service user> %s && chmod 0640 %s (or move "
                    "the secret to the environment file)" % (path, dotted, path, path))
    return None


def is_loopback_url(url: str) -> bool:
    """True when ``url`` names this machine (localhost, 127/8, ::1)."""
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def dump_yaml(cfg: Config) -> str:
    """The effective config as YAML with every secret replaced by ``***``."""
    return yaml.safe_dump(cfg.to_dict(mask=True), sort_keys=False, default_flow_style=False)
