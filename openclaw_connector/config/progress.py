"""The ``progress.*`` section: the live job card (issue 16, jobs/card.py)."""

from __future__ import annotations

from dataclasses import dataclass

from openclaw_connector.config.schema import E, _key


@dataclass(frozen=True)
class ProgressConfig:
    """The live job card: one message edited from queued to done."""

    enabled: bool = _key(E + "PROGRESS_ENABLED", "bool", default=True)
    # At most one edit per card this often (latest state wins); 0 = every change.
    min_interval_sec: float = _key(E + "PROGRESS_MIN_INTERVAL_SEC", "seconds", default=2.0)
    # Telegram/Discord: the card becomes a photo of ComfyUI's latest preview (every 5 s
    # at most); needs ComfyUI started with a --preview-method.
    previews: bool = _key(E + "PROGRESS_PREVIEWS", "bool", default=False)
