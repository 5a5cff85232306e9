"""One HTTP call to ComfyUI/OpenClaw: URL, headers (admin token or loopback
``Origin``), timeouts, JSON in and out, and the mapping of every failure to a
typed error of :mod:`openclaw.errors` (openclaw-api.md §2.1, §10).

Why its own module: this request plumbing is one concept;
:class:`~openclaw_connector.openclaw.client.OpenClawClient` holds the
endpoints and the submit retry rules on top of it.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any, Mapping, Optional
from urllib.parse import urlencode

from tornado.httpclient import HTTPClientError, HTTPRequest, HTTPResponse

from openclaw_connector import log as logmod
from openclaw_connector.config import OpenClawConfig, is_loopback_url
from openclaw_connector.net.resolver import public_url
from openclaw_connector.net.retry import retry_after
from openclaw_connector.openclaw.errors import AdminTokenRejected, BadResponse, NotFound, \
    RateLimited, ServerError, Unreachable, scrub_server_text

log = logmod.get("openclaw")

ADMIN_HEADER = "X-OpenClaw-Admin-Token"


def _unreachable_reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "host name not resolved"
    if isinstance(exc, HTTPClientError) and exc.code == 599:
        text = str(exc).lower()
        return "timed out" if "timeout" in text else "connection closed"
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timed out"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    return "connection failed"


def _error_text(body: Any) -> str:
    """The server's ``error`` (string or ComfyUI's ``{message}``) with ``message`` fallback."""
    if isinstance(body, Mapping):
        err = body.get("error")
        if isinstance(err, Mapping):
            err = err.get("message") or err.get("type")
        if isinstance(err, str) and err:
            detail = body.get("detail")
            return "%s (%s)" % (err, detail) if isinstance(detail, str) and detail else err
        msg = body.get("message")
        if isinstance(msg, str) and msg:
            return msg
    return ""


def request_headers(cfg: OpenClawConfig, has_body: bool = False) -> dict[str, str]:
    """The headers of every call: the admin token when set; without one, on loopback,
    the server's own ``Origin`` (loopback convenience mode, openclaw-api.md §2.1, §10).
    ``--check`` sends the same, so it proves what the daemon will do."""
    headers = {"Accept": "application/json"}
    if has_body:
        headers["Content-Type"] = "application/json"
    if cfg.admin_token:
        headers[ADMIN_HEADER] = cfg.admin_token
    elif is_loopback_url(cfg.url):
        headers["Origin"] = public_url(cfg.url)
    return headers


class OpenClawHttp:
    """``await calls.call("GET", "/api/queue")`` → the parsed JSON, or a typed error."""

    def __init__(self, cfg: OpenClawConfig, http: Any) -> None:
        self._cfg = cfg
        self._http = http
        self._base = cfg.url.rstrip("/")
        self.public_url = public_url(cfg.url)
        self.last_reachable: Optional[bool] = None   # for /healthz; None = not asked yet

    def _headers(self, has_body: bool) -> dict[str, str]:
        return request_headers(self._cfg, has_body)

    async def fetch(self, method: str, path: str, *, body: Any = None,
                     query: Optional[Mapping[str, Any]] = None,
                     timeout: Optional[float] = None,
                     streaming_callback=None,
                     raw_body: Optional[tuple[str, bytes]] = None) -> HTTPResponse:
        """One request; ``raw_body`` is ``(content_type, body)`` for a non-JSON body (upload)."""
        url = self._base + path
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        timeout = timeout or self._cfg.request_sec
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
        elif raw_body is not None:
            data = raw_body[1]
        elif method == "POST":
            data = b""
        headers = self._headers(body is not None)
        if raw_body is not None:
            headers["Content-Type"] = raw_body[0]
        request = HTTPRequest(url, method=method, body=data,
                              headers=headers,
                              connect_timeout=min(timeout, self._cfg.connect_sec),
                              request_timeout=timeout, follow_redirects=False,
                              streaming_callback=streaming_callback)
        started = time.monotonic()
        try:
            response = await self._http.fetch(request, raise_error=False)
        except (OSError, HTTPClientError, asyncio.TimeoutError) as exc:
            reason = _unreachable_reason(exc)
            log.warning("event=openclaw_unreachable method=%s path=%s reason=%s",
                        method, path, reason.replace(" ", "_"))
            self.last_reachable = False
            raise Unreachable(self.public_url, reason) from None
        self.last_reachable = True
        log.debug("event=openclaw_call method=%s path=%s status=%d took_ms=%.1f",
                  method, path, response.code, 1000 * (time.monotonic() - started))
        return response

    async def call(self, method: str, path: str, *, admin: bool = False, body: Any = None,
                    query: Optional[Mapping[str, Any]] = None,
                    timeout: Optional[float] = None, empty_ok: bool = False,
                    raw_body: Optional[tuple[str, bytes]] = None) -> Any:
        """One request; the parsed JSON body on 2xx, else a typed error."""
        response = await self.fetch(method, path, body=body, query=query, timeout=timeout,
                                    raw_body=raw_body)
        raw = response.body or b""
        parsed: Any = None
        if raw.strip():
            try:
                parsed = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                parsed = None
                if 200 <= response.code < 300 and not empty_ok:
                    raise BadResponse("%s %s: the answer is not JSON" % (method, path)) from None
        code = response.code
        if 200 <= code < 300:
            if parsed is None and not empty_ok:
                raise BadResponse("%s %s: empty answer" % (method, path))
            return parsed
        text = _error_text(parsed)
        if self._cfg.admin_token and self._cfg.admin_token in text:   # never echo our secret
            text = text.replace(self._cfg.admin_token, "***")
        text = scrub_server_text(text)   # it may reach a chat: no tokens, bounded
        log.info("event=openclaw_error method=%s path=%s status=%d error=%r",
                 method, path, code, text[:200])
        if code == 403 and admin:
            raise AdminTokenRejected(text)
        if code == 404:
            raise NotFound(text or "not found")
        if code == 400 and "not found" in text.lower():
            raise NotFound(text)
        if code == 429:
            wait = retry_after(response.headers, parsed, key="retry_after_sec")
            raise RateLimited(1.0 if wait is None else wait, text)
        raise ServerError(code, text or (response.reason or ""))
