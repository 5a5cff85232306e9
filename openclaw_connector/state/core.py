"""StateCore: the state database's connection, its writes, batches and failures.

``state_dir/connector.db`` (directory 0700, file 0600), WAL mode with
``synchronous=NORMAL``: a commit is one small WAL append, fast enough to run
on the IOLoop (see benchmarks/README.md for the measured figure).

Writes are autocommitted, except those made inside ``with state.batch():``:
those share one transaction that commits at the end of the current IOLoop
iteration, and :meth:`StateCore.when_durable` runs a callback once they are
committed. A webhook acknowledges only after its dedup id and pending command
are durable, and under load one commit then covers every webhook that arrived
in the same iteration instead of one commit per write (issue 6). Outside an
event loop the batch commits when its scope ends.

A write that fails while running (disk full) is logged once per interval and
the value kept in memory, so commands are still answered, but
:attr:`StateCore.write_failing` tells callers that nothing is durable: a
webhook then answers 503 so the platform redelivers, and Telegram does not
confirm its updates (issue 20).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from typing import Callable, Optional

import tornado.ioloop

from openclaw_connector.metrics import Metrics

log = logging.getLogger("openclaw_connector.state")

DB_NAME = "connector.db"
FAILING_LOG_EVERY_SEC = 60.0  # a failing disk is logged once per this, not per write
CHECK_EVERY_SEC = 30.0        # default for check(): sweep, and is the file still ours?


class StateDirError(Exception):
    """state_dir cannot be created, opened or written (a configuration error)."""


class StateCore:
    """The one sqlite3 connection and how a write reaches it: autocommitted, or in
    the batch a :meth:`batch` scope opens; a failed write is remembered, not raised."""

    def __init__(self, state_dir: str, *, clock: Callable[[], float] = time.time,
                 metrics: Optional[Metrics] = None, check_sec: float = CHECK_EVERY_SEC) -> None:
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
        self._batch_depth = 0                  # open batch() scopes
        self._scope = _BatchScope(self)        # one object: batch() is on the webhook path
        self._batch_open = False
        self._batch_seen: list[tuple[str, str, float]] = []
        self._batch_kv: dict[str, str] = {}
        self._batch_expiring: dict[str, tuple[str, float]] = {}
        self._batch_changes = 0
        self._flush_scheduled = False
        self._durable_callbacks: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ helpers
    def _write(self, sql: str, params: tuple = ()) -> Optional[int]:
        """Run one write; return its row count, or None when it failed.

        A failure is logged once per streak and the caller keeps the value in
        memory. A write inside a :meth:`batch` scope joins the current batch;
        any other write commits a pending batch first, so its own commit never
        carries someone else's half-done work.
        """
        if self._db is None:
            return None
        batched = self._batch_depth > 0
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
            if not self._commit():
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
    def batch(self) -> "_BatchScope":
        """Writes in this scope share one transaction, committed at the end of the
        current IOLoop iteration (answer from :meth:`when_durable`), or when the
        outermost scope ends if no event loop runs. Scopes nest."""
        return self._scope

    def _leave_batch(self) -> None:
        self._batch_depth -= 1
        if self._batch_depth == 0 and self._batch_open and not self._flush_scheduled:
            self.flush()                # no event loop to commit it at the end of a pass

    def _begin_batch(self) -> bool:
        """Open the batch transaction (False: it could not begin; the write autocommits)
        and, under an event loop, schedule its commit for the end of this pass."""
        if self._batch_open:
            return True
        assert self._db is not None
        try:
            self._db.execute("BEGIN")
        except sqlite3.Error as exc:
            self._failed(exc)
            return False
        self._batch_open = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return True                 # committed when the batch() scope ends
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self.flush)
        return True

    def _commit_batch(self) -> None:
        self._batch_open = False
        if not self._commit():
            self._abort_batch()
            return
        self._batch_seen = []
        self._batch_kv = {}
        self._batch_expiring = {}
        if self._batch_changes:
            self._recovered()
        self._batch_changes = 0

    def _commit(self) -> bool:
        """COMMIT the open transaction; on failure record it and roll back (False)."""
        assert self._db is not None
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._failed(exc)
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            return False
        return True

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

    def sweep(self) -> None:
        """Drop expired rows (the seen and expiring tables implement it)."""


class _BatchScope:
    """``with state.batch():`` (a class, not a generator: cheaper per webhook)."""

    __slots__ = ("_core",)

    def __init__(self, core: StateCore) -> None:
        self._core = core

    def __enter__(self) -> None:
        self._core._batch_depth += 1

    def __exit__(self, *_exc: object) -> None:
        self._core._leave_batch()
