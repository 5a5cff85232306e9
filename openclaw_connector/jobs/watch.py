"""A watch: one chat waiting for one prompt's result or one approval's decision,
as the JobWatcher holds it in memory (its row in the StateStore is ``WatchRow``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Optional

from openclaw_connector.messages import ChatRef
from openclaw_connector.state import WatchRow

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


@dataclass(frozen=True)
class Watch:
    """One pending watch as held in memory (``chat`` decoded)."""

    key: str
    kind: str
    ref_id: str
    template: str
    chat: ChatRef
    created: float
    data: dict = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: WatchRow) -> "Watch":
        return cls(row.key, row.kind, row.ref_id, row.template, ChatRef.from_json(row.chat),
                   row.created, dict(row.data))

    def to_row(self, state: str, now: float) -> WatchRow:
        return WatchRow(self.key, self.kind, self.ref_id, self.template, self.chat.to_json(),
                        self.created, state, now, dict(self.data))
