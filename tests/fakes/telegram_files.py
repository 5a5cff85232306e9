"""Files on the fake Telegram: users' photos in, videos and animations out (issue 19).

Facts (interactive.md §3.1, §4): a photo update carries ``message.photo``, the
sizes of one picture, and its command in ``caption`` with ``caption_entities``;
``getFile(file_id)`` answers ``{file_id, file_unique_id, file_size, file_path}``
and the bytes are at ``/file/bot<token>/<file_path>`` (the token in the path);
bots download at most 20 MB. ``sendVideo`` and ``sendAnimation`` take a
multipart part ``video`` / ``animation`` (50 MB).

Downloads are counted :class:`~tests.fakes.downloads.Blob` s (``sent_bytes``,
``downloads``; ``announce_length=False`` sends a file chunked).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from tests.fakes.downloads import Blob, BlobHandler

if TYPE_CHECKING:
    from tests.fakes.telegram import FakeTelegram

DOWNLOAD_MAX = 20_000_000


@dataclass
class StoredFile:
    """A user's file: its id and path at Telegram, its bytes behind a counted download."""

    file_id: str
    path: str
    blob: Blob
    announce_size: bool = True    # getFile and the photo sizes say file_size
    update_id: int = 0            # the update that carried it (queue_photo)

    @property
    def data(self) -> bytes:
        return self.blob.data

    @property
    def sent_bytes(self) -> int:
        return self.blob.sent_bytes

    @property
    def downloads(self) -> int:
        return self.blob.downloads


class FakeFiles:
    """The fake's file store: ``add`` a user's file, ``queue_photo`` a message with it."""

    def __init__(self, fake: "FakeTelegram") -> None:
        self.fake = fake
        self.by_id: dict[str, StoredFile] = {}
        self.blobs: dict[str, Blob] = {}           # file_path -> bytes (the download route)

    def add(self, data: bytes, *, announce_length: bool = True,
            path: str = "") -> StoredFile:
        n = len(self.by_id) + 1
        stored = StoredFile("AgAD%04d" % n, path or "photos/file_%d.jpg" % n,
                            Blob(data, announce_length=announce_length))
        self.by_id[stored.file_id] = stored
        self.blobs[stored.path] = stored.blob
        return stored

    def queue_photo(self, data: bytes, *, caption: Optional[str] = None, user_id: int = 1111,
                    chat_id: Optional[int] = None, chat_type: str = "private",
                    reply_to: Optional[dict] = None, as_document: str = "",
                    announce_length: bool = True, size: Optional[int] = None) -> StoredFile:
        """A user sends a photo (sizes thumbnail + full; the full one holds ``data``);
        ``as_document`` sends it as a file with that MIME type instead."""
        stored = self.add(data, announce_length=announce_length)
        stored.announce_size = size != 0
        thumb = self.add(data[:64])
        size = len(data) if size is None else size
        chat_id = user_id if chat_id is None else chat_id
        message: dict = {"from": {"id": user_id, "is_bot": False, "first_name": "Alice",
                                  "username": "alice"}}
        if as_document:
            message["document"] = {"file_id": stored.file_id, "file_unique_id": "u" +
                                   stored.file_id, "file_name": "photo.png",
                                   "mime_type": as_document}
            if size:
                message["document"]["file_size"] = size
        else:
            message["photo"] = [
                {"file_id": thumb.file_id, "file_unique_id": "t" + thumb.file_id,
                 "width": 90, "height": 60, "file_size": 64},
                {"file_id": stored.file_id, "file_unique_id": "u" + stored.file_id,
                 "width": 1280, "height": 853}]
            if size:
                message["photo"][1]["file_size"] = size
        if caption is not None:
            message["caption"] = caption
            if caption.startswith("/"):
                word = caption.split(" ")[0]
                message["caption_entities"] = [{"type": "bot_command", "offset": 0,
                                                "length": len(word.encode("utf-16-le")) // 2}]
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        stored.update_id = self.fake.queue_raw_message(message, chat_id=chat_id,
                                                       chat_type=chat_type)
        return stored

    def get_file(self, params: dict) -> tuple[int, dict]:
        stored = self.by_id.get(str(params.get("file_id", "")))
        if stored is None:
            return 400, {"ok": False, "error_code": 400,
                         "description": "Bad Request: invalid file_id"}
        if len(stored.data) > DOWNLOAD_MAX:
            return 400, {"ok": False, "error_code": 400,
                         "description": "Bad Request: file is too big"}
        result = {"file_id": stored.file_id, "file_unique_id": "u" + stored.file_id,
                  "file_path": stored.path}
        if stored.announce_size:
            result["file_size"] = len(stored.data)
        return 200, {"ok": True, "result": result}


class FileDownloadHandler(BlobHandler):
    """``GET /file/bot<token>/<file_path>``: the bytes, in pieces (401 for a wrong token)."""

    def initialize(self, fake: "FakeTelegram") -> None:   # type: ignore[override]
        super().initialize(fake.files.blobs, fake._changed)
        self.fake = fake

    async def get(self, token: str, path: str) -> None:   # type: ignore[override]
        if token != self.fake.token:
            self.set_status(401)
            self.finish()
            return
        await super().get(path)
