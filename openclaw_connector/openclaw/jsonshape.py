"""Reading ComfyUI/OpenClaw JSON by the contract: an object or list where one is
promised (else :class:`BadResponse`), a missing block as empty, numbers that
are numbers. Shared by ``openclaw.types`` and ``openclaw.outcome``.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from openclaw_connector.openclaw.errors import BadResponse


def expect_object(data: Any, what: str) -> Mapping:
    if not isinstance(data, Mapping):
        raise BadResponse("%s: expected a JSON object, got %s" % (what, type(data).__name__))
    return data


def expect_list(data: Any, what: str) -> list:
    if data is None:
        return []
    if not isinstance(data, list):
        raise BadResponse("%s: expected a JSON list, got %s" % (what, type(data).__name__))
    return data


def sub_object(data: Mapping, key: str) -> Mapping:
    """``data[key]`` when it is an object, else an empty one (a missing block is not an error)."""
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def number(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def optional_str(value: Any) -> Optional[str]:
    return None if value is None else str(value)
