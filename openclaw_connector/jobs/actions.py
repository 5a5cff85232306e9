"""The buttons under a finished job's result: **Again** and **Details** (issue 17).

Each is the exact command a person could type (DESIGN.md, "a button is a
command"): Again is ``/run <template> <same inputs> seed=random`` when the
run had a seed, so every tap draws a new one when its ``/run`` is bound (the
``[Done]`` caption shows the seed used); Details is ``/history <prompt id>``.
"Same inputs" are the ones the result caption shows (what differs from the
template's defaults; ``commands.templates.bind``), so the defaults fill the
rest exactly as they did the first time. A value that a command line cannot carry
(one holding a double quote) means no Again button rather than a wrong run.
Follow-up templates (``templates.<id>.followups``) come after these two, one
button each, built by :mod:`jobs.followups` from the result's first image.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from openclaw_connector.commands.templates import RANDOM_SEED
from openclaw_connector.messages import Action
from openclaw_connector.openclaw.types import JobOutcome


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


def again_command(template: str, inputs: Optional[Mapping]) -> Optional[str]:
    """``/run <template> k="v" ... seed=random``; None when an input cannot be typed."""
    words = ["/run", template]
    for key, value in (inputs or {}).items():
        if key == "seed" and isinstance(value, int) and not isinstance(value, bool):
            words.append("seed=" + RANDOM_SEED)    # drawn anew by every tap's /run
            continue
        typed = _value(value)
        if typed is None:
            return None
        words.append("%s=%s" % (key, typed))
    return " ".join(words)


def result_actions(template: str, outcome: JobOutcome, inputs: Optional[Mapping] = None,
                   followups: Sequence[Action] = ()) -> tuple[Action, ...]:
    """Again, Details, then ``followups`` for a job that ran (none for a lost one)."""
    if not outcome.finished or not outcome.prompt_id or not template or template == "?":
        return ()
    actions = []
    again = again_command(template, inputs)
    if again is not None:
        actions.append(Action("Again", again))
    actions.append(Action("Details", "/history %s" % outcome.prompt_id))
    return tuple(actions) + tuple(followups)
