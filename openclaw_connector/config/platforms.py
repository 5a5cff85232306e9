"""The four chat platforms' config sections (config.md): credentials, allowlists,
API bases, listeners and the timeouts of each platform's HTTP calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from openclaw_connector.config.schema import E, Allowlist, _key
from openclaw_connector.config_values import id_pattern


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
    # Bot API calls: connecting, and the whole call (sends carry uploads of up to 10 MB;
    # getMe and setup calls allow connect_timeout_sec + 10). getUpdates: poll_margin_sec.
    connect_timeout_sec: float = _key(E + "TELEGRAM_CONNECT_TIMEOUT_SEC", "positive",
                                      default=10.0)
    request_timeout_sec: float = _key(E + "TELEGRAM_REQUEST_TIMEOUT_SEC", "positive",
                                      default=60.0)

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
    # REST calls: connecting, and the whole call (uploads of several MiB).
    connect_timeout_sec: float = _key(E + "DISCORD_CONNECT_TIMEOUT_SEC", "positive",
                                      default=10.0)
    request_timeout_sec: float = _key(E + "DISCORD_REQUEST_TIMEOUT_SEC", "positive",
                                      default=60.0)
    # The gateway's websocket handshake (connect and upgrade together).
    gateway_timeout_sec: float = _key(E + "DISCORD_GATEWAY_TIMEOUT_SEC", "positive",
                                      default=15.0)

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
    connect_timeout_sec: float = _key(E + "LINE_CONNECT_TIMEOUT_SEC", "positive", default=10.0)
    request_timeout_sec: float = _key(E + "LINE_REQUEST_TIMEOUT_SEC", "positive", default=20.0)

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
    connect_timeout_sec: float = _key(E + "WHATSAPP_CONNECT_TIMEOUT_SEC", "positive",
                                      default=10.0)
    request_timeout_sec: float = _key(E + "WHATSAPP_REQUEST_TIMEOUT_SEC", "positive",
                                      default=20.0)
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
