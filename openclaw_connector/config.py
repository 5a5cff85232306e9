"""Configuration: YAML file + ``OPENCLAW_CONNECTOR_*`` environment + CLI flags.

Precedence, lowest first: defaults < YAML < environment < command line
(config.md). The result is an immutable tree of frozen dataclasses. Each key
is declared once, as a dataclass field whose metadata names its environment
variable, its kind (for parsing and validation) and whether it is a secret.
Validation collects every problem and reports them together, one line each,
``file: key.path: what is wrong and the fix``. This module is the only place
that reads the environment.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import os
import stat
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional
from urllib.parse import urlparse

import yaml

from openclaw_connector.config_values import ListProblem, Problem, describe, parse_value

SECRET_MASK = "***"


class ConfigError(Exception):
    """Raised with every problem found; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _key(env: Optional[str], kind: str = "str", *, secret: bool = False,
         default: Any = None, ids: str = "", std_env: tuple[str, ...] = ()) -> Any:
    """Declare one config key: its env variable, kind, secrecy and default.

    ``std_env`` names conventional variables (``HTTPS_PROXY``) read only when
    neither the file, our own variable nor the command line set the key.
    """
    meta = {"env": env, "kind": kind, "secret": secret, "ids": ids, "std_env": std_env}
    if isinstance(default, (list, tuple)):
        return field(default=tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


E = "OPENCLAW_CONNECTOR_"


@dataclass(frozen=True)
class OpenClawConfig:
    url: str = _key(E + "URL", "url", default="http://127.0.0.1:8188")
    admin_token: Optional[str] = _key(E + "ADMIN_TOKEN", secret=True)
    timeout_sec: float = _key(E + "TIMEOUT_SEC", "seconds", default=10.0)
    # /run retries a 429 budget_exceeded for this long before answering busy.
    submit_retry_sec: float = _key(E + "SUBMIT_RETRY_SEC", "seconds", default=15.0)
    # Least wait between those retries (the server's Retry-After wins when longer).
    submit_backoff_sec: float = _key(E + "SUBMIT_BACKOFF_SEC", "seconds", default=0.25)
    # /schedule run blocks the server up to ~30 s (openclaw-api.md 4.4).
    schedule_run_timeout_sec: float = _key(E + "SCHEDULE_RUN_TIMEOUT_SEC", "seconds",
                                           default=45.0)


@dataclass(frozen=True)
class LogConfig:
    file: Optional[str] = _key(E + "LOG_FILE", "path")
    level: Optional[str] = _key(E + "LOG_LEVEL", "level")


@dataclass(frozen=True)
class ConsoleConfig:
    enabled: bool = _key(E + "CONSOLE", "bool", default=False)


@dataclass(frozen=True)
class RetryConfig:
    """Backoff shared by every reconnecting loop; tests shrink it to milliseconds."""

    initial_sec: float = _key(E + "RETRY_INITIAL_SEC", "seconds", default=1.0)
    max_sec: float = _key(E + "RETRY_MAX_SEC", "seconds", default=60.0)


@dataclass(frozen=True)
class TelegramConfig:
    enabled: Optional[bool] = _key(E + "TELEGRAM_ENABLED", "bool")
    token: Optional[str] = _key(E + "TELEGRAM_TOKEN", secret=True)
    allowed_users: tuple[str, ...] = _key(E + "TELEGRAM_ALLOWED_USERS", "ids",
                                          default=(), ids="telegram_user")
    allowed_chats: tuple[str, ...] = _key(E + "TELEGRAM_ALLOWED_CHATS", "ids",
                                          default=(), ids="telegram_chat")
    api_base: str = _key(E + "TELEGRAM_API_BASE", "url", default="https://api.telegram.org")
    poll_timeout_sec: int = _key(E + "TELEGRAM_POLL_TIMEOUT_SEC", "poll_timeout", default=30)

    @property
    def on(self) -> bool:
        return bool(self.token) and self.enabled is not False


@dataclass(frozen=True)
class DiscordConfig:
    enabled: Optional[bool] = _key(E + "DISCORD_ENABLED", "bool")
    token: Optional[str] = _key(E + "DISCORD_TOKEN", secret=True)
    allowed_users: tuple[str, ...] = _key(E + "DISCORD_ALLOWED_USERS", "ids",
                                          default=(), ids="snowflake")
    allowed_channels: tuple[str, ...] = _key(E + "DISCORD_ALLOWED_CHANNELS", "ids",
                                             default=(), ids="snowflake")
    api_base: str = _key(E + "DISCORD_API_BASE", "url", default="https://discord.com/api/v10")
    gateway_url: Optional[str] = _key(E + "DISCORD_GATEWAY_URL", "ws_url")
    max_file_mb: float = _key(E + "DISCORD_MAX_FILE_MB", "positive", default=8.0)
    # Op 9 (not resumable) waits uniform(0.2, 1) x this before a new IDENTIFY (1-5 s).
    invalid_session_wait_sec: float = _key(E + "DISCORD_INVALID_SESSION_WAIT_SEC", "seconds",
                                           default=5.0)
    # A 429 without a JSON body is a Cloudflare ban: no REST call for at least this long.
    ban_backoff_sec: float = _key(E + "DISCORD_BAN_BACKOFF_SEC", "seconds", default=60.0)

    @property
    def on(self) -> bool:
        return bool(self.token) and self.enabled is not False


@dataclass(frozen=True)
class LineConfig:
    enabled: Optional[bool] = _key(E + "LINE_ENABLED", "bool")
    channel_secret: Optional[str] = _key(E + "LINE_CHANNEL_SECRET", secret=True)
    channel_access_token: Optional[str] = _key(E + "LINE_CHANNEL_ACCESS_TOKEN", secret=True)
    allowed_users: tuple[str, ...] = _key(E + "LINE_ALLOWED_USERS", "ids",
                                          default=(), ids="line_user")
    allowed_groups: tuple[str, ...] = _key(E + "LINE_ALLOWED_GROUPS", "ids",
                                           default=(), ids="line_group")
    bind: str = _key(E + "LINE_BIND", "host", default="127.0.0.1")
    port: int = _key(E + "LINE_PORT", "port", default=8099)
    path: str = _key(E + "LINE_PATH", "url_path", default="/line/webhook")
    api_base: str = _key(E + "LINE_API_BASE", "url", default="https://api.line.me")

    @property
    def on(self) -> bool:
        return bool(self.channel_secret) and self.enabled is not False


@dataclass(frozen=True)
class WhatsAppConfig:
    enabled: Optional[bool] = _key(E + "WHATSAPP_ENABLED", "bool")
    access_token: Optional[str] = _key(E + "WHATSAPP_ACCESS_TOKEN", secret=True)
    verify_token: Optional[str] = _key(E + "WHATSAPP_VERIFY_TOKEN", secret=True)
    app_secret: Optional[str] = _key(E + "WHATSAPP_APP_SECRET", secret=True)
    phone_number_id: Optional[str] = _key(E + "WHATSAPP_PHONE_NUMBER_ID", "digits")
    allowed_users: tuple[str, ...] = _key(E + "WHATSAPP_ALLOWED_USERS", "ids",
                                          default=(), ids="wa_id")
    bind: str = _key(E + "WHATSAPP_BIND", "host", default="127.0.0.1")
    port: int = _key(E + "WHATSAPP_PORT", "port", default=8098)
    path: str = _key(E + "WHATSAPP_PATH", "url_path", default="/whatsapp/webhook")
    api_base: str = _key(E + "WHATSAPP_API_BASE", "url",
                         default="https://graph.facebook.com/v21.0")
    require_signature: bool = _key(E + "WHATSAPP_REQUIRE_SIGNATURE", "bool", default=False)

    @property
    def on(self) -> bool:
        return bool(self.access_token) and self.enabled is not False


@dataclass(frozen=True)
class MediaConfig:
    public_base_url: Optional[str] = _key(E + "PUBLIC_BASE_URL", "https_url")
    path: str = _key(E + "MEDIA_PATH", "url_path", default="/media")
    ttl_sec: int = _key(E + "MEDIA_TTL_SEC", "positive_int", default=300)
    max_mb: float = _key(E + "MEDIA_MAX_MB", "positive", default=8.0)


@dataclass(frozen=True)
class StatusConfig:
    bind: str = _key(E + "STATUS_BIND", "host", default="127.0.0.1")
    port: Optional[int] = _key(E + "STATUS_PORT", "port")


@dataclass(frozen=True)
class ResultsConfig:
    """How finished jobs come back to chat (JobWatcher)."""

    max_images: int = _key(E + "RESULTS_MAX_IMAGES", "positive_int", default=4)
    max_wait_hours: float = _key(E + "RESULTS_MAX_WAIT_HOURS", "positive", default=24.0)
    poll_min_sec: float = _key(E + "RESULTS_POLL_MIN_SEC", "seconds", default=1.0)
    poll_max_sec: float = _key(E + "RESULTS_POLL_MAX_SEC", "seconds", default=30.0)
    approval_poll_sec: float = _key(E + "RESULTS_APPROVAL_POLL_SEC", "seconds", default=15.0)
    # Sends of one result before giving up (backoff between them: retry.*).
    delivery_attempts: int = _key(E + "RESULTS_DELIVERY_ATTEMPTS", "positive_int", default=6)
    # ComfyUI /ws keepalive: ping this often, drop the socket after as long without a pong.
    ws_ping_sec: float = _key(E + "RESULTS_WS_PING_SEC", "seconds", default=20.0)


@dataclass(frozen=True)
class RateLimitConfig:
    """Per-sender token bucket for commands."""

    per_minute: float = _key(E + "RATE_LIMIT_PER_MINUTE", "positive", default=10.0)
    burst: int = _key(E + "RATE_LIMIT_BURST", "positive_int", default=5)


@dataclass(frozen=True)
class NetworkConfig:
    """Outbound proxies for the platform APIs (channels/proxy.py); loopback and the
    OpenClaw host are always dialled directly."""

    # For https:// APIs (every platform's default), through a CONNECT tunnel.
    proxy: Optional[str] = _key(E + "PROXY", "proxy_url", secret=True,
                                std_env=("https_proxy", "HTTPS_PROXY"))
    # For http:// API bases (rare; a local relay).
    http_proxy: Optional[str] = _key(E + "HTTP_PROXY", "proxy_url", secret=True,
                                     std_env=("http_proxy", "HTTP_PROXY"))
    no_proxy: tuple[str, ...] = _key(E + "NO_PROXY", "hosts", default=(),
                                     std_env=("no_proxy", "NO_PROXY"))


@dataclass(frozen=True)
class Config:
    openclaw: OpenClawConfig = field(default_factory=OpenClawConfig)
    admin_users: tuple[str, ...] = _key(E + "ADMIN_USERS", "ids", default=(), ids="admin")
    debug: bool = _key(E + "DEBUG", "bool", default=False)
    state_dir: str = _key(E + "STATE_DIR", "path", default="./state")
    shutdown_grace_sec: float = _key(E + "SHUTDOWN_GRACE_SEC", "seconds", default=10.0)
    log: LogConfig = field(default_factory=LogConfig)
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    retry: RetryConfig = field(default_factory=RetryConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    discord: DiscordConfig = field(default_factory=DiscordConfig)
    line: LineConfig = field(default_factory=LineConfig)
    whatsapp: WhatsAppConfig = field(default_factory=WhatsAppConfig)
    media: MediaConfig = field(default_factory=MediaConfig)
    status: StatusConfig = field(default_factory=StatusConfig)
    results: ResultsConfig = field(default_factory=ResultsConfig)
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    # Where the file came from, for messages; not a YAML key.
    source: str = field(default="", metadata={"internal": True})

    @property
    def log_level(self) -> str:
        return (self.log.level or ("debug" if self.debug else "info")).upper()

    def enabled_channels(self) -> list[str]:
        names = ["console"] if self.console.enabled else []
        for name in ("telegram", "discord", "line", "whatsapp"):
            if getattr(self, name).on:
                names.append(name)
        return names

    def secrets(self) -> list[str]:
        """Every configured secret value (for the log redaction filter)."""
        found = []
        for _path, value, meta in _walk(self):
            if meta.get("secret") and value:
                found.append(str(value))
        return found

    def to_dict(self, *, mask: bool = True) -> dict:
        """The effective config as plain data; secrets become ``***``."""
        return _to_dict(self, mask)


# --------------------------------------------------------------------------- schema walking

def _walk(obj: Any, prefix: str = ""):
    for f in dataclasses.fields(obj):
        if f.metadata.get("internal"):
            continue
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from _walk(value, prefix + f.name + ".")
        else:
            yield prefix + f.name, value, f.metadata


def _to_dict(obj: Any, mask: bool) -> dict:
    out: dict = {}
    for f in dataclasses.fields(obj):
        if f.metadata.get("internal"):
            continue
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out[f.name] = _to_dict(value, mask)
        elif f.metadata.get("secret") and value and mask:
            out[f.name] = SECRET_MASK
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        else:
            out[f.name] = value
    return out


def mask_secret(value: Optional[str]) -> str:
    """Show that a secret is set without showing it (``***1234`` keeps no more than 4)."""
    if not value:
        return "(unset)"
    return SECRET_MASK if len(value) < 16 else SECRET_MASK + value[-4:]


# --------------------------------------------------------------------------- loading

def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return ' (did you mean "%s"?)' % close[0] if close else ""


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
            values[name] = _build(f.default_factory, sub, env, path + ".", problems, origin,
                                  cli)
            continue
        source, value = None, dataclasses.MISSING
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
        if cfg.whatsapp.require_signature and not cfg.whatsapp.app_secret:
            problems.append("%s: whatsapp: app_secret is required when require_signature "
                            "is true" % origin)
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
    return dataclasses.replace(cfg, source=path or "")


def with_overrides(cfg: Config, **sections: Mapping[str, Any]) -> Config:
    """A copy of ``cfg`` with some keys replaced, e.g. ``with_overrides(cfg, telegram={...})``."""
    changes = {name: dataclasses.replace(getattr(cfg, name), **vals)
               for name, vals in sections.items()}
    return dataclasses.replace(cfg, **changes)


def permission_warning(path: str, cfg: Config) -> Optional[str]:
    """A warning line when the file itself holds a secret and is readable by group or others.

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
    if not mode & (stat.S_IRGRP | stat.S_IROTH):
        return None
    for dotted, _value, meta in _walk(cfg):
        node: Any = raw
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if meta.get("secret") and node:
            return ("config file %s holds secrets (%s) and is readable by group or others; "
                    "run: chmod 600 %s" % (path, dotted, path))
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
