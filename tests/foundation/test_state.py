"""StateStore: persistence, dedup with TTL, corruption and unwritable directories."""

from __future__ import annotations

import os
import stat
import time

import pytest

from openclaw_connector.messages import ChatRef
from openclaw_connector.state import StateDirError, StateStore, Watch


def test_kv_survives_reopen_and_files_are_private(tmp_path):
    store = StateStore(str(tmp_path / "s"))
    store.open()
    store.set("telegram.offset", "42")
    store.close()
    again = StateStore(str(tmp_path / "s"))
    again.open()
    assert again.get("telegram.offset") == "42"
    again.close()
    assert stat.S_IMODE(os.stat(tmp_path / "s").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "s" / "connector.db").st_mode) == 0o600


def test_mark_seen_is_first_time_only_and_expires(tmp_path):
    now = [1000.0]
    store = StateStore(str(tmp_path), clock=lambda: now[0])
    store.open()
    assert store.mark_seen("line", "ev1", 60) is True
    assert store.mark_seen("line", "ev1", 60) is False
    assert store.mark_seen("whatsapp", "ev1", 60) is True
    now[0] += 61
    assert store.is_seen("line", "ev1") is False
    assert store.mark_seen("line", "ev1", 60) is True
    store.close()


def test_corrupted_database_is_moved_aside(tmp_path, caplog):
    path = tmp_path / "connector.db"
    path.write_bytes(b"this is not a database" * 100)
    store = StateStore(str(tmp_path))
    store.open()
    store.set("k", "v")
    assert store.get("k") == "v"
    store.close()
    moved = [p for p in os.listdir(tmp_path) if ".corrupt-" in p]
    assert moved, os.listdir(tmp_path)
    assert "event=state_corrupt" in caplog.text


def test_uncreatable_state_dir_is_a_config_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StateDirError, match="state_dir"):
        StateStore(str(blocker / "sub")).open()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write a read-only directory")
def test_read_only_state_dir_is_a_config_error(tmp_path):
    os.chmod(tmp_path, 0o500)
    try:
        with pytest.raises(StateDirError):
            StateStore(str(tmp_path / "s")).open()
    finally:
        os.chmod(tmp_path, 0o700)


def test_write_failure_at_run_time_keeps_state_in_memory(tmp_path, caplog):
    store = StateStore(str(tmp_path))
    store.open()
    store._db.execute("PRAGMA query_only = ON")   # every write now fails like a full disk
    store.set("k", "v")
    assert store.get("k") == "v"
    assert store.mark_seen("ns", "a", 60) is True
    assert store.mark_seen("ns", "a", 60) is False
    assert "event=state_write_failed" in caplog.text
    store.close()


def test_watches_round_trip(tmp_path):
    store = StateStore(str(tmp_path))
    store.open()
    row = Watch("prompt:p1", "prompt", "p1", "tpl", ChatRef("console", "c1"), 1.0, {"a": 1},
                "pending", 1.0)
    store.put_watch(row)
    assert store.watch("prompt:p1") == row            # one type: chat read back decoded
    store.update_watch("prompt:p1", "delivered")
    assert [w.state for w in store.watches()] == ["delivered"]
    assert list(store.watches(states=("pending",))) == []
    store.close()


def test_write_is_fast_enough_for_the_ioloop(tmp_path):
    """One kv write, measured (the figure is recorded in benchmarks/README.md)."""
    store = StateStore(str(tmp_path))
    store.open()
    samples = []
    for i in range(200):
        started = time.perf_counter()
        store.set("telegram.offset", str(i))
        samples.append(time.perf_counter() - started)
    samples.sort()
    print("state write median_us=%.0f p99_us=%.0f" % (samples[100] * 1e6, samples[198] * 1e6))
    assert store.get("telegram.offset") == "199"
    store.close()


def _on_disk(path, sql):
    import sqlite3
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_batched_writes_commit_together_before_when_durable_callbacks(tmp_path):
    """Batched writes in one loop iteration are one transaction: invisible to other
    readers until the flush, and ``when_durable`` callbacks run after the commit."""
    import asyncio

    store = StateStore(str(tmp_path))
    store.open()
    seen_sql = "SELECT id FROM seen ORDER BY id"
    observed: dict = {}

    async def scenario() -> None:
        with store.batch():
            assert store.mark_seen("line", "a", 60) is True
            assert store.mark_seen("line", "a", 60) is False   # same batch
        with store.batch():
            store.mark_seen("line", "b", 60)
        observed["before"] = _on_disk(store.path, seen_sql)
        done = asyncio.Event()
        store.when_durable(lambda: (observed.setdefault("at_callback",
                                                        _on_disk(store.path, seen_sql)),
                                    done.set()))
        await asyncio.wait_for(done.wait(), 5)
        # A plain write commits an open batch first, so it never carries half of one.
        with store.batch():
            store.mark_seen("line", "c", 60)
        store.set("k", "v")
        observed["after_plain"] = _on_disk(store.path, seen_sql)
        fired: list = []
        store.flush()
        store.when_durable(lambda: fired.append(1))     # nothing pending: runs at once
        observed["immediate"] = fired

    asyncio.run(scenario())
    store.close()
    assert observed["before"] == []
    assert observed["at_callback"] == [("a",), ("b",)]
    assert observed["after_plain"] == [("a",), ("b",), ("c",)]
    assert observed["immediate"] == [1]


def test_failed_batched_write_keeps_dedup_in_memory(tmp_path, caplog):
    """A batched write that fails (disk full) still dedups and answers durable."""
    import asyncio

    store = StateStore(str(tmp_path))
    store.open()
    store._db.execute("PRAGMA query_only = ON")
    results: list = []

    async def scenario() -> None:
        with store.batch():
            results.append(store.mark_seen("ns", "x", 60))
            results.append(store.mark_seen("ns", "x", 60))
        done = asyncio.Event()
        store.when_durable(done.set)
        await asyncio.wait_for(done.wait(), 5)
        with store.batch():
            results.append(store.mark_seen("ns", "x", 60))

    asyncio.run(scenario())
    store.close()
    assert results == [True, False, False]
    assert caplog.text.count("event=state_write_failed") == 1


def test_sweep_keeps_each_namespace_under_the_limit(tmp_path, monkeypatch):
    """Over SEEN_LIMIT ids the oldest go first; expired ones go at the next sweep."""
    from openclaw_connector.state import records as statemod

    monkeypatch.setattr(statemod, "SEEN_LIMIT", 5)
    monkeypatch.setattr(statemod, "SWEEP_EVERY", 1000)
    now = [1000.0]
    store = StateStore(str(tmp_path), clock=lambda: now[0])
    store.open()
    for i in range(8):
        now[0] += 1
        store.mark_seen("ns", "id%d" % i, 100)
    store.mark_seen("other", "keep", 1)
    store.sweep()
    assert [r[0] for r in _on_disk(store.path, "SELECT id FROM seen WHERE namespace = 'ns' "
                                               "ORDER BY id")] == ["id%d" % i for i in range(3, 8)]
    now[0] += 2
    store.sweep()
    assert _on_disk(store.path, "SELECT id FROM seen WHERE namespace = 'other'") == []
    assert store.mark_seen("ns", "id0", 100) is True     # forgotten, so new again
    store.close()

