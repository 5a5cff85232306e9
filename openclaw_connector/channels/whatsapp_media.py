"""WhatsApp photos in: image messages and the two-step media download
(interactive.md §3.4).

An image message is ``{"type": "image", "image": {"id": <media id>, "mime_type",
"sha256", "caption"?}}``; a reply names the quoted wamid in ``context.id``.
``GET {api_base}/<media id>`` with the Bearer token answers ``{url, mime_type,
sha256, file_size}``; the URL is valid about five minutes and must be fetched
**with the same Bearer header**. ``file_size`` is checked against the cap
before the download, the body is capped while it streams, and ``sha256`` is
compared after it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Optional
from urllib.parse import quote

from openclaw_connector.media_in import PhotoTooLarge, fetch_bounded, too_large_text
from openclaw_connector.messages import PhotoRef, PhotoUnavailable
from openclaw_connector.net.client import ApiUnreachable, KeepAliveClient

LOOKUP_TIMEOUT_SEC = 20.0


def photo_of(message: Any) -> Optional[PhotoRef]:
    """The photo of an image message (``ref``: its media id)."""
    if not isinstance(message, dict) or message.get("type") != "image":
        return None
    image = message.get("image")
    media_id = image.get("id") if isinstance(image, dict) else None
    wa_id, wamid = message.get("from"), message.get("id")
    if not all(isinstance(v, str) and v for v in (media_id, wa_id, wamid)):
        return None
    assert isinstance(image, dict)
    return PhotoRef("whatsapp", str(wa_id), str(wamid), str(media_id),
                    mime=str(image.get("mime_type") or ""))


def caption_of(message: dict) -> str:
    image = message.get("image")
    caption = image.get("caption") if isinstance(image, dict) else None
    return caption if isinstance(caption, str) else ""


def context_of(message: dict) -> str:
    """The wamid the message quotes ("" when it quotes nothing)."""
    context = message.get("context")
    quoted = context.get("id") if isinstance(context, dict) else None
    return quoted if isinstance(quoted, str) else ""


async def fetch_photo(client: KeepAliveClient, api_base: str, access_token: str,
                      photo: PhotoRef, max_bytes: int) -> bytes:
    """Media id → URL → bytes, both calls with the Bearer token; capped and verified."""
    auth = {"Authorization": "Bearer %s" % access_token}
    try:
        answer = await client.fetch("GET", "%s/%s" % (api_base.rstrip("/"),
                                                      quote(photo.ref, safe="")),
                                    headers=auth, connect_timeout=10.0,
                                    request_timeout=LOOKUP_TIMEOUT_SEC)
    except ApiUnreachable:
        raise PhotoUnavailable("Could not reach WhatsApp for that photo; send it "
                               "again.") from None
    try:
        info = json.loads(answer.body) if answer.code == 200 else None
    except ValueError:
        info = None
    url = info.get("url") if isinstance(info, dict) else None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise PhotoUnavailable("WhatsApp could not hand over that photo (status %d); send it "
                               "again." % answer.code)
    assert isinstance(info, dict)
    size = info.get("file_size")
    if isinstance(size, int) and size > max_bytes:
        raise PhotoTooLarge(too_large_text(max_bytes))
    data = await fetch_bounded(client, url, max_bytes=max_bytes, headers=auth)
    digest = info.get("sha256")
    if isinstance(digest, str) and digest and hashlib.sha256(data).hexdigest() != digest:
        raise PhotoUnavailable("That photo arrived damaged (checksum mismatch); send it again.")
    return data
