"""HTTPTransport: Tornado's ``fetch(request)`` surface over one KeepAliveClient.

Why: Telegram, Discord REST and OpenClawClient were written against
Tornado's ``AsyncHTTPClient``, whose simple client opens a new TCP (and TLS)
connection for every call: ~420 µs of CPU per call on loopback against
~30 µs for a reused connection, and a TLS handshake per reply on the real
internet (issue 21). The daemon builds one of these (:func:`build_transport`)
and hands it to every channel and to OpenClawClient, so the callers keep their
``HTTPRequest``/``HTTPResponse`` code while every call goes over the shared
keep-alive pool, through the configured proxy (``network.*``) where one
applies. LINE and WhatsApp use the pool directly (``transport.client``).

Behaviour kept from Tornado: ``fetch`` returns a future; a call that got no
answer raises (even with ``raise_error=False``): ``HTTPTimeoutError`` after
its deadline, ``HTTPStreamClosedError`` when the connection dropped, the
``OSError`` itself when it could not connect (refused, name not resolved,
certificate refused, proxy refused). Not kept: redirects are never followed
(no caller wants them), and a ``streaming_callback`` receives the body once,
whole, after it arrived (bounded by STREAMED_MAX_BODY).
"""

from __future__ import annotations

import asyncio
import os
import time
from io import BytesIO
from typing import TYPE_CHECKING, Any, Optional, Union
from urllib.parse import urlsplit

from tornado import httputil
from tornado.httpclient import HTTPClientError, HTTPRequest, HTTPResponse
from tornado.simple_httpclient import HTTPStreamClosedError, HTTPTimeoutError

from openclaw_connector.net.client import (MAX_RESPONSE, ApiUnreachable, ConnectionClosed,
                                           KeepAliveClient)
from openclaw_connector.net.proxy import ProxyRules

if TYPE_CHECKING:   # imported when a proxy applies to a websocket (net/tunnel.py)
    from openclaw_connector.net.tunnel import TunnelResolver

CONNECT_TIMEOUT_SEC = 20.0      # Tornado's defaults, for a request that names none
REQUEST_TIMEOUT_SEC = 20.0
MAX_PER_HOST = 256              # in flight per host: a 50 ms API at ~3000 replies/s
STREAMED_MAX_BODY = 64 << 20    # /api/view bounds the image itself (max_bytes)


class HTTPTransport:
    """``await transport.fetch(HTTPRequest(...), raise_error=False)`` → ``HTTPResponse``."""

    def __init__(self, client: KeepAliveClient, rules: Optional[ProxyRules] = None) -> None:
        self.client = client
        self._rules = rules

    def websocket_resolver(self, url: str, timeout: float) -> Optional["TunnelResolver"]:
        """For ``websocket_connect(..., resolver=)``: a tunnel through the proxy when one
        applies to ``url`` (wss:// as https), else None (dial directly)."""
        parts = urlsplit(url)
        scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme)
        proxy = self._rules.for_url(scheme, parts.hostname or "") if self._rules else None
        if proxy is None:
            return None
        from openclaw_connector.net.tunnel import TunnelResolver
        return TunnelResolver(proxy=proxy, timeout=timeout)

    def close(self) -> None:
        """Close every connection (the daemon, after the services stopped)."""
        self.client.close()

    def fetch(self, request: Union[str, HTTPRequest], raise_error: bool = True,
              **kwargs: Any) -> "asyncio.Future[HTTPResponse]":
        """One call; a future like Tornado's (callers add done-callbacks or shield it)."""
        if not isinstance(request, HTTPRequest):
            request = HTTPRequest(request, **kwargs)
        return asyncio.ensure_future(self._fetch(request, raise_error))

    async def _fetch(self, request: HTTPRequest, raise_error: bool) -> HTTPResponse:
        started = time.monotonic()
        streaming = request.streaming_callback
        try:
            answer = await self.client.fetch(
                request.method, request.url, headers=dict(request.headers),
                body=request.body or b"",
                connect_timeout=request.connect_timeout or CONNECT_TIMEOUT_SEC,
                request_timeout=request.request_timeout or REQUEST_TIMEOUT_SEC,
                max_body=STREAMED_MAX_BODY if streaming is not None else MAX_RESPONSE)
        except ApiUnreachable as exc:
            raise _no_answer(exc.cause) from None
        body = answer.body
        if streaming is not None:
            streaming(body)
            body = b""
        response = HTTPResponse(request, answer.code, headers=answer.headers,
                                buffer=BytesIO(body),
                                reason=httputil.responses.get(answer.code, "Unknown"),
                                request_time=time.monotonic() - started)
        if raise_error and response.error is not None:
            raise response.error
        return response


_PLAIN_ERRNO = (OSError, ConnectionRefusedError, ConnectionResetError, ConnectionAbortedError)


def _no_answer(error: Optional[BaseException]) -> BaseException:
    """The exception Tornado's client would raise for a call that got no answer."""
    if isinstance(error, asyncio.TimeoutError):
        return HTTPTimeoutError("Timeout")
    if isinstance(error, ConnectionClosed):
        return HTTPStreamClosedError(str(error))
    if isinstance(error, OSError):
        if type(error) in _PLAIN_ERRNO and error.errno:
            # asyncio says "Connect call failed ('1.2.3.4', 80)"; keep the words
            # Tornado's client gave ("Connection refused"), which --check prints.
            return type(error)(error.errno, os.strerror(error.errno))
        return error
    return HTTPClientError(599, "bad answer: %s" % (error or "none"))


def build_transport(cfg: Any) -> HTTPTransport:
    """The daemon's one transport: keep-alive pool, proxies from ``cfg.network``.

    The OpenClaw URL's host bypasses the proxy like loopback does: ComfyUI is
    on this machine or the LAN, not behind the user's egress proxy.
    """
    network = cfg.network
    rules = ProxyRules(https_proxy=network.proxy, http_proxy=network.http_proxy,
                       no_proxy=network.no_proxy, bypass=(cfg.openclaw.url,))
    client = KeepAliveClient(max_per_host=MAX_PER_HOST,
                             proxies=rules.for_url if rules.active else None)
    return HTTPTransport(client, rules if rules.active else None)
