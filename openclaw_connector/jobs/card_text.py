"""The live job card's words, and the ETA it quotes, as pure data and functions.

A card is one message that a job's state rewrites (DESIGN.md, "Cards are
edited, results are sent")::

    [Queued] portrait
    Prompt: 5b1c…
    prompt="a red fox" · steps=30
    2 ahead of you · about 40 s

    [Running] portrait
    ...
    Running · KSampler 14/30 · 47 % · 0:12        (steps from ComfyUI ``progress``)
    Running · node 5 of 14 · 0:12                  (nodes that report no steps)
    Running · 0:12                                 (polled only: no per-run events)

    [Done] portrait · 38.0 s  |  [Failed] portrait  |  [Stopped] portrait

The first two lines keep the router's ``[Queued]`` reply shape, so the card
is that reply, edited. The ETA is a running mean of the last few durations
of the same template (kept in the StateStore); there is none until a job of
that template finished once. Queue position: interactive.md §6.4.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Optional, Sequence

from openclaw_connector.jobs.texts import caption_line
from openclaw_connector.openclaw.types import QueueEntry
from openclaw_connector.timetext import about, clock, duration

if TYPE_CHECKING:
    from openclaw_connector.state import StateStore

QUEUED, RUNNING, DONE, FAILED, STOPPED = "queued", "running", "done", "failed", "stopped"
ENDED = (DONE, FAILED, STOPPED)
ETA_NAMESPACE = "progress"          # state.kv: durations.<template> → recent seconds (JSON)
ETA_SAMPLES = 10


@dataclass
class CardState:
    """What a card shows; changed by /queue passes and per-run socket events."""

    phase: str = QUEUED
    ahead: Optional[int] = None          # jobs that run before this one
    eta_sec: Optional[float] = None      # until this job is done, if a mean is known
    started: Optional[float] = None      # monotonic time it was first seen running
    node_class: str = ""                 # the node reporting steps
    step: int = 0
    steps: int = 0
    node_index: int = 0                  # nodes started so far (executing events)
    node_total: int = 0                  # nodes this run executes (graph minus cached)
    took_sec: Optional[float] = None     # for [Done]

    @property
    def percent(self) -> Optional[int]:
        """Sampler progress in whole percent, when a node reports steps."""
        if self.steps <= 0:
            return None
        return int(round(100.0 * min(self.step, self.steps) / self.steps))


def status_line(state: CardState, now: float) -> str:
    """The card's last line: where the job is (no line once it ended)."""
    if state.phase == QUEUED:
        if state.ahead is None:
            return "Waiting in ComfyUI's queue"
        where = "next in line" if state.ahead == 0 else "%d ahead of you" % state.ahead
        return where + (" · " + about(state.eta_sec) if state.eta_sec else "")
    if state.phase != RUNNING:
        return ""
    parts = ["Running"]
    percent = state.percent
    if percent is not None:
        parts.append("%s %d/%d" % (state.node_class or "step", state.step, state.steps))
        parts.append("%d %%" % percent)
    elif state.node_index and state.node_total:
        parts.append("node %d of %d" % (min(state.node_index, state.node_total),
                                        state.node_total))
    if state.started is not None:
        parts.append(clock(now - state.started))
    return " · ".join(parts)


def card_text(template: str, prompt_id: str, state: CardState, now: float, *,
              inputs: Optional[Mapping] = None) -> str:
    """The whole card for ``state`` at monotonic time ``now``."""
    head = "[%s] %s" % (state.phase.capitalize(), template)
    if state.phase == DONE and state.took_sec is not None:
        head += " · " + duration(state.took_sec)
    lines = [head, "Prompt: %s" % prompt_id]
    if inputs:
        lines.append(caption_line(inputs))
    status = status_line(state, now)
    if status:
        lines.append(status)
    return "\n".join(lines)


class QueuePositions:
    """Jobs ahead of each pending prompt in one ``GET /queue`` answer: every running one
    plus the pending ones with a smaller queue number (the pending list is a heap, not
    sorted: §6.4). Built once per answer, so many cards cost one sort."""

    def __init__(self, running: Sequence[QueueEntry], pending: Sequence[QueueEntry]) -> None:
        self._running = len(running)
        self._numbers = sorted(e.number for e in pending if e.number is not None)
        self._pending = {e.prompt_id: (i, e.number) for i, e in enumerate(pending)}

    def ahead(self, prompt_id: str) -> Optional[int]:
        """None if ``prompt_id`` is not pending."""
        found = self._pending.get(prompt_id)
        if found is None:
            return None
        index, number = found
        if number is None:          # no queue number: trust the list order
            return self._running + index
        return self._running + bisect.bisect_left(self._numbers, number)


class DurationStats:
    """Recent durations per template in the StateStore; their mean is the ETA."""

    def __init__(self, state: "StateStore", *, samples: int = ETA_SAMPLES) -> None:
        self._kv = state.kv(ETA_NAMESPACE)
        self._samples = samples

    def mean(self, template: str) -> Optional[float]:
        values = self._load(template)
        return sum(values) / len(values) if values else None

    def record(self, template: str, seconds: float) -> None:
        if seconds <= 0:
            return
        values = (self._load(template) + [float(seconds)])[-self._samples:]
        self._kv.set_json("durations." + template, values)

    def _load(self, template: str) -> list[float]:
        try:
            raw = self._kv.get_json("durations." + template)
        except ValueError:
            return []
        if not isinstance(raw, list):
            return []
        return [float(v) for v in raw if isinstance(v, (int, float)) and v > 0]
