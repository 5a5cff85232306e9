"""How long a server asked us to wait before trying again (a 429 or 503).

Why one function: ComfyUI/OpenClaw, Telegram, Discord and LINE say it in a JSON
field, a ``Retry-After`` header or both (openclaw-api.md §4, platforms.md §1-3);
every caller reads it the same way, so a wait is never misread in one place.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional


def retry_after(headers: Optional[Mapping[str, str]], body: Any, *,
                key: str = "retry_after") -> Optional[float]:
    """Seconds to wait: ``body[key]`` when the parsed JSON ``body`` has it, else the
    ``Retry-After`` header (delta-seconds); None when neither is a non-negative number."""
    from_body = body.get(key) if isinstance(body, Mapping) else None
    from_header = headers.get("Retry-After") if headers is not None else None
    for value in (from_body, from_header):
        if value is None or isinstance(value, bool):
            continue
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            continue
        if seconds >= 0 and math.isfinite(seconds):
            return seconds
    return None
