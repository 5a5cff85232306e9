"""LINE photos in: image message events and the content API (interactive.md §3.3).

An image event carries no caption, so on LINE a photo is only ever used by a
later ``/run`` within ``media.input_window_sec`` (or by a text that quotes it:
``quotedMessageId``). ``contentProvider.type == "line"``: the bytes are at
``GET {line.data_api_base}/v2/bot/message/{id}/content`` with the Bearer
token (its own host, api-data.line.me; the old api.line.me path answers 404).
``external``: ``originalContentUrl`` is fetched directly, without our token.
"""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import quote

from openclaw_connector.media_in import fetch_bounded
from openclaw_connector.messages import PhotoRef
from openclaw_connector.net.client import KeepAliveClient


def photo_of(message: Any, chat_id: str) -> Optional[PhotoRef]:
    """The photo of an image message event (``ref``: the message id, or the external
    provider's URL)."""
    if not isinstance(message, dict) or message.get("type") != "image":
        return None
    message_id = message.get("id")
    if not isinstance(message_id, str) or not message_id:
        return None
    provider = message.get("contentProvider")
    if isinstance(provider, dict) and provider.get("type") == "external":
        url = provider.get("originalContentUrl")
        if not isinstance(url, str) or not url.startswith("https://"):
            return None
        return PhotoRef("line", chat_id, message_id, url)
    return PhotoRef("line", chat_id, message_id, message_id)


async def fetch_photo(client: KeepAliveClient, data_api_base: str, access_token: str,
                      photo: PhotoRef, max_bytes: int) -> bytes:
    """The bytes of ``photo``, at most ``max_bytes`` (cut off while streaming)."""
    if photo.ref.startswith("https://"):
        return await fetch_bounded(client, photo.ref, max_bytes=max_bytes)
    url = "%s/v2/bot/message/%s/content" % (data_api_base.rstrip("/"),
                                            quote(photo.ref, safe=""))
    return await fetch_bounded(client, url, max_bytes=max_bytes,
                               headers={"Authorization": "Bearer %s" % access_token})
