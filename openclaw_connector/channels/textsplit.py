"""The one text splitter of every channel: a reply too long for one platform message
becomes several, each within the platform's limit.

Why one: Telegram and LINE count UTF-16 code units, Discord and WhatsApp
characters; otherwise the rule is the same everywhere, so a reply breaks the
same way on every platform.
"""

from __future__ import annotations

from typing import Literal

Units = Literal["chars", "utf16"]


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (Telegram's and LINE's unit)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def split_text(text: str, limit: int, *, units: Units = "chars") -> list[str]:
    """Pieces of at most ``limit`` ``units``, in order.

    Each piece is the longest prefix that fits, cut back to its last newline
    (dropped; a line is only ever cut when it alone is over the limit), else to
    its last space when that is in the piece's second half, else at a
    code-point boundary, so a surrogate pair is never split. Pieces that are
    only whitespace are dropped: no platform sends an empty message.
    """
    utf16 = units == "utf16"
    size = utf16_len if utf16 else len
    pieces: list[str] = []
    rest = text
    while rest:
        if size(rest) <= limit:
            pieces.append(rest)
            break
        cut, used = 0, 0          # the largest prefix of code points that fits
        for ch in rest:
            width = 2 if utf16 and ord(ch) > 0xFFFF else 1
            if used + width > limit:
                break
            used += width
            cut += 1
        cut = max(cut, 1)
        newline = rest.rfind("\n", 0, cut + 1)   # a newline right after the piece counts
        space = rest.rfind(" ", 0, cut)
        if newline > 0:
            pieces.append(rest[:newline])
            rest = rest[newline + 1:]
        elif space > 0 and space >= cut // 2:
            pieces.append(rest[:space + 1])
            rest = rest[space + 1:]
        else:
            pieces.append(rest[:cut])
            rest = rest[cut:]
    return [piece for piece in pieces if piece.strip()]
