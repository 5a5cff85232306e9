"""Prober: the one GET a ``--check`` probe makes, with explicit timeouts, never raising.

Each channel's probe and ``OpenClawClient.probe()`` use it over the daemon's
own transport (so a configured proxy is used as it will be at run time), and
turn its :class:`Answer` into a worded ``probe.ProbeResult``. A
network failure becomes ``Answer(code=0, error=...)`` in words a user can act
on (refused, timed out, name not resolved); redirects are never followed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Optional

from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.simple_httpclient import HTTPTimeoutError

from openclaw_connector import log as logmod
from openclaw_connector.net.resolver import public_url
from openclaw_connector.net.transport import HTTPTransport


@dataclass(frozen=True)
class Answer:
    """What a probe's GET got: an HTTP status and parsed JSON, or ``code == 0`` and the
    network error in words."""

    code: int
    body: Any = None
    error: str = ""

    def status_text(self) -> str:
        """``"401 Unauthorized"``: the status code and its reason phrase."""
        try:
            phrase = HTTPStatus(self.code).phrase
        except ValueError:
            phrase = ""
        return ("%d %s" % (self.code, phrase)).strip()

    def field(self, *keys: str) -> Any:
        """``body[k1][k2]...``, or None where the path is missing or not a mapping."""
        body = self.body
        for key in keys:
            body = body.get(key) if isinstance(body, dict) else None
        return body


class Prober:
    """GETs with explicit timeouts that never raise; owns nothing but a borrowed transport."""

    def __init__(self, http: HTTPTransport, timeout_sec: float) -> None:
        self._http = http
        self._timeout = timeout_sec

    async def get(self, url: str, headers: Optional[dict] = None) -> Answer:
        request = HTTPRequest(url, method="GET", headers=headers or {},
                              connect_timeout=self._timeout, request_timeout=self._timeout,
                              follow_redirects=False)
        try:
            response = await self._http.fetch(request, raise_error=False)
        except HTTPTimeoutError:
            return Answer(0, error="timed out after %gs" % self._timeout)
        except HTTPClientError as exc:  # 599 without a timeout: the stream closed
            return Answer(0, error=exc.message or "connection closed without an answer")
        except OSError as exc:  # refused, DNS (gaierror), TLS (SSLError)
            return Answer(0, error=exc.strerror or logmod.one_line_error(exc))
        except Exception as exc:  # anything else: the type name is the clue
            return Answer(0, error=logmod.one_line_error(exc))
        try:
            body = json.loads(response.body or b"null")
        except ValueError:
            body = None
        return Answer(response.code, body)


def unreachable(base: str, answer: Answer, fix: str) -> str:
    """``cannot reach https://host (what happened) — fix``; the URL without path or token."""
    return "cannot reach %s (%s) — %s" % (public_url(base), answer.error, fix)
