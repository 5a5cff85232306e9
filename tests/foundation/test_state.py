"""StateStore: persistence, dedup with TTL, corruption and unwritable directories."""

from __future__ import annotations

import os
import stat
import time

import pytest

from openclaw_connector.state import StateDirError, StateStore, WatchRow


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
    row = WatchRow("prompt:p1", "prompt", "p1", "tpl", '{"platform":"console"}', 1.0,
                   "pending", 1.0, {"a": 1})
    store.put_watch(row)
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
