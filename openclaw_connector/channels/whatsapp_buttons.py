"""WhatsApp buttons: Reply.actions as interactive reply buttons, button replies as taps
(interactive.md §1.4).

An interactive message holds 1-3 reply buttons (``id`` ≤256 = an opaque token
from :mod:`openclaw_connector.buttons`, ``title`` ≤20 and unique) under a body
of ≤1024 characters. So the reply's last text piece that fits becomes the
body (a result's caption: its images follow unchanged, as plain image
messages); otherwise the buttons come in a message of their own. More
than three actions (``/approvals``) go out as the plain commands instead.
Interactive messages are free-form, so they follow the 24-hour window like
every send (``whatsapp.py`` refuses outside it). A tap arrives as a
``messages[]`` item of type ``interactive``/``button_reply`` (or ``button``
for a template's quick reply, whose ``payload`` is the token); its wamid is
the dedup key and ``from`` is the person who tapped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

from openclaw_connector.buttons import Buttons, actions_as_text
from openclaw_connector.messages import Action, ChatRef, Inbound

MAX_BUTTONS = 3
TITLE_LIMIT = 20
BODY_LIMIT = 1024
DEFAULT_BODY = "Tap to run:"


@dataclass(frozen=True)
class ButtonTap:
    wamid: str
    token: str
    chat: ChatRef
    verified: bool

    def inbound(self, command: str) -> Inbound:
        """The tap as the Inbound the router sees: the command, sent by the tapper."""
        return Inbound(platform="whatsapp", user_id=self.chat.user_id,
                       chat_id=self.chat.chat_id, text=command, chat=self.chat,
                       message_id=self.wamid, is_direct=True, bot_name="",
                       verified=self.verified, tap_id=self.wamid)


def with_buttons(bodies: list[dict], base: dict, buttons: Buttons, chat: ChatRef,
                 actions: Sequence[Action]) -> list[dict]:
    """``bodies`` with ``actions`` added as reply buttons (or as text when over three)."""
    if len(actions) > MAX_BUTTONS:
        return bodies + [dict(base, type="text", text={"body": actions_as_text(actions),
                                                       "preview_url": False})]
    interactive: dict = {"type": "button", "action": {"buttons": [
        {"type": "reply", "reply": {"id": buttons.issue(chat, a),
                                    "title": a.label[:TITLE_LIMIT]}} for a in actions]}}
    at = next((i for i in range(len(bodies) - 1, -1, -1) if bodies[i].get("type") == "text"
               and len(bodies[i]["text"]["body"]) <= BODY_LIMIT), None)
    if at is None:
        interactive["body"] = {"text": DEFAULT_BODY}
        return bodies + [dict(base, type="interactive", interactive=interactive)]
    interactive["body"] = {"text": bodies[at]["text"]["body"]}
    message = dict(bodies[at], type="interactive", interactive=interactive)   # keeps context
    message.pop("text", None)
    return bodies[:at] + [message] + bodies[at + 1:]


def parse_button_reply(message: Any, now: float, *, verified: bool) -> Optional[ButtonTap]:
    """The tap in a ``messages[]`` item; None for anything that is not a button reply."""
    if not isinstance(message, dict):
        return None
    token: Any = None
    if message.get("type") == "interactive" and isinstance(message.get("interactive"), dict):
        reply = message["interactive"].get("button_reply")
        token = reply.get("id") if isinstance(reply, dict) else None
    elif message.get("type") == "button" and isinstance(message.get("button"), dict):
        token = message["button"].get("payload")
    wa_id, wamid = message.get("from"), message.get("id")
    if not (isinstance(token, str) and isinstance(wa_id, str) and isinstance(wamid, str)
            and token and wa_id and wamid):
        return None
    chat = ChatRef(platform="whatsapp", chat_id=wa_id, user_id=wa_id, message_id=wamid,
                   received_at=now)
    return ButtonTap(wamid, token, chat, verified)
