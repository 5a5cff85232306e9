"""A watch: one chat waiting for one prompt's result or one approval's decision.

The type is the StateStore's :class:`~openclaw_connector.state.Watch` (one type
in memory and on disk); this module keeps its kinds, key and time helpers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from openclaw_connector.messages import ChatRef
from openclaw_connector.state import Watch
from openclaw_connector.timetext import parse_iso

__all__ = ["APPROVAL", "PENDING", "PROMPT", "Watch", "WatcherView", "epoch", "watch_key"]

PROMPT, APPROVAL = "prompt", "approval"
PENDING = "pending"          # then DONE (accepted) or FAILED (never accepted): jobs.send


def watch_key(kind: str, ref_id: str, chat: ChatRef) -> str:
    return "%s:%s:%s:%s" % (kind, ref_id, chat.platform, chat.chat_id)


def epoch(iso: str) -> Optional[float]:
    """Epoch seconds of a server's ISO timestamp, or None when it is not one."""
    when = parse_iso(iso)
    return when.timestamp() if when is not None else None


@dataclass
class WatcherView:
    """:meth:`JobWatcher.introspect`: the watches not yet delivered."""

    pending: list[Watch]
