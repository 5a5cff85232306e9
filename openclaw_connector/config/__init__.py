"""Configuration: an immutable tree of frozen dataclasses from YAML, environment and flags.

``schema`` declares how a key is written down, ``platforms`` and ``sections``
hold the sections (each key once, with its default), ``loader`` reads, merges
and validates (config.md). Import the public names from here.
"""

from openclaw_connector.config.loader import (ConfigError, dump_yaml, is_loopback_url, load,
                                              no_channel_problem, permission_warning,
                                              with_overrides)
from openclaw_connector.config.platforms import (DiscordConfig, LineConfig, TelegramConfig,
                                                 WhatsAppConfig)
from openclaw_connector.config.schema import E, SECRET_MASK, Allowlist, _walk, mask_secret
from openclaw_connector.config.sections import (Config, ConsoleConfig, HttpConfig, LogConfig,
                                                MediaConfig, NetworkConfig, OpenClawConfig,
                                                RateLimitConfig, ResultsConfig, RetryConfig,
                                                StatusConfig)

__all__ = [
    "Allowlist", "Config", "ConfigError", "ConsoleConfig", "DiscordConfig", "E", "HttpConfig",
    "LineConfig", "LogConfig", "MediaConfig", "NetworkConfig", "OpenClawConfig",
    "RateLimitConfig", "ResultsConfig", "RetryConfig", "SECRET_MASK", "StatusConfig",
    "TelegramConfig", "WhatsAppConfig", "_walk", "dump_yaml", "is_loopback_url", "load",
    "mask_secret", "no_channel_problem", "permission_warning", "with_overrides",
]
