"""Telegram buttons: Reply.actions as an inline keyboard, callback queries as taps.

Facts: interactive.md §1.1. Each button's ``callback_data`` is an opaque token
from :mod:`openclaw_connector.buttons` (22 bytes; the limit is 64). A
``callback_query`` update is answered with ``answerCallbackQuery`` *first*,
before any OpenClaw call (the client shows a spinner until then; the deadline
is undocumented), with a short text when the tap is refused (unknown or
expired token, another chat's button, already decided). A granted tap becomes
an Inbound whose text is the command and whose sender is ``from`` (the
person who tapped), so the router decides what that person may do. A late
answer (400 "query is too old") is logged and the command still runs: the
update was the tap. Decided buttons are cleared with
``editMessageReplyMarkup`` without ``reply_markup``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Optional, Sequence

from openclaw_connector import log as logmod
from openclaw_connector.buttons import Buttons, Granted, Refused
from openclaw_connector.channels.telegram.wire import GROUP_TYPES, BotInfo, PoisonUpdate, \
    TelegramError, log_field
from openclaw_connector.messages import Action, ChatRef, Inbound, InboundHandler, Reply, Sent

if TYPE_CHECKING:
    from openclaw_connector.channels.telegram.send import TelegramSender

log = logmod.get("telegram")

MAX_BUTTONS = 20            # Telegram allows ~100; more is not a keyboard a phone can use
ROW_WIDTH = 2
LABEL_LIMIT = 64

ApiCall = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class CallbackTap:
    """One callback query, as far as a button needs it."""

    query_id: str
    data: str
    user_id: str
    chat: ChatRef
    is_direct: bool


def inline_keyboard(buttons: Buttons, chat: ChatRef, actions: Sequence[Action]) -> dict:
    """``reply_markup`` for ``actions`` (the first MAX_BUTTONS), two to a row."""
    row: list[dict] = []
    rows: list[list[dict]] = []
    for action in actions[:MAX_BUTTONS]:
        row.append({"text": action.label[:LABEL_LIMIT],
                    "callback_data": buttons.issue(chat, action)})
        if len(row) == ROW_WIDTH:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    return {"inline_keyboard": rows}


def parse_callback(update: Any, *, now: float = 0.0) -> Optional[CallbackTap]:
    """The tap in a ``callback_query`` update; None for one without a chat message or
    data (inline-mode messages, games). Raises PoisonUpdate when it is malformed."""
    query = update.get("callback_query") if isinstance(update, dict) else None
    if not isinstance(query, dict) or not isinstance(query.get("id"), str):
        raise PoisonUpdate("callback_query without id")
    sender = query.get("from")
    if not isinstance(sender, dict) or not isinstance(sender.get("id"), int):
        raise PoisonUpdate("callback_query with malformed from")
    message = query.get("message")
    data = query.get("data")
    if not isinstance(message, dict) or not isinstance(data, str):
        return None
    chat = message.get("chat")
    if not isinstance(chat, dict) or not isinstance(chat.get("id"), int):
        raise PoisonUpdate("callback_query message without chat.id")
    mid = message.get("message_id")
    ref = ChatRef(platform="telegram", chat_id=str(chat["id"]), user_id=str(sender["id"]),
                  message_id=str(mid) if isinstance(mid, int) else "",
                  is_group=chat.get("type") in GROUP_TYPES, received_at=now)
    return CallbackTap(query["id"], data, str(sender["id"]), ref, chat.get("type") == "private")


class TelegramButtons:
    """Sends keyboards, answers callback queries and hands granted taps to ``on_inbound``;
    ``answer_timeout`` bounds each answerCallbackQuery."""

    def __init__(self, call_api: ApiCall, buttons: Optional[Buttons],
                 on_inbound: InboundHandler, *, answer_timeout: float) -> None:
        self._call_api, self._buttons, self._on_inbound = call_api, buttons, on_inbound
        self._answer_timeout = answer_timeout

    async def send(self, sender: "TelegramSender", chat: ChatRef, reply: Reply,
                   start_part: int) -> Sent:
        """``reply`` through ``sender``, its actions as an inline keyboard on the last part
        (remembered, so the keyboard can be cleared once decided)."""
        if not reply.actions or self._buttons is None:
            return await sender.send(chat, reply, start_part=start_part)
        markup = inline_keyboard(self._buttons, chat, reply.actions)
        sent = await sender.send(chat, reply, start_part=start_part, markup=markup)
        self._buttons.shown(reply.actions, sent)
        return sent

    async def handle(self, tap: CallbackTap, bot: BotInfo) -> None:
        """Answer the query, then run its command as the tapper (if granted)."""
        verdict = self._buttons.open(tap.data, tap.chat, tap.query_id) \
            if self._buttons is not None else Refused("Buttons are off.")
        await self._answer(tap.query_id, verdict.text if isinstance(verdict, Refused) else "")
        if not isinstance(verdict, Granted):
            return
        inbound = Inbound(platform="telegram", user_id=tap.user_id, chat_id=tap.chat.chat_id,
                          text=verdict.command, chat=tap.chat, message_id="cb" + tap.query_id,
                          is_direct=tap.is_direct, bot_name=bot.username,
                          tap_id=tap.query_id)
        try:
            await self._on_inbound(inbound)
        finally:
            assert self._buttons is not None
            self._buttons.close(verdict)

    async def _answer(self, query_id: str, text: str) -> None:
        params: dict = {"callback_query_id": query_id}
        if text:
            params["text"] = text[:200]
        try:
            await self._call_api("answerCallbackQuery", params, timeout=self._answer_timeout)
        except TelegramError as exc:
            # Too late or answered already: the tap still counts (interactive.md §1.1).
            log.warning("event=tap_answer_failed query=%s error=%s", query_id,
                        log_field(str(exc)))

    async def clear(self, sent: Sent) -> None:
        """Remove the keyboard from ``sent``'s last message (the one that carries it)."""
        message_id = sent.last_id or sent.first_id
        if not message_id.isdigit():
            return
        chat: Any = int(sent.chat_id) if sent.chat_id.lstrip("-").isdigit() else sent.chat_id
        try:
            await self._call_api("editMessageReplyMarkup",
                                 {"chat_id": chat, "message_id": int(message_id)})
        except TelegramError as exc:
            if exc.status == 400 and "not modified" in exc.description:
                return              # already without buttons
            raise
