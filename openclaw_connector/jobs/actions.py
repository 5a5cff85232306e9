"""The buttons under a finished job's result: **Again** and **Details** (issue 17).

Each is the exact command a person could type (DESIGN.md, "a button is a
command"): Again is ``/run <template> <same inputs>`` with a fresh seed when
the run had one, Details is ``/history <prompt id>``. "Same inputs" are the
ones the result caption shows (what differs from the template's defaults,
plus the seed; ``commands.templates.bind``), so the defaults fill the rest
exactly as they did the first time. A value that a command line cannot carry
(one holding a double quote) means no Again button rather than a wrong run.
Follow-up templates (``templates.<id>.followups``) need the photo-in issue's
image binding and are not built here yet.
"""

from __future__ import annotations

import secrets
from typing import Any, Mapping, Optional

from openclaw_connector.messages import Action
from openclaw_connector.openclaw.types import JobOutcome

SEED_LIMIT = 2 ** 31               # fits every integer seed input ComfyUI nodes declare


def new_seed() -> int:
    return secrets.randbelow(SEED_LIMIT - 1) + 1


def _value(value: Any) -> Optional[str]:
    """``value`` as it is typed after ``key=`` (None: no command line can hold it)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if '"' in text or not text.strip():
        return None
    return '"%s"' % text


def again_command(template: str, inputs: Optional[Mapping], *,
                  seed: Optional[int] = None) -> Optional[str]:
    """``/run <template> k="v" ... seed=<new>``; None when an input cannot be typed."""
    words = ["/run", template]
    for key, value in (inputs or {}).items():
        if key == "seed" and isinstance(value, int) and not isinstance(value, bool):
            value = seed if seed is not None else new_seed()
        typed = _value(value)
        if typed is None:
            return None
        words.append("%s=%s" % (key, typed))
    return " ".join(words)


def result_actions(template: str, outcome: JobOutcome,
                   inputs: Optional[Mapping] = None) -> tuple[Action, ...]:
    """Again and Details for a job that ran (none for a lost one)."""
    if not outcome.finished or not outcome.prompt_id or not template or template == "?":
        return ()
    actions = []
    again = again_command(template, inputs)
    if again is not None:
        actions.append(Action("Again", again))
    actions.append(Action("Details", "/history %s" % outcome.prompt_id))
    return tuple(actions)
