"""The card's words and the queue position, as pure functions (issue 16)."""

from __future__ import annotations

from openclaw_connector.jobs.card_text import DONE, QUEUED, RUNNING, CardState, \
    DurationStats, QueuePositions, card_text
from openclaw_connector.timetext import about, clock
from openclaw_connector.openclaw.types import QueueState
from openclaw_connector.state import StateStore


def test_position_follows_queue_numbers_not_the_heap_order():
    """ComfyUI's pending list is a heap: position counts smaller numbers, plus the
    running job; front submits have negative numbers."""
    queue = QueueState.from_json({
        "queue_running": [[5, "run", {}, {}, []]],
        "queue_pending": [[9, "c", {}, {}, []], [7, "a", {}, {}, []],
                          [-1, "front", {}, {}, []], [8, "b", {}, {}, []]]})
    pos = QueuePositions(queue.running, queue.pending)
    assert [pos.ahead(p) for p in ("front", "a", "b", "c")] == [1, 2, 3, 4]
    assert pos.ahead("run") is None and pos.ahead("gone") is None


def test_queue_entry_reads_client_id_and_node_classes():
    queue = QueueState.from_json({"queue_running": [[1, "p", {
        "3": {"class_type": "KSampler", "inputs": {}}, "9": {"class_type": "SaveImage"}},
        {"client_id": "abc", "create_time": 1000}, []]], "queue_pending": []})
    (entry,) = queue.running
    assert entry.client_id == "abc" and entry.node_class("3") == "KSampler"
    assert entry.node_class(9) == "SaveImage" and entry.node_class("x") == ""


def test_card_texts_for_each_phase():
    queued = CardState(QUEUED, ahead=2, eta_sec=40.2)
    assert card_text("portrait", "p1", queued, 0, inputs={"seed": 7}) == \
        "[Queued] portrait\nPrompt: p1\nseed=7\n2 ahead of you · about 40 s"
    assert card_text("portrait", "p1", CardState(QUEUED, ahead=0), 0).endswith("next in line")
    running = CardState(RUNNING, started=100.0, node_class="KSampler", step=14, steps=30)
    assert card_text("portrait", "p1", running, 112.5).endswith(
        "Running · KSampler 14/30 · 47 % · 0:12")
    nodes = CardState(RUNNING, started=100.0, node_index=5, node_total=14)
    assert card_text("blur", "p1", nodes, 100.0).endswith("Running · node 5 of 14 · 0:00")
    done = CardState(DONE, took_sec=38.0)
    assert card_text("portrait", "p1", done, 0) == "[Done] portrait · 38.0 s\nPrompt: p1"
    assert clock(3723) == "1:02:03" and clock(-1) == "0:00"
    assert about(0.2) == "about 1 s" and about(200) == "about 3 min"


def test_eta_is_the_mean_of_the_last_ten_durations(tmp_path):
    state = StateStore(str(tmp_path / "state"))
    state.open()
    stats = DurationStats(state)
    assert stats.mean("portrait") is None
    for seconds in [100.0] + [10.0] * 10:
        stats.record("portrait", seconds)
    assert stats.mean("portrait") == 10.0
    assert stats.mean("other") is None
    state.close()
