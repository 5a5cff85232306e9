"""Records: key/values, expiring key/values and seen ids, the store's small rows.

* key/value (Telegram offset, Discord session, media key), and expiring
  key/values for anything written per sender (WhatsApp's last inbound time),
  so a stream of strangers cannot grow the file without bound; callers reach
  them through a named view (``state.kv("telegram")``, views.py);
* ``seen`` ids per namespace with a TTL (update/message/webhook dedup),
  bounded per namespace and swept. A seen row may hold a webhook's pending
  command (``pending``) so acknowledging it costs one insert (issue 21).
"""

from __future__ import annotations

import json
from typing import Optional

from openclaw_connector.state.core import StateCore

SEEN_LIMIT = 50_000          # rows kept per namespace; the oldest go first
SWEEP_EVERY = 1000           # seen ids written between two sweeps


class Records(StateCore):
    """The kv, kv_expiring and seen tables, each value also kept in memory while
    the disk refuses writes."""

    def get(self, key: str, default: Optional[str] = None) -> Optional[str]:
        if key in self._mem_kv:
            return self._mem_kv[key]
        rows = self._read("SELECT value FROM kv WHERE key = ?", (key,))
        return rows[0][0] if rows else default

    def set(self, key: str, value: str) -> None:
        if self._write("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) "
                       "DO UPDATE SET value = excluded.value", (key, value)) is not None:
            self._mem_kv.pop(key, None)
            if self._batch_open:
                self._batch_kv[key] = value
        else:
            self._mem_kv[key] = value

    def delete(self, key: str) -> None:
        self._mem_kv.pop(key, None)
        self._write("DELETE FROM kv WHERE key = ?", (key,))

    def put_expiring(self, key: str, value: str, ttl_sec: float) -> None:
        """A value that is forgotten ``ttl_sec`` from now (swept by :meth:`sweep`)."""
        expires = self._clock() + ttl_sec
        if self._write("INSERT INTO kv_expiring (key, value, expires) VALUES (?, ?, ?) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
                       "expires = excluded.expires", (key, value, expires)) is not None:
            self._mem_expiring.pop(key, None)
            if self._batch_open:
                self._batch_expiring[key] = (value, expires)
        else:
            self._mem_expiring[key] = (value, expires)

    def get_expiring(self, key: str) -> Optional[str]:
        now = self._clock()
        mem = self._mem_expiring.get(key)
        if mem is not None and mem[1] > now:
            return mem[0]
        rows = self._read("SELECT value FROM kv_expiring WHERE key = ? AND expires > ?",
                          (key, now))
        return rows[0][0] if rows else None

    def get_json(self, key: str) -> Optional[object]:
        raw = self.get(key)
        return None if raw is None else json.loads(raw)

    def set_json(self, key: str, value: object) -> None:
        self.set(key, json.dumps(value, sort_keys=True))

    # ------------------------------------------------------------------ seen ids
    def is_seen(self, namespace: str, item_id: str) -> bool:
        """True if ``item_id`` was marked in ``namespace`` and has not expired."""
        now = self._clock()
        mem = self._mem_seen.get((namespace, item_id))
        if mem is not None and mem > now:
            return True
        rows = self._read("SELECT expires FROM seen WHERE namespace = ? AND id = ?",
                          (namespace, item_id))
        return bool(rows) and rows[0][0] > now

    def mark_seen(self, namespace: str, item_id: str, ttl_sec: float, *,
                  pending: Optional[str] = None) -> bool:
        """Remember ``item_id``; return True if it was new (first time seen).

        Check and insert are one statement on the IOLoop thread, so two
        concurrent deliveries of the same event cannot both see "new"; an
        expired row counts as new and gets the fresh expiry. ``pending`` (a
        webhook's command, channels/pending.py) is kept in the same row until
        :meth:`clear_pending`: one insert where a second table cost another.
        """
        now = self._clock()
        mem = self._mem_seen.get((namespace, item_id))
        if mem is not None and mem > now:
            return False
        expires = now + ttl_sec
        changed = self._write(
            "INSERT INTO seen (namespace, id, expires, pending) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(namespace, id) DO UPDATE SET expires = excluded.expires, "
            "pending = excluded.pending WHERE seen.expires <= ?",
            (namespace, item_id, expires, pending, now))
        if changed is None:
            # Not written (full disk): decide from what was stored, keep it in memory.
            if self.is_seen(namespace, item_id):
                return False
            self._mem_seen[(namespace, item_id)] = expires
        elif changed == 0:
            return False
        elif self._batch_open:
            self._batch_seen.append((namespace, item_id, expires))
        self._seen_counts[namespace] = self._seen_counts.get(namespace, 0) + 1
        self._writes_since_sweep += 1
        if self._writes_since_sweep >= SWEEP_EVERY:
            self.sweep()
        return True

    def sweep(self) -> None:
        """Drop expired ids and keep each namespace under SEEN_LIMIT rows.

        Every statement walks the (namespace, expires) index, so a sweep costs
        what it deletes, not the size of the table.
        """
        self._writes_since_sweep = 0
        now = self._clock()
        if not self._seen_counts:
            self._seen_counts = dict(self._read(
                "SELECT namespace, COUNT(*) FROM seen GROUP BY namespace"))
        for namespace in list(self._seen_counts):
            # Rows holding a pending command stay until it is answered or dropped.
            gone = self._write("DELETE FROM seen WHERE namespace = ? AND expires <= ? "
                               "AND pending IS NULL", (namespace, now)) or 0
            left = self._seen_counts[namespace] - gone
            if left > SEEN_LIMIT:
                gone = self._write(
                    "DELETE FROM seen WHERE namespace = ? AND id IN (SELECT id FROM seen "
                    "WHERE namespace = ? AND pending IS NULL ORDER BY expires LIMIT ?)",
                    (namespace, namespace, left - SEEN_LIMIT)) or 0
                left -= gone
            self._seen_counts[namespace] = max(0, left)
        self._mem_seen = {k: v for k, v in self._mem_seen.items() if v > now}
        self._write("DELETE FROM kv_expiring WHERE expires <= ?", (now,))
        self._mem_expiring = {k: v for k, v in self._mem_expiring.items() if v[1] > now}

    def clear_pending(self, namespace: str, item_id: str) -> None:
        """The command held in a seen row was answered (or dropped): keep only the id."""
        self._write("UPDATE seen SET pending = NULL WHERE namespace = ? AND id = ?",
                    (namespace, item_id))

    def held_pending(self, namespace: str) -> list[tuple[str, str]]:
        """(id, pending) of every seen row in ``namespace`` still holding a command."""
        return [(r[0], r[1]) for r in self._read(
            "SELECT id, pending FROM seen WHERE namespace = ? AND pending IS NOT NULL",
            (namespace,))]
