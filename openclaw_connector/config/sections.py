"""The config tree: every section but the chat platforms', and ``Config`` itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from openclaw_connector.config.buttons import ButtonsConfig
from openclaw_connector.config.platforms import (DiscordConfig, LineConfig, TelegramConfig,
                                                 WhatsAppConfig)
from openclaw_connector.config.progress import ProgressConfig
from openclaw_connector.config.schema import E, Allowlist, _key, _to_dict, _walk


@dataclass(frozen=True)
class OpenClawConfig:
    """ComfyUI + OpenClaw: where, the admin token, and how long each call may take."""

    url: str = _key(E + "URL", "url", default="http://127.0.0.1:8188")
    admin_token: Optional[str] = _key(E + "ADMIN_TOKEN", secret=True)
    timeout_sec: float = _key(E + "TIMEOUT_SEC", "seconds", default=10.0)
    # Unset = timeout_sec (the seed's one knob): connecting, and one whole call.
    connect_timeout_sec: Optional[float] = _key(E + "CONNECT_TIMEOUT_SEC", "positive")
    request_timeout_sec: Optional[float] = _key(E + "REQUEST_TIMEOUT_SEC", "positive")
    # /run retries a 429 budget_exceeded for this long before answering busy.
    submit_retry_sec: float = _key(E + "SUBMIT_RETRY_SEC", "seconds", default=15.0)
    # Least wait between those retries (the server's Retry-After wins when longer).
    submit_backoff_sec: float = _key(E + "SUBMIT_BACKOFF_SEC", "seconds", default=0.25)
    # /schedule run blocks the server up to ~30 s (openclaw-api.md 4.4).
    schedule_run_timeout_sec: float = _key(E + "SCHEDULE_RUN_TIMEOUT_SEC", "seconds",
                                           default=45.0)

    @property
    def connect_sec(self) -> float:
        """Seconds to connect: ``connect_timeout_sec``, else ``timeout_sec``."""
        return self.connect_timeout_sec or self.timeout_sec

    @property
    def request_sec(self) -> float:
        """Seconds for one whole call: ``request_timeout_sec``, else ``timeout_sec``."""
        return self.request_timeout_sec or self.timeout_sec


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
    progress: ProgressConfig = field(default_factory=ProgressConfig)
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)
    # A plain message (no "/") in a private chat runs this template with the text as prompt.
    default_template: Optional[str] = _key(E + "DEFAULT_TEMPLATE", "template_id")
    # Per template id: {"prompt_input": <input that takes free text>, "image_input": <input
    # a photo binds to>, "followups": {<button label>: <template fed the result image>}}.
    # (environment, prompt inputs only: "portrait:positive, poster:prompt")
    templates: Optional[Mapping[str, Mapping[str, Any]]] = _key(E + "PROMPT_INPUTS",
                                                                "template_options")
    network: NetworkConfig = field(default_factory=NetworkConfig)
    buttons: ButtonsConfig = field(default_factory=ButtonsConfig)
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
        for name in ("line", "whatsapp"):
            sub = getattr(self, name)
            # Port 0 is one free port per bind address, so these two share a listener.
            if sub.on and self.status.port == 0 and sub.port == 0 and \
                    sub.bind == self.status.bind:
                found.append("status: status.port 0 and %s.port 0 on %s share one listener, "
                             "so /metrics and the full /healthz answer on the webhook port; "
                             "give status.port a number of its own" % (name, sub.bind))
        return found

    def image_input(self, template_id: str) -> Optional[str]:
        """``templates.<id>.image_input``: the input a user's photo binds to, when configured."""
        options = (self.templates or {}).get(template_id) or {}
        return options.get("image_input")

    def followups(self, template_id: str) -> dict[str, str]:
        """``templates.<id>.followups``: button label -> target template, in file order."""
        options = (self.templates or {}).get(template_id) or {}
        return dict(options.get("followups") or {})

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
