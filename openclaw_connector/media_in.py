"""Photos from chat: the bounded download every channel uses, and the checks a photo
passes before anything reaches ComfyUI (interactive.md §3, §6.5).

Why here and not per channel: the rules are the same on every platform. The
size cap (``media.max_in_mb``) is enforced by the connection while the body
arrives (``max_body`` of ``net/client.py``: a ``Content-Length`` over the cap
is refused after the head, a chunked or unframed body at the first byte past
it), never after buffering the whole file. Only PNG, JPEG, WEBP and GIF are
accepted, recognised by their magic bytes, not by a name or a content type a
user controls; width × height is read from the header and capped at
:data:`MAX_PIXELS`. Errors are :class:`PhotoUnavailable` with a sentence for
the chat that never holds the URL (Telegram's file URL carries the bot token).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Optional

from openclaw_connector.messages import PhotoUnavailable
from openclaw_connector.net.client import ApiTimeout, ApiUnreachable, KeepAliveClient
from openclaw_connector.net.connection import BodyTooLarge

MAX_PIXELS = 40_000_000
CONNECT_TIMEOUT_SEC = 10.0
DOWNLOAD_TIMEOUT_SEC = 60.0


class PhotoTooLarge(PhotoUnavailable):
    """Over ``media.max_in_mb`` (announced or while streaming) or over 40 megapixels."""


class NotAnImage(PhotoUnavailable):
    """The bytes are not PNG, JPEG, WEBP or GIF (whatever the name or type says)."""


@dataclass(frozen=True)
class ImageInfo:
    """What the header says: the format (as a file extension and MIME type) and size."""

    ext: str
    mime: str
    width: int
    height: int


RESULT_OUTPUTS = "result.out"     # StateStore namespace: sent message -> output file


def result_name(platform: str, chat_id: str, message_id: str) -> str:
    """The name, in ``state.kv(RESULT_OUTPUTS)``, of "this sent message showed that output
    file": written when a result is delivered (jobs.send), read when someone replies to
    it (commands.photos)."""
    return "%s:%s:%s" % (platform, chat_id, message_id)


def too_large_text(max_bytes: int) -> str:
    return "That photo is larger than %s MB, the limit for photos (media.max_in_mb)." % (
        _mb(max_bytes))


async def fetch_bounded(client: KeepAliveClient, url: str, *, max_bytes: int,
                        headers: Optional[dict] = None,
                        timeout: float = DOWNLOAD_TIMEOUT_SEC) -> bytes:
    """GET ``url`` with at most ``max_bytes`` of body, cut off while it streams."""
    try:
        answer = await client.fetch("GET", url, headers=headers or {},
                                    connect_timeout=min(CONNECT_TIMEOUT_SEC, timeout),
                                    request_timeout=timeout, max_body=max_bytes)
    except ApiUnreachable as exc:
        if isinstance(exc.cause, BodyTooLarge):
            raise PhotoTooLarge(too_large_text(max_bytes)) from None
        raise PhotoUnavailable("Could not download the photo (%s); send it again." % (
            "timed out" if isinstance(exc, ApiTimeout) else "connection failed")) from None
    if answer.code != 200:
        raise PhotoUnavailable("Could not download the photo (the platform answered %d); "
                               "send it again." % answer.code)
    return answer.body


def check_image(data: bytes, *, max_pixels: int = MAX_PIXELS) -> ImageInfo:
    """The format and size from the header; NotAnImage or PhotoTooLarge otherwise."""
    info = sniff(data)
    if info is None:
        raise NotAnImage("That file is not a PNG, JPEG, WEBP or GIF image, so it cannot be "
                         "used as a photo.")
    if info.width * info.height > max_pixels:
        raise PhotoTooLarge("That photo is %d × %d pixels; the limit is %d megapixels." % (
            info.width, info.height, max_pixels // 1_000_000))
    return info


def sniff(data: bytes) -> Optional[ImageInfo]:
    """Recognise PNG, JPEG, GIF and WEBP by magic bytes and read width and height."""
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
            return ImageInfo("png", "image/png", width, height)
        if data[:6] in (b"GIF87a", b"GIF89a"):
            width, height = struct.unpack("<HH", data[6:10])
            return ImageInfo("gif", "image/gif", width, height)
        if data.startswith(b"\xff\xd8\xff"):
            size = _jpeg_size(data)
            return ImageInfo("jpg", "image/jpeg", *size) if size else None
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            size = _webp_size(data)
            return ImageInfo("webp", "image/webp", *size) if size else None
    except struct.error:
        return None
    return None


def _jpeg_size(data: bytes) -> Optional[tuple[int, int]]:
    """Walk the JPEG segments to the first start-of-frame marker (SOF0..SOF15)."""
    pos = 2
    while pos + 9 < len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:           # fill byte
            pos += 1
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return width, height
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        pos += 2 + length
    return None


def _webp_size(data: bytes) -> Optional[tuple[int, int]]:
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = 1 + int.from_bytes(data[24:27], "little")
        height = 1 + int.from_bytes(data[27:30], "little")
        return width, height
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    return None


def _mb(n: int) -> str:
    value = n / 1048576
    return ("%d" % value) if value.is_integer() else ("%.1f" % value)
