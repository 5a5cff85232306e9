"""A webhook command held in its dedup row (StateStore.mark_seen(pending=...)):
kept by the sweep until cleared, and a database from before the column upgraded."""

from __future__ import annotations

import sqlite3

from openclaw_connector.state import DB_NAME, StateStore


def test_a_row_holding_a_command_outlives_its_expiry_until_cleared(tmp_path):
    """The sweep drops expired ids but never one still holding an unanswered command."""
    now = [1000.0]
    store = StateStore(str(tmp_path), clock=lambda: now[0])
    store.open()
    try:
        assert store.mark_seen("line.event", "e1", 10, pending='{"text":"/help"}')
        assert store.mark_seen("line.event", "e2", 10)
        now[0] += 60
        store.sweep()
        assert store.held_pending("line.event") == [("e1", '{"text":"/help"}')]
        store.clear_pending("line.event", "e1")
        store.sweep()
        assert store.held_pending("line.event") == []
        assert store.mark_seen("line.event", "e1", 10)    # swept once cleared
    finally:
        store.close()


def test_database_from_before_the_pending_column_is_upgraded(tmp_path):
    """An existing seen table without ``pending`` gets it at open; its ids are kept."""
    db = sqlite3.connect(str(tmp_path / DB_NAME))
    db.executescript("""
        CREATE TABLE schema_version (version INTEGER NOT NULL);
        INSERT INTO schema_version VALUES (1);
        CREATE TABLE seen (namespace TEXT NOT NULL, id TEXT NOT NULL, expires REAL NOT NULL,
                           PRIMARY KEY (namespace, id)) WITHOUT ROWID;
        INSERT INTO seen VALUES ('line.event', 'old', 9e18);
    """)
    db.close()
    store = StateStore(str(tmp_path))
    store.open()
    try:
        assert not store.mark_seen("line.event", "old", 10)
        assert store.mark_seen("line.event", "new", 10, pending="{}")
        assert store.held_pending("line.event") == [("new", "{}")]
    finally:
        store.close()
