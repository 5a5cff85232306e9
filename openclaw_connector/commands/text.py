"""Words for chat: client errors and results turned into short plain-text lines.

Every error a handler can meet becomes one sentence from issue 3 (the
unreachable sentence, the admin-token hint, ``OpenClaw is busy, retry in N s``);
nothing here ever prints a traceback, a token or a URL with a query string.
Pure functions, tested without I/O.
"""

from __future__ import annotations

from typing import Mapping, Optional

from openclaw_connector.openclaw.types import (
    AdminTokenRejected, BadResponse, JobOutcome, NotFound, OpenClawError, RateLimited,
    ServerError, Unreachable)
from openclaw_connector.timetext import duration

MAX_INPUT_SUMMARY = 80


def explain(exc: BaseException, *, what: str = "") -> str:
    """One sentence for a failed call; ``what`` names the call for partial answers."""
    prefix = "%s: " % what if what else ""
    if isinstance(exc, (Unreachable, AdminTokenRejected, RateLimited)):
        return prefix + str(exc)
    if isinstance(exc, NotFound):
        return prefix + "not found (%s)" % exc if str(exc) else prefix + "not found"
    if isinstance(exc, ServerError):
        return prefix + "OpenClaw answered HTTP %d: %s" % (exc.status, exc.message or "error")
    if isinstance(exc, BadResponse):
        return prefix + "unexpected answer from ComfyUI/OpenClaw (%s)" % exc
    if isinstance(exc, OpenClawError):
        return prefix + str(exc)
    return prefix + "failed (%s)" % type(exc).__name__


def gib(value: Optional[float]) -> str:
    if value is None:
        return "?"
    return "%.1f GiB" % (value / 1024 ** 3)


def inputs_summary(inputs: Mapping) -> str:
    if not inputs:
        return "(no inputs)"
    text = ", ".join("%s=%s" % (k, v) for k, v in inputs.items())
    return text if len(text) <= MAX_INPUT_SUMMARY else text[:MAX_INPUT_SUMMARY - 1] + "…"


def outcome_lines(outcome: JobOutcome) -> list[str]:
    """``/history`` lines for one prompt."""
    pid = outcome.prompt_id
    if outcome.state == "unknown":
        return ["Job %s: ComfyUI has no job with this id in its queue or its history; "
                "the ids of recent jobs are in /jobs." % pid]
    if outcome.state == "running":
        return ["Job %s: %s." % (pid, "waiting in the queue" if outcome.queued
                                 else "still running")]
    if outcome.state == "success":
        lines = ["Job %s: success" % pid]
    elif outcome.state == "interrupted":
        lines = ["Job %s: interrupted" % pid]
    else:
        where = outcome.error_node_type or "a node"
        if outcome.error_node_id:
            where += " (node %s)" % outcome.error_node_id
        lines = ["Job %s: error in %s: %s" % (pid, where, outcome.error_message)]
    if outcome.duration_sec is not None:
        lines.append("Duration: %s" % duration(outcome.duration_sec))
    names = [i.filename for i in outcome.images]
    if names:
        shown = ", ".join(names[:10]) + (", …" if len(names) > 10 else "")
        lines.append("Images: %d (%s)" % (len(names), shown))
    else:
        lines.append("Images: 0")
    for other in outcome.other_outputs:
        lines.append("Output %s: %d from node %s" % (other.kind, other.count, other.node_id))
    return lines
