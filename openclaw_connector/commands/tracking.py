"""What the router needs from the job tracker (the JobWatcher, issue 7).

The router calls it *before* it returns the ``[Queued]`` or approval reply,
so a result can never finish before anyone watches for it. ``jobs`` may be
None (no tracker built); then nothing is watched.
"""

from __future__ import annotations

from typing import Mapping, Optional, Protocol

from openclaw_connector.messages import ChatRef


class JobTracker(Protocol):
    """Follows prompts and approvals that a chat started and delivers their results."""

    async def watch_prompt(self, prompt_id: str, template: str, chat: ChatRef, *,
                           inputs: Optional[Mapping] = None) -> None:
        """Deliver the outcome (and images) of ``prompt_id`` to ``chat``; ``inputs`` are
        what the result caption shows (those that differ from defaults, and the seed)."""

    async def watch_approval(self, approval_id: str, template: str, chat: ChatRef,
                             expires_at: str, *, inputs: Optional[Mapping] = None) -> None:
        """Tell ``chat`` when ``approval_id`` is decided; then watch its executed prompt."""
