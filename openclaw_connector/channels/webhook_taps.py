"""Button taps that arrive by webhook (LINE postbacks, WhatsApp button replies).

Shared by ``line_buttons`` and ``whatsapp_buttons``: a tap is deduplicated on
the platform's event id exactly like a message (LINE ``webhookEventId``,
WhatsApp wamid; redeliveries reuse them), *before* its token is opened, so a
redelivered tap never claims its button twice. A refused tap (unknown or
expired token, another chat's button, already decided) is marked seen and
answered with a short sentence; a granted one becomes an Inbound held in the
StateStore like any webhook command (``channels/pending.py``) and runs after
the 200, as the person who tapped. Neither platform can edit a sent message,
so old buttons stay tappable: the decision bookkeeping in
:mod:`openclaw_connector.buttons` answers them "already done".
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Optional

from openclaw_connector import log as logmod
from openclaw_connector.buttons import Buttons, Granted, Refused
from openclaw_connector.channels.pending import PendingInbounds
from openclaw_connector.channels.webhook import DEDUP_TTL_SEC, TaskSet
from openclaw_connector.messages import ChatRef, Inbound, InboundHandler, Reply

Tell = Callable[[ChatRef, Reply], Awaitable[Any]]
InboundFor = Callable[[str], Inbound]     # the granted command -> the tap's Inbound


class WebhookTaps:
    """Admits taps for one webhook channel (its dedup namespace, pending rows, tasks)."""

    def __init__(self, platform: str, *, state: Any, buttons: Optional[Buttons],
                 pending: PendingInbounds, tasks: TaskSet, seen_ns: str,
                 on_inbound: InboundHandler, tell: Tell) -> None:
        self._platform, self._state, self._buttons = platform, state, buttons
        self._pending, self._tasks, self._seen_ns = pending, tasks, seen_ns
        self._on_inbound, self._tell = on_inbound, tell
        self._log = logmod.get(platform)

    def take(self, event_id: str, token: str, chat: ChatRef, inbound_for: InboundFor) -> str:
        """Admit one tap; what happened: ``duplicate``, ``refused`` or ``granted``."""
        if self._state.is_seen(self._seen_ns, event_id):
            self._log.info("event=webhook_duplicate platform=%s id=%s kind=tap",
                           self._platform, event_id)
            return "duplicate"
        verdict = self._buttons.open(token, chat, event_id) if self._buttons is not None \
            else Refused("Buttons are off.")
        if isinstance(verdict, Refused):
            if not self._state.mark_seen(self._seen_ns, event_id, DEDUP_TTL_SEC):
                return "duplicate"
            self._tasks.spawn(self._answer(chat, verdict.text))
            return "refused"
        assert isinstance(verdict, Granted)
        inbound = inbound_for(verdict.command)
        row_key = self._pending.admit(event_id, inbound)
        if row_key is None:
            self._close(verdict)
            return "duplicate"
        self._tasks.spawn(self._run(row_key, inbound, verdict))
        return "granted"

    async def _run(self, row_key: str, inbound: Inbound, verdict: Granted) -> None:
        try:
            await self._pending.run(row_key, self._on_inbound, inbound)
        finally:
            self._close(verdict)

    def _close(self, verdict: Granted) -> None:
        if self._buttons is not None:
            self._buttons.close(verdict)

    async def _answer(self, chat: ChatRef, text: str) -> None:
        try:
            await self._tell(chat, Reply(text))
        except Exception as exc:     # a refusal note is a courtesy: never retried
            self._log.info("event=tap_answer_failed platform=%s error=%s", self._platform,
                           logmod.one_line_error(exc))
