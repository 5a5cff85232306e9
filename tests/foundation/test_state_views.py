"""StateStore.kv views and the batch() scope (issue 14)."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from openclaw_connector.state import StateStore


def _on_disk(path: str, sql: str) -> list:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_a_view_reads_and_writes_the_keys_callers_spelled_by_hand(tmp_path):
    """kv("telegram.migrated").set("42", ...) is the key "telegram.migrated.42", so a
    database written before the views keeps working."""
    now = [1000.0]
    store = StateStore(str(tmp_path), clock=lambda: now[0])
    store.open()
    store.set("telegram.migrated.42", "-100")              # as version 1 wrote it
    migrated = store.kv("telegram.migrated")
    assert migrated.get("42") == "-100" and migrated.get("7") is None
    assert migrated.get("7", "dflt") == "dflt"
    store.kv("outbox.progress").set_json("w1", {"sent_parts": 1})
    assert store.get_json("outbox.progress.w1") == {"sent_parts": 1}
    store.kv("whatsapp.last_inbound").put_expiring("1555", "999.5", 10)
    assert store.get_expiring("whatsapp.last_inbound.1555") == "999.5"
    now[0] += 11
    assert store.kv("whatsapp.last_inbound").get_expiring("1555") is None
    migrated.delete("42")
    assert store.get("telegram.migrated.42") is None
    assert migrated.key("9") == "telegram.migrated.9"
    store.close()
    with pytest.raises(ValueError):
        store.kv("telegram.")


def test_batch_without_an_event_loop_commits_when_the_outermost_scope_ends(tmp_path):
    store = StateStore(str(tmp_path))
    store.open()
    sql = "SELECT id FROM seen ORDER BY id"
    with store.batch():
        store.mark_seen("ns", "a", 60)
        with store.batch():                                 # scopes nest
            store.mark_seen("ns", "b", 60)
        inner_done = _on_disk(store.path, sql)
    after = _on_disk(store.path, sql)
    store.close()
    assert inner_done == []                                 # one transaction, still open
    assert after == [("a",), ("b",)]


def test_batch_under_a_loop_commits_at_the_end_of_the_pass_then_when_durable(tmp_path):
    store = StateStore(str(tmp_path))
    store.open()
    sql = "SELECT key FROM kv ORDER BY key"
    seen: dict = {}

    async def scenario() -> None:
        with store.batch():
            store.kv("a").set("x", "1")
        seen["after_scope"] = _on_disk(store.path, sql)     # not yet: end of the pass
        done = asyncio.Event()
        store.when_durable(lambda: (seen.setdefault("durable", _on_disk(store.path, sql)),
                                    done.set()))
        await asyncio.wait_for(done.wait(), 5)

    asyncio.run(scenario())
    store.close()
    assert seen["after_scope"] == []
    assert seen["durable"] == [("a.x",)]
