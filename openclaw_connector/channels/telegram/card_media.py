"""Editing a card that shows a photo: ``editMessageMedia`` and ``editMessageCaption``.

With ``progress.previews`` a job's card becomes a photo of ComfyUI's latest
preview (issue 16). interactive.md §2.1: ``editMessageMedia`` replaces a
message's media or adds media to a text message (the new photo is a multipart
part named by ``attach://``); from then on the message has a caption, not a
text, and ``editMessageText`` answers 400 "there is no text in the message to
edit", so later text changes go through ``editMessageCaption`` (≤ 1024
characters). A media message never becomes text-only again, so the card stays
a photo to the end. "message is not modified" is success, as for text.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

from openclaw_connector.messages import Image
from openclaw_connector.net.multipart import FilePart

NO_TEXT = "there is no text in the message to edit"
CAPTION_LIMIT = 1024
ApiCall = Callable[..., Awaitable[Any]]


def caption(text: str) -> str:
    """The card text cut to a caption's 1024 characters."""
    return text if len(text) <= CAPTION_LIMIT else text[:CAPTION_LIMIT - 1] + "…"


async def edit_photo(call_api: ApiCall, chat: Any, message_id: int, image: Image,
                     text: str) -> None:
    """Make the message show ``image`` (a photo) with ``text`` as its caption."""
    media = {"type": "photo", "media": "attach://f0", "caption": caption(text)}
    await call_api("editMessageMedia", {"chat_id": chat, "message_id": message_id,
                                        "media": json.dumps(media)},
                   files=(FilePart("f0", image.filename, image.content_type, image.data),))


async def edit_caption(call_api: ApiCall, chat: Any, message_id: int, text: str) -> None:
    """Replace the caption of a message that shows a photo."""
    await call_api("editMessageCaption", {"chat_id": chat, "message_id": message_id,
                                          "caption": caption(text)})
