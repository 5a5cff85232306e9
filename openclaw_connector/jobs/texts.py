"""The lines the JobWatcher sends to chat (issue 7's texts), as pure functions.

``[Done] <template> · <prompt_id short> · 12.4 s · 2 images`` plus a line with the
inputs that differ from the template's defaults and the seed
(``prompt="a red fox" · steps=30 · seed=7``); the short id is a prefix every
id-taking command accepts,
``[Failed] <template> · <prompt_id>: <node_type>: <exception_message>``,
``[Stopped] ...``, ``[Lost] ...``, ``[Gave up] ...`` and the approval lines
``[Approved] ... Executed: <prompt_id>``, ``[Rejected] <id>``, ``[Expired] <id>``.
Outcomes come from :class:`~openclaw_connector.openclaw.types.JobOutcome`
(openclaw-api.md §5: history entry, ``execution_error`` fields). Every text is
plain, one line where possible, and never holds a URL or a token.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

from openclaw_connector.openclaw.types import JobOutcome, OtherOutput
from openclaw_connector.timetext import duration

SHORT_ID = 8
MAX_ERROR_CHARS = 300
MAX_SHOWN_TEXT = 80


def short_id(prompt_id: str) -> str:
    """The first 8 characters of a ComfyUI uuid: enough to tell jobs apart in a chat."""
    return prompt_id[:SHORT_ID]


def _plural(n: int, word: str) -> str:
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


def _one_line(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def outputs_summary(others: Sequence[OtherOutput]) -> str:
    """``gifs ×1 (node 12), text ×2 (node 15)`` for non-image outputs."""
    return ", ".join("%s ×%d (node %s)" % (o.kind, o.count, o.node_id) for o in others)


def caption_line(shown: Mapping, *, limit: int = MAX_SHOWN_TEXT) -> str:
    """``prompt="a red fox" · steps=30 · seed=7`` with long text cut to ``limit``."""
    parts = []
    for key, value in shown.items():
        if isinstance(value, str):
            text = " ".join(value.split())
            if len(text) > limit:
                text = text[:limit - 1] + "…"
            parts.append('%s="%s"' % (key, text))
        else:
            word = str(value).lower() if isinstance(value, bool) else value
            parts.append("%s=%s" % (key, word))
    return " · ".join(parts)


def done_text(template: str, outcome: JobOutcome, *, max_images: int,
              notes: Sequence[str] = (), inputs: Optional[Mapping] = None) -> str:
    """The caption sent with a successful job's images (or alone, without images)."""
    parts = ["[Done] %s" % template, short_id(outcome.prompt_id)]
    took = duration(outcome.duration_sec, unknown="")
    if took:
        parts.append(took)
    total = len(outcome.images)
    if total:
        images = _plural(total, "image")
        if total > max_images:
            images += " (+%d more, /history %s)" % (total - max_images, outcome.prompt_id)
        parts.append(images)
        if outcome.other_outputs:
            parts.append("also: " + outputs_summary(outcome.other_outputs))
    elif outcome.other_outputs:
        parts.append("no images; produced: " + outputs_summary(outcome.other_outputs))
    else:
        parts.append("no outputs")
    text = " · ".join(parts)
    if inputs:
        text += "\n" + caption_line(inputs)
    if notes:
        text += "\n" + "\n".join(notes)
    return text


def failed_text(template: str, outcome: JobOutcome) -> str:
    where = "%s: " % outcome.error_node_type if outcome.error_node_type else ""
    return "[Failed] %s · %s: %s%s" % (template, outcome.prompt_id, where,
                                       _one_line(outcome.error_message or "unknown error"))


def stopped_text(template: str, outcome: JobOutcome) -> str:
    return "[Stopped] %s · %s" % (template, outcome.prompt_id)


def lost_text(prompt_id: str) -> str:
    return "[Lost] %s: ComfyUI restarted before the job finished" % prompt_id


def gave_up_text(template: str, prompt_id: str, hours: float) -> str:
    return ("[Gave up] %s · %s: no result after %s; it may still finish, see /history %s"
            % (template, prompt_id, duration(hours * 3600), prompt_id))


def outcome_text(template: str, outcome: JobOutcome, *, max_images: int,
                 notes: Sequence[str] = (), inputs: Optional[Mapping] = None) -> str:
    """The one text for any finished (or lost) outcome."""
    if outcome.state == "success":
        return done_text(template, outcome, max_images=max_images, notes=notes,
                         inputs=inputs)
    if outcome.state == "interrupted":
        return stopped_text(template, outcome)
    if outcome.state == "error":
        return failed_text(template, outcome)
    return lost_text(outcome.prompt_id)


def approved_text(approval_id: str, template: str, prompt_id: str,
                  by: Optional[str] = None) -> str:
    who = " by %s" % by if by else ""
    return "[Approved] %s · %s%s. Executed: %s" % (approval_id, template, who, prompt_id)


def approved_not_run_text(approval_id: str, template: str, by: Optional[str] = None) -> str:
    who = " by %s" % by if by else ""
    return ("[Approved] %s · %s%s, but OpenClaw did not start the job (its submit to "
            "ComfyUI failed; see the OpenClaw log)" % (approval_id, template, who))


def rejected_text(approval_id: str, template: str, by: Optional[str] = None) -> str:
    who = " by %s" % by if by else ""
    return "[Rejected] %s · %s%s" % (approval_id, template, who)


def expired_text(approval_id: str, template: str) -> str:
    return "[Expired] %s · %s: nobody approved it in time" % (approval_id, template)


def approval_gone_text(approval_id: str, template: str) -> str:
    return "[Lost] %s · %s: OpenClaw no longer knows this approval request" % (
        approval_id, template)


def image_note(filename: str, reason: str) -> str:
    return "(%s not attached: %s)" % (filename, reason)
