"""The ``buttons`` section: one-tap buttons (openclaw_connector/buttons.py, issue 17)."""

from __future__ import annotations

from dataclasses import dataclass

from openclaw_connector.config.schema import E, _key


@dataclass(frozen=True)
class ButtonsConfig:
    """How long a button's token stays tappable."""

    # A week: long enough for a result looked at later, short enough to bound the table.
    token_ttl_sec: float = _key(E + "BUTTONS_TOKEN_TTL_SEC", "positive", default=7 * 86400.0)
