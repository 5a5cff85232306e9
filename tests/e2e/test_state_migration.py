"""A state file written by schema version 1 (before issue 14) on the new daemon's first start."""

from __future__ import annotations

import json
import os
import sqlite3
import time

import pytest

from tests.e2e.process import until
from tests.e2e.world import DC_USER, World

# Schema version 1, verbatim from openclaw_connector/state.py before issue 14.
V1_SCHEMA = """
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
INSERT INTO schema_version VALUES (1);
"""


def _chat(chat_id: str, message_id: str) -> str:
    """A Discord ChatRef as version 1 stored it (ChatRef.to_json, spelled out)."""
    return json.dumps({"chat_id": chat_id, "is_group": True, "message_id": message_id,
                       "platform": "discord", "received_at": 0.0, "reply_token": "",
                       "user_id": DC_USER}, sort_keys=True)


def write_v1_database(state_dir: str, *, command_chat: str, job_chat: str,
                      prompt_id: str) -> None:
    """What version 1 left after a crash: a Discord command acknowledged but not
    answered (a ``kind='inbound'`` watch row) and a job still being followed."""
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    db = sqlite3.connect(os.path.join(state_dir, "connector.db"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(V1_SCHEMA)
    now = time.time()
    command = {"platform": "discord", "user_id": DC_USER, "chat_id": command_chat,
               "text": "/help", "message_id": "1900000000000000001", "is_direct": False,
               "bot_name": "openclaw", "mentioned": False, "verified": True}
    db.execute("INSERT INTO watches VALUES (?, 'inbound', ?, '', ?, ?, 'inbound', ?, ?)",
               ("inbound:discord:1900000000000000001", "1900000000000000001",
                _chat(command_chat, "1900000000000000001"), now, now,
                json.dumps(command, sort_keys=True)))
    db.execute("INSERT INTO seen VALUES ('discord', '1900000000000000001', ?, NULL)",
               (now + 3600,))
    db.execute("INSERT INTO watches VALUES (?, 'prompt', ?, 'portrait', ?, ?, 'pending', ?, "
               "'{}')", ("prompt:%s:discord:%s" % (prompt_id, job_chat), prompt_id,
                        _chat(job_chat, "1900000000000000002"), now, now))
    db.close()


@pytest.mark.gen_test(timeout=60)
async def test_a_version_1_file_is_migrated_its_command_replayed_and_its_job_delivered(
        tmp_path):
    async with World(tmp_path, channels=("discord",)) as w:
        command_chat, job_chat = w.chat_for("discord", 901), w.chat_for("discord", 902)
        prompt_id = w.openclaw.submit("portrait")
        w.openclaw.finish_job(prompt_id, images=["e2e.png"])
        write_v1_database(w.state_dir, command_chat=command_chat, job_chat=job_chat,
                          prompt_id=prompt_id)
        run = await w.start_daemon()
        await until(lambda: w.texts("discord", command_chat), 15,
                    "the replayed /help answered")
        await until(lambda: any(t.startswith("[Done]") for t in w.texts("discord", job_chat)),
                    15, "the followed job delivered")
        assert await run.stop() == 0
        assert run.count("event=pending_replayed platform=discord count=1") == 1
        assert run.count("event=state_migrated from=1 to=2 pending_moved=1") == 1
    db = sqlite3.connect(os.path.join(w.state_dir, "connector.db"))
    try:
        version = db.execute("SELECT version FROM schema_version").fetchall()
        inbound_watches = db.execute("SELECT key FROM watches WHERE kind = 'inbound'").fetchall()
        pending = db.execute("SELECT key FROM pending_inbound").fetchall()
    finally:
        db.close()
    assert version == [(2,)]
    assert inbound_watches == [] and pending == []     # moved, then answered and removed
    assert len(w.texts("discord", command_chat)) == 1  # replayed once, not twice
