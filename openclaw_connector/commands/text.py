"""Words for chat: client errors and results turned into short plain-text lines.

Every error a handler can meet becomes one sentence from issue 3 (the
unreachable sentence, the admin-token hint, ``OpenClaw is busy, retry in N s``);
nothing here ever prints a traceback, a token or a URL with a query string.
Pure functions, tested without I/O.
"""

from __future__ import annotations

import datetime as dt
from typing import Mapping, Optional

from openclaw_connector.openclaw.types import (
    AdminTokenRejected, BadResponse, JobOutcome, NotFound, OpenClawError, RateLimited,
    ServerError, Unreachable)

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


def seconds(value: Optional[float]) -> str:
    """``4.2 s``, ``3 min 5 s``, ``2 h 10 min``."""
    if value is None:
        return "?"
    value = max(0.0, value)
    if value < 60:
        return "%.1f s" % value if value < 10 else "%d s" % round(value)
    if value < 3600:
        return "%d min %d s" % (value // 60, value % 60)
    return "%d h %d min" % (value // 3600, (value % 3600) // 60)


STAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"   # the seed's format; every reply uses only this one


def stamp(epoch: Optional[float]) -> str:
    """Epoch seconds as ``2026-02-07T12:00:00Z`` (``?`` when unknown)."""
    if epoch is None:
        return "?"
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime(STAMP_FORMAT)


def short_time(iso: str) -> str:
    """An ISO timestamp from the server as ``2026-02-07T12:00:00Z`` (UTC, no fraction);
    as it came when unparseable. A timestamp without a zone is taken as UTC."""
    try:
        when = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except (ValueError, AttributeError, TypeError):
        return iso or "?"
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc)
    return when.strftime(STAMP_FORMAT)


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
        lines.append("Duration: %s" % seconds(outcome.duration_sec))
    names = [i.filename for i in outcome.images]
    if names:
        shown = ", ".join(names[:10]) + (", …" if len(names) > 10 else "")
        lines.append("Images: %d (%s)" % (len(names), shown))
    else:
        lines.append("Images: 0")
    for other in outcome.other_outputs:
        lines.append("Output %s: %d from node %s" % (other.kind, other.count, other.node_id))
    return lines
