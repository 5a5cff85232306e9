"""Typed errors of :class:`~openclaw_connector.openclaw.OpenClawClient`.

Callers branch on these types, never on HTTP status codes (STYLE.md,
``client.py``); ``str(err)`` is always a sentence fit for a chat reply
(issue 3's wording) and never holds a secret. Re-exported by
:mod:`openclaw.types` and :mod:`openclaw.client`.
"""

from __future__ import annotations

import re

from openclaw_connector.log import redact

SERVER_TEXT_LIMIT = 300        # characters of a ComfyUI error relayed to chat
_SERVER_TOKENS = [
    # key=value / "key": "value" pairs whose name says secret
    re.compile(r"(?i)((?:token|secret|password|passwd|api[_-]?key|authorization|cookie)"
               r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&]+"),
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),  # JWT
    re.compile(r"(?<![A-Za-z0-9_/.-])[A-Za-z0-9_+/=-]{32,}"),     # long keys, hex digests
]


def scrub_server_text(text: str, limit: int = SERVER_TEXT_LIMIT) -> str:
    """ComfyUI's own error text, fit to relay to a chat: anything token-like
    replaced by ``***``, control characters flattened, at most ``limit`` chars.

    A custom node may put its API key or a signed URL in an exception message;
    the chat is a place the node's author never thought of (issue 20).
    """
    text = redact(" ".join(str(text).split()), ())
    for pattern in _SERVER_TOKENS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + "***", text)
        else:
            text = pattern.sub("***", text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


class OpenClawError(Exception):
    """Base of every client error; ``str(err)`` is a sentence fit for a chat reply."""


class Unreachable(OpenClawError):
    """Connection refused, timed out, DNS failure or connection dropped."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__("ComfyUI is not reachable at %s (%s)." % (url, reason))
        self.url = url
        self.reason = reason


class AdminTokenRejected(OpenClawError):
    """HTTP 403 from an admin endpoint: our token is missing or not the server's."""

    HINT = ("HTTP 403 (Admin Token): set OPENCLAW_CONNECTOR_ADMIN_TOKEN to the "
            "server's OPENCLAW_ADMIN_TOKEN")

    def __init__(self, server_message: str = "") -> None:
        super().__init__(self.HINT)
        self.server_message = server_message


class NotFound(OpenClawError):
    """HTTP 404 (or OpenClaw's 400 "... not found"); text is the server's message."""


class RateLimited(OpenClawError):
    """HTTP 429; ``retry_after`` seconds as the server asked (Retry-After wins)."""

    def __init__(self, retry_after: float, message: str = "") -> None:
        super().__init__("OpenClaw is busy, retry in %d s" % max(1, round(retry_after)))
        self.retry_after = retry_after
        self.server_message = message


class ServerError(OpenClawError):
    """Any other non-2xx answer; text is the server's ``error``/``message`` field."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message or "HTTP %d" % status)
        self.status = status
        self.message = message


class BadResponse(OpenClawError):
    """The answer was not the JSON the contract promises (or too large)."""
