"""One Telegram Bot API call: POST ``/bot<token>/<method>`` with a JSON or multipart
body, decoded by ``telegram.wire.decode_response``; failures are TelegramError,
never with the token-bearing URL in them.

Why its own module: the request plumbing is shared by the poll loop and the
send side (``telegram.send.TelegramSender``), and both see only ``call``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Optional

from tornado.httpclient import HTTPRequest

from openclaw_connector import log as logmod
from openclaw_connector.channels.telegram.wire import TelegramError, decode_response, scrub
from openclaw_connector.config import TelegramConfig
from openclaw_connector.net.multipart import FilePart, encode_multipart
from openclaw_connector.net.transport import HTTPTransport


class BotApi:
    """``await api.call("getMe")`` → the decoded ``result``."""

    def __init__(self, cfg: TelegramConfig, http: HTTPTransport) -> None:
        self._base = cfg.api_base.rstrip("/")
        self._token = cfg.token or ""
        self._http = http
        self._connect_timeout = cfg.connect_timeout_sec
        # A send may carry a 10 MB photo upload on a slow uplink.
        self._request_timeout = cfg.request_timeout_sec
        # getMe, deleteWebhook, setMyCommands: small calls, but one slow connect allowed.
        self.setup_timeout = cfg.connect_timeout_sec + 10

    async def call(self, method: str, params: Optional[dict] = None, *,
                    timeout: Optional[float] = None,
                    files: tuple[FilePart, ...] = ()) -> Any:
        """One Bot API call; the result, or TelegramError (never with the URL in it).
        ``timeout`` is the whole call; unset, ``telegram.request_timeout_sec``."""
        if files:
            ctype, body = encode_multipart(params or {}, files)
        else:
            ctype, body = "application/json", json.dumps(params or {}).encode("utf-8")
        request = HTTPRequest("%s/bot%s/%s" % (self._base, self._token, method), method="POST",
                              body=body, headers={"Content-Type": ctype},
                              connect_timeout=self._connect_timeout,
                              request_timeout=timeout or self._request_timeout)
        pending = self._http.fetch(request, raise_error=False)
        # Stopping cancels us mid-poll; the fetch itself ends later (client close or
        # timeout), so shield it and consume its outcome instead of leaving a warning.
        pending.add_done_callback(_consume)
        try:
            response = await asyncio.shield(pending)
        except Exception as exc:
            code = getattr(exc, "code", 0)
            raise TelegramError(method, 0 if code == 599 else code,
                                scrub(logmod.one_line_error(exc), self._token)) from None
        return decode_response(method, response.code, response.body or b"", response.headers)


def _consume(future: "asyncio.Future") -> None:
    if not future.cancelled():
        future.exception()
