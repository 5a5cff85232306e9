"""LINE buttons: Reply.actions as a buttons template of postback actions; postback
events as taps (interactive.md §1.3).

A buttons template carries 1-4 actions (text ≤160, ``altText`` ≤400); each
is a postback action whose ``data`` is an opaque token (≤300 characters)
from :mod:`openclaw_connector.buttons`. No ``displayText``: whether LINE then
also sends a text ``message`` event is unconfirmed, and such an echo could
run as a second command. The template stays tappable (LINE cannot edit a
sent message); taps after a decision are answered "already done". The
``altText`` lists the commands, so a client that cannot show templates still
shows what to type. Actions beyond the fourth (a result's follow-ups) follow
as one text message of commands to type. A ``postback`` event in active mode
is a tap: its ``webhookEventId`` is the dedup key, its ``source`` the chat and
the tapper, and its reply token answers for free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

from openclaw_connector.buttons import Buttons, actions_as_text
from openclaw_connector.messages import Action, ChatRef, Inbound

MAX_BUTTONS = 4
LABEL_LIMIT = 20
TEXT_LIMIT = 160
ALT_TEXT_LIMIT = 400
DEFAULT_TEXT = "Tap to run:"
OVERFLOW_LIMIT = 5000          # a text message's limit


@dataclass(frozen=True)
class PostbackTap:
    event_id: str
    token: str
    chat: ChatRef

    def inbound(self, command: str) -> Inbound:
        """The tap as the Inbound the router sees: the command, sent by the tapper."""
        return Inbound(platform="line", user_id=self.chat.user_id, chat_id=self.chat.chat_id,
                       text=command, chat=self.chat, message_id=self.event_id,
                       is_direct=not self.chat.is_group, bot_name="", tap_id=self.event_id)


def button_messages(buttons: Buttons, chat: ChatRef, actions: Sequence[Action],
                    text: str) -> list[dict]:
    """The buttons template for the first MAX_BUTTONS actions, then (when there are
    more, e.g. a result with follow-ups) one text message with the rest as commands."""
    messages = [buttons_template(buttons, chat, actions, text)]
    rest = actions[MAX_BUTTONS:]
    if rest:
        messages.append({"type": "text", "text": actions_as_text(rest)[:OVERFLOW_LIMIT]})
    return messages


def buttons_template(buttons: Buttons, chat: ChatRef, actions: Sequence[Action],
                     text: str) -> dict:
    """A template message for the first MAX_BUTTONS actions; ``text`` is its title line
    (the reply's first line, cut to 160)."""
    shown = list(actions[:MAX_BUTTONS])
    line = (text.strip().splitlines() or [""])[0].strip() or DEFAULT_TEXT
    if len(line) > TEXT_LIMIT:
        line = line[:TEXT_LIMIT - 1] + "…"
    return {"type": "template", "altText": actions_as_text(shown)[:ALT_TEXT_LIMIT],
            "template": {"type": "buttons", "text": line, "actions": [
                {"type": "postback", "label": a.label[:LABEL_LIMIT],
                 "data": buttons.issue(chat, a)} for a in shown]}}


def parse_postback(event: Any, now: float) -> Optional[PostbackTap]:
    """The tap in a postback event (active mode, with an event id); None otherwise."""
    if not isinstance(event, dict) or event.get("type") != "postback" or \
            event.get("mode", "active") != "active":
        return None
    postback, source = event.get("postback"), event.get("source")
    event_id = event.get("webhookEventId")
    if not isinstance(postback, dict) or not isinstance(source, dict) or \
            not isinstance(event_id, str) or not event_id:
        return None
    token = postback.get("data")
    user_id = source.get("userId")
    kind = source.get("type")
    chat_id = {"user": user_id, "group": source.get("groupId"),
               "room": source.get("roomId")}.get(kind if isinstance(kind, str) else "")
    if not isinstance(token, str) or not isinstance(user_id, str) or not user_id or \
            not isinstance(chat_id, str) or not chat_id:
        return None
    reply_token = event.get("replyToken")
    chat = ChatRef(platform="line", chat_id=chat_id, user_id=user_id, is_group=kind != "user",
                   reply_token=reply_token if isinstance(reply_token, str) else "",
                   received_at=now)
    return PostbackTap(event_id, token, chat)
