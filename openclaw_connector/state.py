"""StateStore: what must survive a restart, in one sqlite3 file.

``state_dir/connector.db`` (directory 0700, file 0600), WAL mode with
``synchronous=NORMAL``: a commit is one small WAL append, fast enough to run
on the IOLoop (see benchmarks/README.md for the measured figure). Three kinds
of state, each behind named methods so no SQL lives outside this module:

* key/value (Telegram offset, Discord session, media key), and expiring
  key/values for anything written per sender (WhatsApp's last inbound time),
  so a stream of strangers cannot grow the file without bound;
* ``seen`` ids per namespace with a TTL (update/message/webhook dedup),
  bounded per namespace and swept;
* job watches (filled by the JobWatcher).

Writes are autocommitted, except those a caller marks ``batched``: those
share one transaction that commits at the end of the current IOLoop
iteration, and :meth:`StateStore.when_durable` runs a callback once they are
committed. A webhook acknowledges only after its dedup id and pending command
are durable, and under load one commit then covers every webhook that arrived
in the same iteration instead of one commit per write (issue 6).

A corrupted, empty (0-byte) or unreadable file where a database was expected
is moved aside with an ERROR and recreated. A directory that cannot be
created or written raises :class:`StateDirError` (a configuration error,
exit 78). A write that fails while running (disk full) is logged once per
interval and the value kept in memory, so commands are still answered, but
:attr:`StateStore.write_failing` tells callers that nothing is durable: a
webhook then answers 503 so the platform redelivers, and Telegram does not
confirm its updates (issue 20). ``check()``, run every ``check_sec`` by
``start()``, sweeps expired rows and notices a database file that was deleted
or replaced under us: the open connection still holds the data, so it is
copied back to the path.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import tornado.ioloop

log = logging.getLogger("openclaw_connector.state")

SCHEMA_VERSION = 1
SEEN_LIMIT = 50_000          # rows kept per namespace; the oldest go first
SWEEP_EVERY = 1000           # seen ids written between two sweeps
DB_NAME = "connector.db"
FAILING_LOG_EVERY_SEC = 60.0  # a failing disk is logged once per this, not per write
CHECK_EVERY_SEC = 30.0        # default for check(): sweep, and is the file still ours?

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seen (
    namespace TEXT NOT NULL, id TEXT NOT NULL, expires REAL NOT NULL, pending TEXT,
    PRIMARY KEY (namespace, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_expires ON seen (namespace, expires);
CREATE TABLE IF NOT EXISTS watches (
    key TEXT PRIMARY KEY, kind TEXT NOT NULL, ref_id TEXT NOT NULL,
    template TEXT NOT NULL, chat TEXT NOT NULL, created REAL NOT NULL,
    state TEXT NOT NULL, updated REAL NOT NULL, data TEXT NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS watches_state ON watches (state);
CREATE TABLE IF NOT EXISTS kv_expiring (
    key TEXT PRIMARY KEY, value TEXT NOT NULL, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS kv_expiring_expires ON kv_expiring (expires);
"""


class StateDirError(Exception):
    """state_dir cannot be created, opened or written (a configuration error)."""


@dataclass(frozen=True)
class WatchRow:
    """One followed job or approval as stored. ``chat`` is a ChatRef in JSON."""

    key: str
    kind: str
    ref_id: str
    template: str
    chat: str
    created: float
    state: str
    updated: float
    data: dict


_SELECT_WATCHES = ("SELECT key, kind, ref_id, template, chat, created, state, updated, data "
                   "FROM watches")


def _watch_row(r: tuple) -> WatchRow:
    key, kind, ref_id, template, chat, created, state, updated, data = r
    return WatchRow(key, kind, ref_id, template, chat, created, state, updated, json.loads(data))


class StateStore:
    """The one sqlite3 connection; opened in ``start()``, closed last in ``stop()``."""

    def __init__(self, state_dir: str, *, clock: Callable[[], float] = time.time,
                 metrics: Any = None, check_sec: float = CHECK_EVERY_SEC) -> None:
        self.state_dir = state_dir
        self.path = os.path.join(state_dir, DB_NAME)
        self._clock = clock
        self._metrics = metrics
        self._check_sec = check_sec
        self._checker: Optional[tornado.ioloop.PeriodicCallback] = None
        self._db: Optional[sqlite3.Connection] = None
        self._identity: Optional[tuple[int, int]] = None   # (st_dev, st_ino) of our file
        self._mem_kv: dict[str, str] = {}
        self._mem_expiring: dict[str, tuple[str, float]] = {}
        self._mem_seen: dict[tuple[str, str], float] = {}
        self._write_failing = False
        self._failing_since = 0.0
        self._failures = 0                     # failed writes in the current streak
        self._failure_logged_at = -FAILING_LOG_EVERY_SEC
        self._recovery_logged_at = -FAILING_LOG_EVERY_SEC
        self._writes_since_sweep = 0
        self._seen_counts: dict[str, int] = {}   # rows per namespace, for the SEEN_LIMIT trim
        self._batch_open = False
        self._batch_seen: list[tuple[str, str, float]] = []
        self._batch_kv: dict[str, str] = {}
        self._batch_expiring: dict[str, tuple[str, float]] = {}
        self._batch_changes = 0
        self._flush_scheduled = False
        self._durable_callbacks: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Open, then run :meth:`check` every ``check_sec`` on the IOLoop."""
        self.open()
        if self._check_sec > 0 and self._checker is None:
            self._checker = tornado.ioloop.PeriodicCallback(self.check,
                                                            self._check_sec * 1000)
            self._checker.start()

    async def stop(self) -> None:
        self.close()

    def open(self) -> None:
        """Create the directory and database; move a corrupted, empty or unreadable
        file aside."""
        self._ensure_dir()
        unusable = self._unusable_file()
        if unusable:
            self._move_aside(unusable)
        try:
            self._db = self._connect()
        except sqlite3.DatabaseError as exc:
            if not os.path.exists(self.path) or isinstance(exc, sqlite3.OperationalError) \
                    and "database is locked" in str(exc):
                raise StateDirError("%s: cannot open the state database: %s" % (
                    self.path, exc)) from None
            self._move_aside(str(exc))
            self._db = self._connect()
        self._identity = self._file_identity()
        self.sweep()
        self._set_failing_gauge()

    def _unusable_file(self) -> str:
        """Why the file at ``path`` cannot be our database ("" when it can, or is absent).

        sqlite takes an empty file for a new database, which would silently
        forget every pending command and result the old one held.
        """
        try:
            size = os.stat(self.path).st_size
        except FileNotFoundError:
            return ""
        except OSError as exc:
            return "cannot stat: %s" % exc.strerror
        if size == 0:
            return "empty file (0 bytes) where a database was expected"
        if not os.access(self.path, os.R_OK | os.W_OK):
            return "not readable and writable by this user"
        return ""

    def _move_aside(self, why: str) -> None:
        aside = "%s.corrupt-%d" % (self.path, int(self._clock()))
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.path + suffix):
                os.replace(self.path + suffix, aside + suffix)
        log.error("event=state_corrupt path=%s moved_to=%s error=%s; starting with "
                  "fresh state", self.path, aside, why)

    def _file_identity(self) -> Optional[tuple[int, int]]:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino)

    def check(self) -> None:
        """Sweep expired rows; if our file was deleted or replaced, put our data back.

        The open connection still reads the unlinked file, so sqlite's backup
        copies everything (pending commands, results) to a fresh file at the
        path; a foreign file found there is moved aside first.
        """
        if self._db is None:
            return
        identity = self._file_identity()
        if identity != self._identity:
            self._restore_file(replaced=identity is not None)
        if self._write_failing:
            # Nothing else may write while webhooks are refused: probe, so a freed
            # disk is noticed even on a quiet day.
            self._write("INSERT INTO kv (key, value) VALUES ('state.probe', ?) ON "
                        "CONFLICT(key) DO UPDATE SET value = excluded.value",
                        ("%.3f" % self._clock(),))
        self.sweep()

    def _restore_file(self, *, replaced: bool) -> None:
        assert self._db is not None
        self.flush()
        if replaced:
            aside = "%s.replaced-%d" % (self.path, int(self._clock()))
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(self.path + suffix):
                    os.replace(self.path + suffix, aside + suffix)
        else:
            aside = "-"
            for suffix in ("-wal", "-shm"):   # the WAL of the old file is useless alone
                if os.path.exists(self.path + suffix):
                    os.unlink(self.path + suffix)
        log.error("event=state_file_lost path=%s reason=%s moved_to=%s; writing the open "
                  "database back to the path", self.path,
                  "replaced" if replaced else "deleted", aside)
        try:
            self._ensure_dir()
            fresh = self._connect()
            self._db.backup(fresh)
        except (sqlite3.Error, OSError, StateDirError) as exc:
            self._failed(exc)
            return
        self._db.close()
        self._db = fresh
        self._identity = self._file_identity()
        self._seen_counts = {}

    def close(self) -> None:
        if self._checker is not None:
            self._checker.stop()
            self._checker = None
        self.flush()
        if self._db is not None:
            try:
                self._db.close()
            finally:
                self._db = None

    def _ensure_dir(self) -> None:
        try:
            os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise StateDirError("state_dir: cannot create %s: %s (create it or point "
                                "state_dir at a writable directory)" % (
                                    self.state_dir, exc.strerror)) from None
        if not os.access(self.state_dir, os.W_OK | os.X_OK):
            raise StateDirError("state_dir: %s is not writable by this user (fix its owner "
                                "or point state_dir elsewhere)" % self.state_dir)

    def _connect(self) -> sqlite3.Connection:
        fresh = not os.path.exists(self.path)
        if fresh:
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
        try:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=2.0)
        except sqlite3.OperationalError as exc:
            raise StateDirError("state_dir: cannot open %s: %s" % (self.path, exc)) from None
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            row = db.execute("PRAGMA quick_check").fetchone()
            if row is None or row[0] != "ok":
                raise sqlite3.DatabaseError("quick_check: %s" % (row and row[0]))
            db.executescript(_SCHEMA)
            if "pending" not in {r[1] for r in db.execute("PRAGMA table_info(seen)")}:
                # A database from before issue 21; older code never names the column.
                db.execute("ALTER TABLE seen ADD COLUMN pending TEXT")
            version = db.execute("SELECT version FROM schema_version").fetchone()
            if version is None:
                db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
            elif version[0] > SCHEMA_VERSION:
                raise StateDirError("%s was written by a newer version (schema %d); "
                                    "upgrade openclaw-connector" % (self.path, version[0]))
        except sqlite3.OperationalError as exc:
            db.close()
            if "readonly" in str(exc) or "disk" in str(exc) or "unable to open" in str(exc):
                raise StateDirError("state_dir: %s is not writable: %s" % (
                    self.path, exc)) from None
            raise
        except BaseException:
            db.close()
            raise
        for suffix in ("-wal", "-shm"):
            if os.path.exists(self.path + suffix):
                os.chmod(self.path + suffix, 0o600)
        return db

    # ------------------------------------------------------------------ helpers
    def _write(self, sql: str, params: tuple = (), *, batched: bool = False) -> Optional[int]:
        """Run one write; return its row count, or None when it failed.

        A failure is logged once per streak and the caller keeps the value in
        memory. ``batched`` writes join the current batch (see the module
        docstring); any other write commits a pending batch first, so its own
        commit never carries someone else's half-done work.
        """
        if self._db is None:
            return None
        if batched:
            batched = self._begin_batch()
        elif self._batch_open:
            self._commit_batch()
        try:
            count = self._db.execute(sql, params).rowcount
        except sqlite3.Error as exc:
            self._failed(exc)
            if self._batch_open and not self._db.in_transaction:
                self._abort_batch()       # sqlite rolled the whole batch back
            return None
        if not batched and not self._batch_open and self._db.in_transaction:
            # A failed COMMIT can leave sqlite inside a transaction; this write then
            # joined it and is not on disk until that transaction commits.
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._failed(exc)
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                return None
        # Only a write that changed rows reached the disk: a no-op (deleting a
        # row that is not there) proves nothing and must not end a failure streak.
        if batched:
            self._batch_changes += max(0, count)
        elif count > 0:
            self._recovered()
        return count

    @property
    def write_failing(self) -> bool:
        """True while writes fail (disk full, file gone): nothing new is durable."""
        return self._write_failing

    def health(self) -> dict:
        """For ``/healthz``: whether writes reach the disk, and since when not."""
        if not self._write_failing:
            return {"writable": True}
        return {"writable": False, "failing_for_s": round(self._clock() - self._failing_since),
                "failed_writes": self._failures}

    def _failed(self, exc: Exception) -> None:
        now = self._clock()
        if not self._write_failing:
            self._failing_since = now
            self._failures = 0
        self._failures += 1
        if self._metrics is not None:
            self._metrics.inc("state_write_failures_total",
                              help="State database writes that failed (disk full?)")
        # Once per interval, not per write or per streak: a full disk under webhook
        # load would otherwise fill whatever disk the log is on, too, and a disk
        # at its limit lets a small write through now and then.
        if now - self._failure_logged_at >= FAILING_LOG_EVERY_SEC:
            self._failure_logged_at = now
            log.error("event=state_write_failed path=%s failed_writes=%d error=%s; keeping "
                      "state in memory, webhooks answer 503 and Telegram updates stay "
                      "unconfirmed until writes work again", self.path, self._failures, exc)
        self._write_failing = True
        self._set_failing_gauge()

    def _recovered(self) -> None:
        if self._write_failing:
            if self._failure_logged_at > self._recovery_logged_at:
                self._recovery_logged_at = self._clock()
                log.warning("event=state_write_recovered path=%s failed_writes=%d",
                            self.path, self._failures)
            self._write_failing = False
            self._set_failing_gauge()

    def _set_failing_gauge(self) -> None:
        if self._metrics is not None:
            self._metrics.set("state_write_failing", 1.0 if self._write_failing else 0.0,
                              help="1 while state writes fail (disk full): nothing is "
                                   "acknowledged")

    # ------------------------------------------------------------------ batches
    def _begin_batch(self) -> bool:
        """Open the batch transaction; False (write autocommits) outside an event loop."""
        if self._batch_open:
            return True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        try:
            self._db.execute("BEGIN")   # type: ignore[union-attr]
        except sqlite3.Error as exc:
            self._failed(exc)
            return False
        self._batch_open = True
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self.flush)
        return True

    def _commit_batch(self) -> None:
        self._batch_open = False
        try:
            self._db.execute("COMMIT")   # type: ignore[union-attr]
        except sqlite3.Error as exc:
            self._failed(exc)
            try:
                self._db.execute("ROLLBACK")   # type: ignore[union-attr]
            except sqlite3.Error:
                pass
            self._abort_batch()
            return
        self._batch_seen = []
        self._batch_kv = {}
        self._batch_expiring = {}
        if self._batch_changes:
            self._recovered()
        self._batch_changes = 0

    def _abort_batch(self) -> None:
        """The batch is lost: keep its seen ids and values in memory instead."""
        self._batch_open = False
        for namespace, item_id, expires in self._batch_seen:
            self._mem_seen[(namespace, item_id)] = expires
        self._mem_kv.update(self._batch_kv)
        self._mem_expiring.update(self._batch_expiring)
        self._batch_seen = []
        self._batch_kv = {}
        self._batch_expiring = {}
        self._batch_changes = 0

    def when_durable(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once every batched write made so far is committed
        (or has failed and is kept in memory); at once when nothing is pending."""
        if self._flush_scheduled:
            self._durable_callbacks.append(callback)
        else:
            callback()

    def flush(self) -> None:
        """Commit the batch, then run the ``when_durable`` callbacks waiting on it."""
        self._flush_scheduled = False
        if self._batch_open:
            self._commit_batch()
        callbacks, self._durable_callbacks = self._durable_callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:   # one broken callback must not strand the others
                log.exception("event=state_callback_failed")

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self._db is None:
            return []
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            log.error("event=state_read_failed path=%s error=%s", self.path, exc)
            return []

    # ------------------------------------------------------------------ key/value
    def get(self, key: str, default: Optional[str] = None) -> Optional[str]:
        if key in self._mem_kv:
            return self._mem_kv[key]
        rows = self._read("SELECT value FROM kv WHERE key = ?", (key,))
        return rows[0][0] if rows else default

    def set(self, key: str, value: str, *, batched: bool = False) -> None:
        if self._write("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) "
                       "DO UPDATE SET value = excluded.value", (key, value),
                       batched=batched) is not None:
            self._mem_kv.pop(key, None)
            if self._batch_open:
                self._batch_kv[key] = value
        else:
            self._mem_kv[key] = value

    def delete(self, key: str) -> None:
        self._mem_kv.pop(key, None)
        self._write("DELETE FROM kv WHERE key = ?", (key,))

    def put_expiring(self, key: str, value: str, ttl_sec: float, *,
                     batched: bool = False) -> None:
        """A value that is forgotten ``ttl_sec`` from now (swept by :meth:`sweep`)."""
        expires = self._clock() + ttl_sec
        if self._write("INSERT INTO kv_expiring (key, value, expires) VALUES (?, ?, ?) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
                       "expires = excluded.expires", (key, value, expires),
                       batched=batched) is not None:
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
                  batched: bool = False, pending: Optional[str] = None) -> bool:
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
            (namespace, item_id, expires, pending, now), batched=batched)
        if changed is None:
            # Not written (full disk): decide from what was stored, keep it in memory.
            if self.is_seen(namespace, item_id):
                return False
            self._mem_seen[(namespace, item_id)] = expires
        elif changed == 0:
            return False
        elif batched and self._batch_open:
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

    def clear_pending(self, namespace: str, item_id: str, *, batched: bool = False) -> None:
        """The command held in a seen row was answered (or dropped): keep only the id."""
        self._write("UPDATE seen SET pending = NULL WHERE namespace = ? AND id = ?",
                    (namespace, item_id), batched=batched)

    def held_pending(self, namespace: str) -> list[tuple[str, str]]:
        """(id, pending) of every seen row in ``namespace`` still holding a command."""
        return [(r[0], r[1]) for r in self._read(
            "SELECT id, pending FROM seen WHERE namespace = ? AND pending IS NOT NULL",
            (namespace,))]

    # ------------------------------------------------------------------ job watches
    def put_watch(self, row: WatchRow, *, batched: bool = False) -> None:
        self._write("INSERT OR REPLACE INTO watches (key, kind, ref_id, template, chat, "
                    "created, state, updated, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (row.key, row.kind, row.ref_id, row.template, row.chat, row.created,
                     row.state, row.updated, json.dumps(row.data, sort_keys=True)),
                    batched=batched)

    def update_watch(self, key: str, state: str, data: Optional[dict] = None) -> None:
        if data is None:
            self._write("UPDATE watches SET state = ?, updated = ? WHERE key = ?",
                        (state, self._clock(), key))
        else:
            self._write("UPDATE watches SET state = ?, updated = ?, data = ? WHERE key = ?",
                        (state, self._clock(), json.dumps(data, sort_keys=True), key))

    def delete_watch(self, key: str, *, batched: bool = False) -> None:
        self._write("DELETE FROM watches WHERE key = ?", (key,), batched=batched)

    def watches(self, *, states: Optional[tuple[str, ...]] = None) -> Iterator[WatchRow]:
        """Stored watches, oldest first, optionally only those in ``states``."""
        if states:
            marks = ",".join("?" * len(states))
            rows = self._read(_SELECT_WATCHES + " WHERE state IN (%s) ORDER BY created" % marks,
                              tuple(states))
        else:
            rows = self._read(_SELECT_WATCHES + " ORDER BY created")
        for r in rows:
            yield _watch_row(r)

    def watch(self, key: str) -> Optional[WatchRow]:
        """The stored watch ``key`` (in any state), or None."""
        rows = self._read(_SELECT_WATCHES + " WHERE key = ?", (key,))
        return _watch_row(rows[0]) if rows else None

    def prune_watches(self, states: tuple[str, ...], older_than: float) -> None:
        """Drop watches in ``states`` last updated before ``older_than`` (epoch seconds)."""
        marks = ",".join("?" * len(states))
        self._write("DELETE FROM watches WHERE state IN (%s) AND updated < ?" % marks,
                    tuple(states) + (older_than,))
