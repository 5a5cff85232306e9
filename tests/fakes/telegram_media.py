"""editMessageMedia and editMessageCaption for the fake Telegram (interactive.md §2.1).

``editMessageMedia``: ``media`` is InputMedia JSON whose ``"attach://<name>"`` names a
multipart part; a text message becomes a photo message (its text becomes the
caption), a photo's media is replaced. ``editMessageCaption`` works on media
messages only. The same caption and media → "message is not modified". Accepted
edits land in ``fake.edits`` (chat, message id, caption) like text edits, and
media edits also in ``fake.media_edits`` (chat, message id, filename, bytes).
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup "
                "of the message")


def edit_media(fake: Any, params: dict, files: dict, ok: Callable, err: Callable) -> tuple:
    message = _message(fake, params)
    if message is None:
        return err(400, "Bad Request: message to edit not found")
    try:
        media = json.loads(params.get("media") or "")
    except ValueError:
        return err(400, "Bad Request: can't parse InputMedia JSON object")
    ref = str(media.get("media", "")) if isinstance(media, dict) else ""
    if media.get("type") != "photo" or not ref.startswith("attach://"):
        return err(400, "Bad Request: wrong type of the web page content")
    upload = files.get(ref[len("attach://"):])
    if upload is None:
        return err(400, "Bad Request: can't find attached file")
    caption = str(media.get("caption", ""))
    message.pop("text", None)
    message["photo"] = [{"file_id": "f%d" % len(fake.requests), "file_size": len(upload.data)}]
    message["caption"] = caption
    message["edit_date"] = int(time.time())
    fake.edits.append((str(params.get("chat_id")), message["message_id"], caption))
    fake.media_edits.append((str(params.get("chat_id")), message["message_id"],
                             upload.filename, upload.data))
    return ok(message)


def edit_caption(fake: Any, params: dict, ok: Callable, err: Callable) -> tuple:
    message = _message(fake, params)
    if message is None:
        return err(400, "Bad Request: message to edit not found")
    if "text" in message:
        return err(400, "Bad Request: there is no caption in the message to edit")
    caption = str(params.get("caption", ""))
    if caption == message.get("caption"):
        return err(400, NOT_MODIFIED)
    message["caption"] = caption
    fake.edits.append((str(params.get("chat_id")), message["message_id"], caption))
    return ok(message)


def _message(fake: Any, params: dict) -> Any:
    try:
        mid = int(params.get("message_id", 0))
    except (TypeError, ValueError):
        return None
    return fake.messages.get((str(params.get("chat_id", "")), mid))
