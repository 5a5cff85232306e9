"""multipart/form-data bodies for file uploads (RFC 7578), free of I/O.

One encoder for every channel that uploads files: Telegram's sendPhoto and
sendDocument, Discord's ``payload_json`` + ``files[n]`` messages.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence


@dataclass(frozen=True)
class FilePart:
    """One uploaded file of a multipart body."""

    field: str
    filename: str
    content_type: str
    data: bytes


def _header_value(text: str) -> str:
    return text.replace("\\", "_").replace('"', "_").replace("\r", "_").replace("\n", "_")


def encode_multipart(fields: Mapping[str, Any], files: Sequence[FilePart], *,
                     boundary: Optional[str] = None) -> tuple[str, bytes]:
    """``(content_type, body)`` for a multipart/form-data upload (RFC 7578)."""
    boundary = boundary or "oc-" + os.urandom(12).hex()
    parts: list[bytes] = []
    for name, value in fields.items():
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value)
        parts.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n"
                      % (boundary, _header_value(name))).encode("utf-8")
                     + text.encode("utf-8") + b"\r\n")
    for part in files:
        head = ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                "Content-Type: %s\r\n\r\n" % (boundary, _header_value(part.field),
                                              _header_value(part.filename),
                                              _header_value(part.content_type)))
        parts.append(head.encode("utf-8") + part.data + b"\r\n")
    body = b"".join(parts) + ("--%s--\r\n" % boundary).encode("ascii")
    return "multipart/form-data; boundary=%s" % boundary, body
