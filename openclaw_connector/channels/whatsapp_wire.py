"""WhatsApp Cloud API webhook payloads, read: the change values and one message
as an Inbound (platforms.md §4). Pure functions, no I/O."""

from __future__ import annotations

from typing import Any, Iterator, Optional

from openclaw_connector.channels.whatsapp_media import caption_of, context_of, photo_of
from openclaw_connector.messages import ChatRef, Inbound


def iter_values(payload: Any) -> Iterator[dict]:
    """Each ``entry[].changes[].value`` object; ValueError when the shape is wrong."""
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        raise ValueError("expected an object with an entry list")
    for entry in payload["entry"]:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            raise ValueError("expected entry[].changes to be a list")
        for change in changes:
            if isinstance(change, dict) and isinstance(change.get("value"), dict):
                yield change["value"]


def message_to_inbound(message: Any, now: float, *,
                       verified: bool = True) -> Optional[Inbound]:
    """An Inbound for a text message; None for other types or a broken object."""
    if not isinstance(message, dict) or message.get("type") not in ("text", "image"):
        return None
    wa_id, wamid = message.get("from"), message.get("id")
    text = (message.get("text") or {}).get("body") if isinstance(message.get("text"),
                                                                  dict) else None
    photo = photo_of(message)       # issue 19: an image, its command in the caption
    if message.get("type") == "image":
        if photo is None:
            return None
        text = caption_of(message)
    if not all(isinstance(v, str) and v for v in (wa_id, wamid)) or not isinstance(text, str):
        return None
    wa_id, wamid = str(wa_id), str(wamid)      # checked above; for the type checker
    chat = ChatRef(platform="whatsapp", chat_id=wa_id, user_id=wa_id, message_id=wamid,
                   is_group=False, received_at=now)
    return Inbound(platform="whatsapp", user_id=wa_id, chat_id=wa_id, text=text, chat=chat,
                   message_id=wamid, is_direct=True, bot_name="", mentioned=False,
                   verified=verified, photo=photo, reply_to=context_of(message))
