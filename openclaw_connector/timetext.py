"""Times and durations in the words of a reply: the one duration and the one
timestamp formatter every reply uses (commands, job results, pending notices).

Why one place: a chat reads ``12.4 s`` and ``2026-02-07T12:00:00Z`` the same
way whichever part of the daemon wrote them. Pure functions.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

STAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"   # the seed's format; every reply uses only this one
DAYS_FROM_SEC = 2 * 86400.0           # from two days on, whole days read better


def duration(value: Optional[float], *, unknown: str = "?") -> str:
    """``4.2 s``, ``3 min 5 s``, ``2 h 10 min``, ``3 days`` (``unknown`` for None)."""
    if value is None:
        return unknown
    value = max(0.0, value)
    if value < 60:
        return "%.1f s" % value
    if value < 3600:
        return "%d min %d s" % (value // 60, value % 60)
    if value < DAYS_FROM_SEC:
        return "%d h %d min" % (value // 3600, (value % 3600) // 60)
    return "%d days" % (value // 86400)


def stamp(epoch: Optional[float]) -> str:
    """Epoch seconds as ``2026-02-07T12:00:00Z`` (``?`` when unknown)."""
    if epoch is None:
        return "?"
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime(STAMP_FORMAT)


def parse_iso(iso: str) -> Optional[dt.datetime]:
    """A server's ISO timestamp (``Z`` or an offset; none means UTC) as an aware
    datetime, or None when it is not one."""
    try:
        when = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except (ValueError, AttributeError, TypeError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.timezone.utc)


def iso_stamp(iso: str) -> str:
    """A server's ISO timestamp as :func:`stamp` writes one; as it came when unparseable."""
    when = parse_iso(iso)
    if when is None:
        return iso or "?"
    return when.astimezone(dt.timezone.utc).strftime(STAMP_FORMAT)
