"""Discord buttons: Reply.actions as an action row, component interactions as taps.

Facts: interactive.md §1.2. Buttons are legacy components (≤5 action rows of
≤5 buttons, ``custom_id`` ≤100 characters = an opaque token from
:mod:`openclaw_connector.buttons`; ``IS_COMPONENTS_V2`` is never set). A press
arrives as INTERACTION_CREATE type 3 (MESSAGE_COMPONENT, tied to no intent,
so it always arrives) and must be answered within 3 s: a granted tap gets
type 6 (DEFERRED_UPDATE_MESSAGE: ack, no loading state) *before* the command
runs, then the command's reply goes out as a normal channel message (bot
token, not the 15-minute interaction token: jobs outlive it). A refused tap
gets an ephemeral type 4 with the reason, seen only by the presser. The
presser is ``member.user`` (guild) or ``user`` (DM): the router checks
*their* permissions. Decided buttons are removed with
``PATCH /channels/{id}/messages/{id}`` ``{"components": []}``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from openclaw_connector import log as logmod
from openclaw_connector.buttons import Buttons, Granted, Refused
from openclaw_connector.messages import Action, ChatRef, Inbound, InboundHandler, Sent

log = logmod.get("discord")

MAX_BUTTONS = 25                    # 5 rows of 5
ROW_WIDTH = 5
LABEL_LIMIT = 80
CALLBACK_ROUTE = "POST /interactions/{id}/{token}/callback"
EDIT_ROUTE = "PATCH /channels/{channel_id}/messages/{message_id}"
DEFERRED_UPDATE = 6                 # DEFERRED_UPDATE_MESSAGE (components only)
CHANNEL_MESSAGE = 4                 # CHANNEL_MESSAGE_WITH_SOURCE
EPHEMERAL = 64
STYLE_SECONDARY, STYLE_SUCCESS, STYLE_DANGER = 2, 3, 4


@dataclass(frozen=True)
class ComponentTap:
    """One button press, as far as a tap needs it."""

    interaction_id: str
    token: str
    custom_id: str
    user_id: str
    chat: ChatRef
    is_direct: bool


def action_rows(buttons: Buttons, chat: ChatRef, actions: Sequence[Action]) -> list[dict]:
    """``components`` for ``actions`` (the first MAX_BUTTONS): the first button of a
    decision group is green, the second red, the rest grey."""
    rows: list[dict] = []
    seen: dict[str, int] = {}
    for action in actions[:MAX_BUTTONS]:
        style = STYLE_SECONDARY
        if action.group:
            nth = seen[action.group] = seen.get(action.group, 0) + 1
            style = STYLE_SUCCESS if nth == 1 else STYLE_DANGER
        if not rows or len(rows[-1]["components"]) == ROW_WIDTH:
            rows.append({"type": 1, "components": []})
        rows[-1]["components"].append({"type": 2, "style": style,
                                       "label": action.label[:LABEL_LIMIT],
                                       "custom_id": buttons.issue(chat, action)})
    return rows


def parse_component(d: Any) -> Optional[ComponentTap]:
    """The press in a MESSAGE_COMPONENT interaction; None for any other kind."""
    if not isinstance(d, dict) or d.get("type") != 3 or not d.get("id") or not d.get("token"):
        return None
    data: dict = d["data"] if isinstance(d.get("data"), dict) else {}
    channel: dict = d["channel"] if isinstance(d.get("channel"), dict) else {}
    channel_id = str(d.get("channel_id") or channel.get("id") or "")
    member: dict = d["member"] if isinstance(d.get("member"), dict) else {}
    user = member.get("user") or d.get("user") or {}
    user_id = str(user.get("id") or "") if isinstance(user, dict) else ""
    custom_id = str(data.get("custom_id") or "")
    if not channel_id or not user_id or not custom_id:
        return None
    guild = d.get("guild_id")
    # No message_id: the reply references no message, and its nonce comes from the
    # delivery key (unique per press), so two presses are never deduplicated as one.
    chat = ChatRef(platform="discord", chat_id=channel_id, user_id=user_id,
                   is_group=guild is not None, received_at=time.time())
    return ComponentTap(str(d["id"]), str(d["token"]), custom_id, user_id, chat, guild is None)


class DiscordTaps:
    """Acknowledges presses and hands granted ones to ``on_inbound``."""

    def __init__(self, rest: Any, buttons: Optional[Buttons], on_inbound: InboundHandler) -> None:
        self._rest, self._buttons, self._on_inbound = rest, buttons, on_inbound

    async def handle(self, tap: ComponentTap, bot_name: str) -> None:
        """Answer within 3 s (type 6, or an ephemeral refusal), then run the command."""
        verdict = self._buttons.open(tap.custom_id, tap.chat, tap.interaction_id) \
            if self._buttons is not None else Refused("Buttons are off.")
        if isinstance(verdict, Refused):
            await self._callback(tap, {"type": CHANNEL_MESSAGE, "data": {
                "content": verdict.text, "flags": EPHEMERAL,
                "allowed_mentions": {"parse": []}}})
            return
        assert isinstance(verdict, Granted) and self._buttons is not None
        await self._callback(tap, {"type": DEFERRED_UPDATE})
        inbound = Inbound(platform="discord", user_id=tap.user_id, chat_id=tap.chat.chat_id,
                          text=verdict.command, chat=tap.chat,
                          message_id="i" + tap.interaction_id, is_direct=tap.is_direct,
                          bot_name=bot_name, tap_id=tap.interaction_id)
        try:
            await self._on_inbound(inbound)
        finally:
            self._buttons.close(verdict)

    async def _callback(self, tap: ComponentTap, body: dict) -> None:
        try:
            await self._rest.call("POST", "/interactions/%s/%s/callback" % (
                tap.interaction_id, tap.token), route=CALLBACK_ROUTE, major=tap.interaction_id,
                body=json.dumps(body).encode("utf-8"))
        except Exception as exc:     # late (10062) or acked already: the press still counts
            log.warning("event=tap_answer_failed interaction=%s error=%s",
                        tap.interaction_id, logmod.one_line_error(exc))

    async def clear(self, sent: Sent) -> None:
        """Remove the buttons from ``sent``'s last message (the one that carries them)."""
        message_id = sent.last_id or sent.first_id
        if not message_id:
            return
        await self._rest.call("PATCH", "/channels/%s/messages/%s" % (sent.chat_id, message_id),
                              route=EDIT_ROUTE, major=sent.chat_id,
                              body=json.dumps({"components": []}).encode("utf-8"))
