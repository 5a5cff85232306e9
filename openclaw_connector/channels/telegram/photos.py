"""Telegram photos in: downloading a user's photo (interactive.md §3.1); which
photo a message carries is ``photo_wire.photo_of``.

A photo arrives as ``message.photo`` (the sizes of one picture; we take the
largest ``width × height``), an image sent "as file" as ``message.document``
with an ``image/*`` type, a GIF as ``animation``. Its command is in
``caption``. A reply carries the replied message (``reply_to_message``), whose
photo a ``/run`` may mean. Download: ``getFile(file_id)`` gives ``file_path``
and ``file_size`` (checked against the cap before any byte moves), then
``GET {api_base}/file/bot<token>/<file_path>``: that URL carries the bot token,
so it is built here, used once, and never logged or put into an error.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from openclaw_connector import log as logmod
from openclaw_connector.channels.telegram.photo_wire import int_field as _int
from openclaw_connector.channels.telegram.wire import TelegramError, scrub
from openclaw_connector.media_in import PhotoTooLarge, fetch_bounded, too_large_text
from openclaw_connector.messages import PhotoRef, PhotoUnavailable
from openclaw_connector.net.client import KeepAliveClient

log = logmod.get("telegram")

ApiCall = Callable[..., Awaitable[Any]]


class TelegramPhotos:
    """``await photos.fetch(ref, max_bytes)`` → the bytes of a user's photo."""

    def __init__(self, call_api: ApiCall, api_base: str, token: str,
                 client: KeepAliveClient) -> None:
        self._call_api = call_api
        self._base = api_base.rstrip("/")
        self._token = token
        self._client = client

    async def fetch(self, photo: PhotoRef, max_bytes: int) -> bytes:
        if photo.size > max_bytes:
            raise PhotoTooLarge(too_large_text(max_bytes))
        try:
            info = await self._call_api("getFile", {"file_id": photo.ref})
        except TelegramError as exc:
            log.warning("event=photo_getfile_failed chat=%s message=%s status=%d", photo.chat_id,
                        photo.message_id, exc.status)
            raise PhotoUnavailable("Telegram could not hand over that photo (%s); send it "
                                   "again." % scrub(exc.description, self._token)[:120]) \
                from None
        path = info.get("file_path") if isinstance(info, dict) else None
        if not isinstance(path, str) or not path:
            raise PhotoUnavailable("Telegram gave no download path for that photo (files "
                                   "over 20 MB cannot be downloaded by bots).")
        if _int(info.get("file_size")) > max_bytes:
            raise PhotoTooLarge(too_large_text(max_bytes))
        # The token is in this URL: it goes to the connection and nowhere else.
        url = "%s/file/bot%s/%s" % (self._base, self._token, path.lstrip("/"))
        try:
            return await fetch_bounded(self._client, url, max_bytes=max_bytes)
        except PhotoUnavailable as exc:
            log.warning("event=photo_download_failed chat=%s message=%s reason=%s",
                        photo.chat_id, photo.message_id, type(exc).__name__)
            raise

