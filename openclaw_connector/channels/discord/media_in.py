"""Discord photos in: which photo a message carries or replies to, and downloading
it (interactive.md §3.2).

``message.attachments[]`` holds ``{id, filename, content_type?, size, url, ...}``;
``content_type`` is optional, so an image is recognised by it or else by the
file extension (the bytes are checked anyway before upload: ``media_in``).
A reply (type 19) names the replied message in ``message_reference`` and, when
Discord fetched it, carries it as ``referenced_message`` (absent: not fetched;
null: deleted). A slash command's ATTACHMENT option carries the attachment's
id as its value and the object in ``data.resolved.attachments[<id>]``
(interactive.md §5.2). Attachment URLs are signed and expire, so they are
fetched when the job needs them, soon after receipt, with a plain GET.
"""

from __future__ import annotations

from typing import Any, Optional

from openclaw_connector.messages import PhotoRef

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif")
ATTACHMENT_OPTION = 11          # application command option type ATTACHMENT


def photo_of(d: Any) -> Optional[PhotoRef]:
    """The first image attachment of the message ``d``, if any."""
    if not isinstance(d, dict) or not isinstance(d.get("attachments"), list):
        return None
    for item in d["attachments"]:
        photo = _image(item, str(d.get("channel_id") or ""), str(d.get("id") or ""))
        if photo is not None:
            return photo
    return None


def option_photo(data: Any, channel_id: str, message_id: str) -> Optional[PhotoRef]:
    """The image of a slash command's first ATTACHMENT option (``data`` is the
    interaction's ``data``); ``message_id`` names the command it came with."""
    if not isinstance(data, dict):
        return None
    resolved = data.get("resolved")
    files = resolved.get("attachments") if isinstance(resolved, dict) else None
    if not isinstance(files, dict):
        return None
    for option in data.get("options") or ():
        if isinstance(option, dict) and option.get("type") == ATTACHMENT_OPTION:
            return _image(files.get(str(option.get("value"))), channel_id, message_id)
    return None


def _image(item: Any, channel_id: str, message_id: str) -> Optional[PhotoRef]:
    """A PhotoRef for an attachment object that is an image (by type, else extension)."""
    if not isinstance(item, dict) or not isinstance(item.get("url"), str):
        return None
    ctype = str(item.get("content_type") or "")
    name = str(item.get("filename") or "").lower()
    if not (ctype.startswith("image/") or (not ctype and name.endswith(IMAGE_EXTENSIONS))):
        return None
    size = item.get("size")
    return PhotoRef("discord", channel_id, message_id, item["url"],
                    size if isinstance(size, int) else 0, ctype)


def replied_id(d: dict) -> str:
    """The id of the message ``d`` replies to ("" when it is no reply)."""
    ref = d.get("message_reference")
    if isinstance(ref, dict) and ref.get("message_id"):
        return str(ref["message_id"])
    replied = d.get("referenced_message")
    return str(replied.get("id") or "") if isinstance(replied, dict) else ""


def needs_replied(d: Any, inbound: Any) -> bool:
    """True for a command that replies to a message Discord did not include
    (``referenced_message`` absent, not null): fetch it, it may hold the photo."""
    return (isinstance(d, dict) and bool(inbound.reply_to) and inbound.photo is None
            and "referenced_message" not in d and bool(inbound.text.strip()))
