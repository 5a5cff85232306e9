"""``public_url``: the part of a URL that is safe to show (no token, user info or query)."""

from __future__ import annotations

from urllib.parse import urlsplit


def public_url(url: str) -> str:
    """``scheme://host[:port]`` of a URL: no user info, path or query, so safe to show.

    Telegram puts the token in the path, so a logged or printed URL keeps only
    the origin.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = "[%s]" % host
    return "%s://%s%s" % (parts.scheme, host, ":%d" % parts.port if parts.port else "")
