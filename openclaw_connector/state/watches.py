"""Watches: the jobs and approvals the JobWatcher follows, one type in memory and on disk.

The JobWatcher alone owns this table (pending inbound commands have their own,
pending.py), so a row survives a restart and is delivered after it. ``chat``
is stored as ChatRef JSON and read back decoded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterator, Optional

from openclaw_connector.messages import ChatRef
from openclaw_connector.state.core import StateCore


@dataclass(frozen=True)
class Watch:
    """One chat waiting for one prompt's result or one approval's decision.

    ``state`` and ``updated`` are the stored lifecycle (pending, then done or
    failed: jobs/send.py); ``data`` holds the kind's extras (approval id, inputs).
    """

    key: str
    kind: str
    ref_id: str
    template: str
    chat: ChatRef
    created: float
    data: dict = field(default_factory=dict)
    state: str = "pending"
    updated: float = 0.0


_SELECT_WATCHES = ("SELECT key, kind, ref_id, template, chat, created, state, updated, data "
                   "FROM watches")


def _watch_row(r: tuple) -> Watch:
    key, kind, ref_id, template, chat, created, state, updated, data = r
    return Watch(key, kind, ref_id, template, ChatRef.from_json(chat), created,
                 json.loads(data), state, updated)


class WatchTable(StateCore):
    """put/update/delete/list/prune of the ``watches`` table."""

    def put_watch(self, row: Watch) -> None:
        self._write("INSERT OR REPLACE INTO watches (key, kind, ref_id, template, chat, "
                    "created, state, updated, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (row.key, row.kind, row.ref_id, row.template, row.chat.to_json(), row.created,
                     row.state, row.updated, json.dumps(row.data, sort_keys=True)))

    def update_watch(self, key: str, state: str, data: Optional[dict] = None) -> None:
        if data is None:
            self._write("UPDATE watches SET state = ?, updated = ? WHERE key = ?",
                        (state, self._clock(), key))
        else:
            self._write("UPDATE watches SET state = ?, updated = ?, data = ? WHERE key = ?",
                        (state, self._clock(), json.dumps(data, sort_keys=True), key))

    def delete_watch(self, key: str) -> None:
        self._write("DELETE FROM watches WHERE key = ?", (key,))

    def watches(self, *, states: Optional[tuple[str, ...]] = None) -> Iterator[Watch]:
        """Stored watches, oldest first, optionally only those in ``states``."""
        if states:
            marks = ",".join("?" * len(states))
            rows = self._read(_SELECT_WATCHES + " WHERE state IN (%s) ORDER BY created" % marks,
                              tuple(states))
        else:
            rows = self._read(_SELECT_WATCHES + " ORDER BY created")
        for r in rows:
            yield _watch_row(r)

    def watch(self, key: str) -> Optional[Watch]:
        """The stored watch ``key`` (in any state), or None."""
        rows = self._read(_SELECT_WATCHES + " WHERE key = ?", (key,))
        return _watch_row(rows[0]) if rows else None

    def prune_watches(self, states: tuple[str, ...], older_than: float) -> None:
        """Drop watches in ``states`` last updated before ``older_than`` (epoch seconds)."""
        marks = ",".join("?" * len(states))
        self._write("DELETE FROM watches WHERE state IN (%s) AND updated < ?" % marks,
                    tuple(states) + (older_than,))
