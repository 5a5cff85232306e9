"""Telegram videos and animations out: which Bot API call sends a file (interactive.md §4).

mp4 → ``sendVideo`` (part ``video``, ``supports_streaming``); GIF →
``sendAnimation`` (part ``animation``); animated WEBP/APNG, webm and anything
else that is not a still image → ``sendDocument`` (``sendAnimation`` lists no
animated WebP). Every upload is capped at 50 MB (PTB ``FILESIZE_UPLOAD``); a
larger file becomes a note in the chat instead of a refused call.
"""

from __future__ import annotations

from typing import Optional, Union

from openclaw_connector.media_out import ANIMATION, IMAGE, VIDEO, extension
from openclaw_connector.messages import Image

UPLOAD_MAX_BYTES = 50_000_000


def media_call(image: Image) -> Optional[tuple[str, str, dict]]:
    """``(method, file part, extra params)`` for a non-still file; None for a still image
    (sent as today: sendPhoto, falling back to sendDocument)."""
    ext = extension(image.filename)
    if image.kind == VIDEO and ext == "mp4":
        return "sendVideo", "video", {"supports_streaming": "true"}
    if image.kind == ANIMATION and ext == "gif":
        return "sendAnimation", "animation", {}
    if image.kind != IMAGE:
        return "sendDocument", "document", {}
    return None


def within_limit(image: Image) -> Union[Image, str]:
    """The file, or the note that replaces it when it is over the upload limit."""
    if len(image.data) <= UPLOAD_MAX_BYTES:
        return image
    return "(%s is %.1f MB, over Telegram's 50 MB upload limit; not sent)" % (
        image.filename, len(image.data) / 1e6)
