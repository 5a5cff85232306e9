"""The state database's schema, and the migration of an older file on open.

Version 1 (up to issue 21) kept pending Discord/Telegram commands in the job
watcher's ``watches`` table as ``kind='inbound'`` rows; version 2 gives them
their own ``pending_inbound`` table, so the watcher alone owns ``watches``.
The migration runs once, in one transaction, when an older file is opened;
a file written by a newer version is refused rather than misread.
"""

from __future__ import annotations

import logging
import sqlite3

log = logging.getLogger("openclaw_connector.state")

SCHEMA_VERSION = 2

SCHEMA = """
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
CREATE TABLE IF NOT EXISTS pending_inbound (
    key TEXT PRIMARY KEY, platform TEXT NOT NULL, event_id TEXT NOT NULL,
    chat TEXT NOT NULL, created REAL NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS pending_inbound_platform ON pending_inbound (platform);
"""

# What version 1 called a pending command in the watches table.
_V1_INBOUND_KIND = "inbound"


class NewerSchemaError(Exception):
    """The file was written by a newer openclaw-connector (schema version given)."""

    def __init__(self, version: int) -> None:
        super().__init__(version)
        self.version = version


def ensure_schema(db: sqlite3.Connection) -> None:
    """Create missing tables and bring an older file up to :data:`SCHEMA_VERSION`."""
    db.executescript(SCHEMA)
    if "pending" not in {r[1] for r in db.execute("PRAGMA table_info(seen)")}:
        # A database from before issue 21; older code never names the column.
        db.execute("ALTER TABLE seen ADD COLUMN pending TEXT")
    row = db.execute("SELECT version FROM schema_version").fetchone()
    if row is None:
        # A fresh file, or one so old it never stored a version: migrate anyway
        # (every step is a no-op on an empty table).
        version = 1
        db.execute("INSERT INTO schema_version VALUES (?)", (version,))
    else:
        version = int(row[0])
    if version > SCHEMA_VERSION:
        raise NewerSchemaError(version)
    if version < 2:
        _v1_to_v2(db)


def _v1_to_v2(db: sqlite3.Connection) -> None:
    """Move version 1's ``kind='inbound'`` watch rows to ``pending_inbound``, keeping
    their keys (``inbound:<platform>:<event>``), in one transaction."""
    db.execute("BEGIN IMMEDIATE")
    try:
        rows = db.execute("SELECT key, ref_id, chat, created, data FROM watches "
                          "WHERE kind = ?", (_V1_INBOUND_KIND,)).fetchall()
        for key, ref_id, chat, created, data in rows:
            platform = key.split(":", 2)[1] if key.count(":") >= 2 else ""
            db.execute("INSERT OR IGNORE INTO pending_inbound (key, platform, event_id, chat, "
                       "created, data) VALUES (?, ?, ?, ?, ?, ?)",
                       (key, platform, ref_id, chat, created, data))
        db.execute("DELETE FROM watches WHERE kind = ?", (_V1_INBOUND_KIND,))
        db.execute("UPDATE schema_version SET version = 2")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    if rows:
        log.info("event=state_migrated from=1 to=2 pending_moved=%d", len(rows))
