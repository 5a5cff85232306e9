"""What kind of file a ComfyUI output is, for the platforms' send calls (interactive.md §4).

Core ComfyUI lists every saved file under ``images`` (videos too) and marks a
node's animated outputs with ``animated: [true]``; VideoHelperSuite reports
``gifs``. So each item is classified by its extension and that flag: png/jpg
→ image (an ``animated`` png is an APNG → animation), webp → image or
animation, gif → animation, mp4/webm/mov/mkv → video, anything else →
document. No transcoder runs: a platform that cannot show a kind gets it as a
file or a signed link (:mod:`channels.media_links`); ``ffmpeg_path`` only
reports whether one is installed (``--check``).
"""

from __future__ import annotations

import struct
import zlib
from typing import Optional

IMAGE, VIDEO, ANIMATION, DOCUMENT = "image", "video", "animation", "document"

_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp",
          "gif": "image/gif", "mp4": "video/mp4", "webm": "video/webm",
          "mov": "video/quicktime", "mkv": "video/x-matroska"}


def extension(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def classify(filename: str, animated: bool = False) -> str:
    """image | video | animation | document for one output file."""
    ext = extension(filename)
    if ext in ("mp4", "webm", "mov", "mkv"):
        return VIDEO
    if ext == "gif" or (ext in ("webp", "png") and animated):
        return ANIMATION
    if ext in ("png", "jpg", "jpeg", "webp"):
        return IMAGE
    return DOCUMENT


def content_type(filename: str) -> str:
    """The MIME type of a ComfyUI output from its extension (the one table; no mimetypes)."""
    return _TYPES.get(extension(filename), "application/octet-stream")


def is_mp4(filename: str) -> bool:
    return extension(filename) == "mp4"


def ffmpeg_path() -> Optional[str]:
    """Where ``ffmpeg`` is on PATH, if anywhere (``--check`` only)."""
    import shutil   # not at import: shutil brings bz2 and lzma (~0.5 MiB RSS) into the daemon
    return shutil.which("ffmpeg")


def placeholder_png(width: int = 240, height: int = 240, grey: int = 96) -> bytes:
    """A small plain PNG: the preview LINE needs for a video when the job made no still."""
    row = b"\0" + bytes([grey]) * width
    raw = zlib.compress(row * height, 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0,
                                                           0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))
