"""A watch: one chat waiting for one prompt's result or one approval's decision.

The type is the StateStore's :class:`~openclaw_connector.state.Watch` (one type
in memory and on disk); this module keeps its kinds, key and time helpers.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

from openclaw_connector.messages import ChatRef
from openclaw_connector.state import Watch

__all__ = ["APPROVAL", "PENDING", "PROMPT", "Watch", "epoch", "watch_key"]

PROMPT, APPROVAL = "prompt", "approval"
PENDING = "pending"          # then DONE (accepted) or FAILED (never accepted): jobs.send


def watch_key(kind: str, ref_id: str, chat: ChatRef) -> str:
    return "%s:%s:%s:%s" % (kind, ref_id, chat.platform, chat.chat_id)


def epoch(iso: str) -> Optional[float]:
    try:
        stamp = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    return stamp.timestamp()
