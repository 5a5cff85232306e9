"""Files a fake platform serves for download: a user's photo behind a Discord
attachment URL, LINE's content API, WhatsApp's media URL (issue 19).

A :class:`Blob` is written in 64 KiB pieces and the handler counts what it
managed to send (``sent_bytes``), so a test can see that a client which stopped
at its size cap did not take the whole file; ``announce_length=False`` sends
it chunked (no ``Content-Length``). ``bearer`` makes the route demand
``Authorization: Bearer <bearer>`` (401 otherwise), as LINE and WhatsApp do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from tornado.iostream import StreamClosedError
from tornado.web import RequestHandler

PIECE = 64 * 1024


@dataclass
class Blob:
    data: bytes
    content_type: str = "application/octet-stream"
    announce_length: bool = True
    bearer: str = ""
    sent_bytes: int = 0
    downloads: int = 0
    refused: int = 0              # requests without the right bearer


class BlobHandler(RequestHandler):
    """``GET <prefix>/<key>`` → the blob stored under ``key``, in pieces."""

    def initialize(self, blobs: dict, changed: Optional[Callable[[], Any]] = None) -> None:
        self.blobs = blobs
        self.changed = changed or (lambda: None)

    async def get(self, key: str) -> None:
        blob = self.blobs.get(key)
        if blob is None:
            self.set_status(404)
            self.finish()
            return
        if blob.bearer and self.request.headers.get("Authorization") != "Bearer " + \
                blob.bearer:
            blob.refused += 1
            self.set_status(401)
            self.finish()
            self.changed()
            return
        blob.downloads += 1
        blob.sent_bytes = 0
        self.set_header("Content-Type", blob.content_type)
        if blob.announce_length:
            self.set_header("Content-Length", str(len(blob.data)))
        try:
            for start in range(0, len(blob.data), PIECE):
                piece = blob.data[start:start + PIECE]
                self.write(piece)
                await self.flush()
                blob.sent_bytes = start + len(piece)
            self.finish()
        except StreamClosedError:
            pass                  # the client stopped reading at its cap
        self.changed()
