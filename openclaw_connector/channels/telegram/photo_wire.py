"""Which photo a Telegram message carries, as a pure function over the update's dict
(interactive.md §3.1); the download is ``telegram.photos``.

A photo arrives as ``message.photo`` (the sizes of one picture; the largest
``width × height`` wins, since their order is observed, not documented), an
image sent "as file" as ``message.document`` with an ``image/*`` type, and a
GIF as ``animation``.
"""

from __future__ import annotations

from typing import Any, Optional

from openclaw_connector.messages import PhotoRef


def photo_of(message: Any, chat_id: str) -> Optional[PhotoRef]:
    """The photo ``message`` carries (largest size, image document or animation), if any."""
    if not isinstance(message, dict):
        return None
    mid = message.get("message_id")
    message_id = str(mid) if isinstance(mid, int) else ""
    sizes = message.get("photo")
    if isinstance(sizes, list):
        usable = [s for s in sizes if isinstance(s, dict) and isinstance(s.get("file_id"), str)]
        best = max(usable, key=lambda s: int_field(s.get("width")) * int_field(s.get("height")),
                   default=None)
        if best is not None:
            return PhotoRef("telegram", chat_id, message_id, best["file_id"],
                            int_field(best.get("file_size")), "image/jpeg")
    for field in ("document", "animation"):
        doc = message.get(field)
        if isinstance(doc, dict) and isinstance(doc.get("file_id"), str):
            mime = str(doc.get("mime_type") or "")
            if field == "animation" or mime.startswith("image/"):
                return PhotoRef("telegram", chat_id, message_id, doc["file_id"],
                                int_field(doc.get("file_size")), mime or "image/gif")
    return None


def int_field(value: Any) -> int:
    """An integer field of the update, 0 when absent or not an integer."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
