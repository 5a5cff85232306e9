"""Ids as people paste them: a unique prefix of a job or approval id is enough.

The ``[Done]`` caption shows the first 8 characters of a ComfyUI prompt id and
phones make long ids awkward to copy, so every command that takes an id
accepts the full id or any prefix of at least :data:`MIN_PREFIX` characters
that matches exactly one known id. Known prompt ids are the latest jobs
(``GET /api/jobs``, or OpenClaw's ``/openclaw/jobs``), else ComfyUI's queue and
history (``GET /queue``, ``GET /history?max_items=``, openclaw-api.md §4.5, §5);
known approval ids are OpenClaw's pending approvals (§4.3).
"""

from __future__ import annotations

from typing import Iterable, Union

from openclaw_connector.messages import Reply
from openclaw_connector.openclaw.types import OpenClawError

MIN_PREFIX = 6
FULL_PROMPT_ID = 36          # a ComfyUI prompt id is a uuid4 string
HISTORY_SCAN = 200           # most recent jobs searched for a prefix


def pick(given: str, known: Iterable[str]) -> Union[str, Reply]:
    """The one known id ``given`` names, ``given`` itself when none matches (so the
    caller reports it as unknown), or a Reply when it is too short or ambiguous."""
    known = list(dict.fromkeys(known))
    if given in known:
        return given
    matches = [k for k in known if k.startswith(given)]
    if not matches:
        return given
    if len(given) < MIN_PREFIX:
        return Reply("%s is too short to name a job; give at least %d characters of the "
                     "id." % (given, MIN_PREFIX))
    if len(matches) > 1:
        shown = ", ".join(matches[:5]) + (", …" if len(matches) > 5 else "")
        return Reply("%s matches %d ids (%s); give more characters." % (
            given, len(matches), shown))
    return matches[0]


async def prompt_id(openclaw: object, given: str) -> Union[str, Reply]:
    """Resolve a prompt id prefix against ComfyUI's queue and history."""
    if len(given) >= FULL_PROMPT_ID:
        return given
    try:
        # The jobs list is ids and times only; /history would carry every graph.
        jobs = await openclaw.jobs(limit=HISTORY_SCAN)    # type: ignore[attr-defined]
        known = [j.id for j in jobs]
    except OpenClawError:
        queue = await openclaw.queue()                    # type: ignore[attr-defined]
        known = list(queue.running_ids) + list(queue.pending_ids)
        known += await openclaw.history_ids(limit=HISTORY_SCAN)  # type: ignore[attr-defined]
    return pick(given, known)


async def approval_id(openclaw: object, given: str) -> Union[str, Reply]:
    """Resolve an approval id prefix against the pending approvals."""
    items = await openclaw.approvals("pending")          # type: ignore[attr-defined]
    return pick(given, [a.approval_id for a in items])
