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

from openclaw_connector.config_values import (ListProblem, Problem, describe, id_pattern,
                                              parse_value)

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
class Allowlist:
    """Who one platform lets in, as its channel's config names them.

    ``users`` and ``chats`` are ids, bare or ``platform:id``; ``user_id_form``
    is the regex a bare user id of this platform matches, so the command layer
    can tell which platforms a bare ``admin_users`` entry could belong to
    without knowing any platform.
    """

    users: tuple[str, ...] = ()
    chats: tuple[str, ...] = ()
    user_id_form: str = ""


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
    # After the log file could not be opened (directory deleted, disk full) lines
    # go to stderr, and the file is tried again this often.
    retry_sec: float = _key(E + "LOG_RETRY_SEC", "positive", default=30.0)


@dataclass(frozen=True)
class ConsoleConfig:
    enabled: bool = _key(E + "CONSOLE", "bool", default=False)
    # Where the console saves result images; unset = <state_dir>/console.
    save_dir: Optional[str] = _key(E + "CONSOLE_SAVE_DIR", "path")


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
    # getUpdates' HTTP timeout is poll_timeout_sec + this (platforms.md §1).
    poll_margin_sec: float = _key(E + "TELEGRAM_POLL_MARGIN_SEC", "seconds", default=10.0)
    # At stop, running commands get this long; the rest stay pending and run at next start.
    stop_drain_sec: float = _key(E + "TELEGRAM_STOP_DRAIN_SEC", "seconds", default=5.0)
    # Commands running at once before polling pauses (they wait queued at Telegram).
    max_inflight: int = _key(E + "TELEGRAM_MAX_INFLIGHT", "positive_int", default=200)

    @property
    def allowlist(self) -> Allowlist:
        return Allowlist(self.allowed_users, self.allowed_chats, id_pattern("telegram_user"))

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
    # Register the commands as guild slash commands (interactive.md 5.2).
    slash_commands: bool = _key(E + "DISCORD_SLASH_COMMANDS", "bool", default=False)

    @property
    def allowlist(self) -> Allowlist:
        return Allowlist(self.allowed_users, self.allowed_channels, id_pattern("snowflake"))

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
    # Message content (a user's photo) is served from its own host (interactive.md §3.3).
    data_api_base: str = _key(E + "LINE_DATA_API_BASE", "url",
                              default="https://api-data.line.me")

    @property
    def allowlist(self) -> Allowlist:
        return Allowlist(self.allowed_users, self.allowed_groups, id_pattern("line_user"))

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
    # Kept for old configs: a signature is now always required unless insecure_unsigned.
    require_signature: bool = _key(E + "WHATSAPP_REQUIRE_SIGNATURE", "bool", default=False)
    # The escape hatch for running without app_secret: unsigned posts are accepted,
    # and their senders are never treated as admins (anyone can forge "from").
    insecure_unsigned: bool = _key(E + "WHATSAPP_INSECURE_UNSIGNED", "bool", default=False)

    @property
    def allowlist(self) -> Allowlist:
        return Allowlist(self.allowed_users, (), id_pattern("wa_id"))

    @property
    def on(self) -> bool:
        return bool(self.access_token) and self.enabled is not False


@dataclass(frozen=True)
class MediaConfig:
    public_base_url: Optional[str] = _key(E + "PUBLIC_BASE_URL", "https_url")
    path: str = _key(E + "MEDIA_PATH", "url_path", default="/media")
    ttl_sec: int = _key(E + "MEDIA_TTL_SEC", "positive_int", default=300)
    max_mb: float = _key(E + "MEDIA_MAX_MB", "positive", default=8.0)
    # Photos from chat (issue 19): the download cap, enforced while streaming; how long
    # a user's last photo in a chat waits for a /run; the cap for video/animation results.
    max_in_mb: float = _key(E + "MEDIA_MAX_IN_MB", "positive", default=10.0)
    input_window_sec: float = _key(E + "MEDIA_INPUT_WINDOW_SEC", "positive", default=600.0)
    max_video_mb: float = _key(E + "MEDIA_MAX_VIDEO_MB", "positive", default=50.0)


@dataclass(frozen=True)
class StatusConfig:
    bind: str = _key(E + "STATUS_BIND", "host", default="127.0.0.1")
    port: Optional[int] = _key(E + "STATUS_PORT", "port")


@dataclass(frozen=True)
class HttpConfig:
    """Limits of the daemon's own listeners (webhooks, media, health): what a flood
    of connections or bodies may cost before it is refused (issue 20)."""

    # Open connections per listener; at the cap the oldest idle one is closed
    # (or, when none is idle, the new one). Keep the sum well under LimitNOFILE.
    max_connections: int = _key(E + "HTTP_MAX_CONNECTIONS", "positive_int", default=256)
    # Request bodies held in memory across all connections; beyond it new
    # bodies get 503 with Retry-After.
    max_buffered_mb: float = _key(E + "HTTP_MAX_BUFFERED_MB", "positive", default=64.0)
    # Out of file descriptors (EMFILE): stop accepting this long, doubling to 10x.
    accept_backoff_sec: float = _key(E + "HTTP_ACCEPT_BACKOFF_SEC", "positive", default=0.5)


@dataclass(frozen=True)
class ResultsConfig:
    """How finished jobs come back to chat (JobWatcher)."""

    max_images: int = _key(E + "RESULTS_MAX_IMAGES", "positive_int", default=4)
    max_wait_hours: float = _key(E + "RESULTS_MAX_WAIT_HOURS", "positive", default=24.0)
    poll_min_sec: float = _key(E + "RESULTS_POLL_MIN_SEC", "seconds", default=1.0)
    poll_max_sec: float = _key(E + "RESULTS_POLL_MAX_SEC", "seconds", default=30.0)
    approval_poll_sec: float = _key(E + "RESULTS_APPROVAL_POLL_SEC", "seconds", default=15.0)
    # Attempts of one reply or result that deliver no new part before the Outbox gives up
    # (backoff between them: retry.*).
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
    """Outbound proxies for the platform APIs (net/proxy.py); loopback and the
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
    # How often expired state rows are swept and the database file is checked
    # (deleted or replaced while running: the open copy is written back).
    state_check_sec: float = _key(E + "STATE_CHECK_SEC", "positive", default=30.0)
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
    http: HttpConfig = field(default_factory=HttpConfig)
    results: ResultsConfig = field(default_factory=ResultsConfig)
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)
    # A plain message (no "/") in a private chat runs this template with the text as prompt.
    default_template: Optional[str] = _key(E + "DEFAULT_TEMPLATE", "template_id")
    # Per template id: {"prompt_input": <input that takes free text>}.
    # (environment: "portrait:positive, poster:prompt")
    templates: Optional[Mapping[str, Mapping[str, str]]] = _key(E + "PROMPT_INPUTS",
                                                                "template_options")
    network: NetworkConfig = field(default_factory=NetworkConfig)
    # Where the file came from, for messages; not a YAML key.
    source: str = field(default="", metadata={"internal": True})
    # Warnings found while loading (unknown OPENCLAW_CONNECTOR_* variables); not a key.
    load_warnings: tuple = field(default=(), metadata={"internal": True})

    @property
    def log_level(self) -> str:
        """``debug: true`` (``OPENCLAW_CONNECTOR_DEBUG=1``) wins over ``log.level``, so the
        seed's one switch works with the shipped example; ``--log-level`` is applied by
        cli.py on top of this."""
        return ("debug" if self.debug else (self.log.level or "info")).upper()

    def warnings(self) -> list[str]:
        """Things that work but will surprise the user later: ``"where: sentence"`` each."""
        found = list(self.load_warnings)
        for name, label in (("line", "LINE"), ("whatsapp", "WhatsApp")):
            if getattr(self, name).on and not self.media.public_base_url:
                found.append("media: images cannot be delivered to %s until "
                             "media.public_base_url is set to your HTTPS tunnel URL "
                             "(OPENCLAW_CONNECTOR_PUBLIC_BASE_URL)" % label)
        return found

    def image_input(self, template_id: str) -> Optional[str]:
        """``templates.<id>.image_input``: the input a user's photo binds to, when configured."""
        options = (self.templates or {}).get(template_id) or {}
        return options.get("image_input")

    def prompt_input(self, template_id: str) -> Optional[str]:
        """``templates.<id>.prompt_input``: the input free text goes to, when configured."""
        options = (self.templates or {}).get(template_id) or {}
        return options.get("prompt_input")

    def enabled_channels(self) -> list[str]:
        names = ["console"] if self.console.enabled else []
        for name in ("telegram", "discord", "line", "whatsapp"):
            if getattr(self, name).on:
                names.append(name)
        return names

    def allowlists(self) -> dict[str, Allowlist]:
        """Each chat platform's allowlist, enabled or not (the command layer's input)."""
        return {name: getattr(self, name).allowlist
                for name in ("telegram", "discord", "line", "whatsapp")}

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
        elif isinstance(value, Mapping):
            out[f.name] = {k: dict(v) for k, v in value.items()}
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
            close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
            found.append("environment: %s: unknown variable, ignored%s" % (
                name, " (did you mean %s?)" % close[0] if close else ""))
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
