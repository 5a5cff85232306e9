"""StateFile: opening, checking and restoring the state database file.

A corrupted, empty (0-byte) or unreadable file where a database was expected
is moved aside with an ERROR and recreated. A directory that cannot be
created or written raises :class:`StateDirError` (a configuration error,
exit 78). ``check()``, run every ``check_sec`` by ``start()``, sweeps expired
rows and notices a database file that was deleted or replaced under us: the
open connection still holds the data, so it is copied back to the path. An
older file is migrated on open (schema.py).
"""

from __future__ import annotations

import os
import sqlite3
from typing import Optional

import tornado.ioloop

from openclaw_connector.state.core import StateCore, StateDirError, log
from openclaw_connector.state.schema import NewerSchemaError, ensure_schema


class StateFile(StateCore):
    """The file under the connection; opened in ``start()``, closed last in ``stop()``."""

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
            ensure_schema(db)
        except NewerSchemaError as exc:
            db.close()
            raise StateDirError("%s was written by a newer version (schema %d); "
                                "upgrade openclaw-connector" % (self.path, exc.version)) from None
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
