"""A reconnecting client of ComfyUI's websocket (``/ws?clientId=<ours>``).

The JobWatcher needs one thing from it: to hear when ComfyUI's queue changes.
ComfyUI broadcasts a ``status`` message (``exec_info.queue_remaining``) to every
client whenever a prompt is queued or finishes, plus once on connect
(openclaw-api.md §7.5; per-prompt progress goes only to the submitting client
id, which OpenClaw picks at random: jobs/runs.py opens a second socket with
that id, read from ``/queue``, while a watched prompt runs). Text messages are
parsed as JSON and handed to ``on_message``; binary frames (previews) go to
``on_binary`` when one is given, else they are dropped.

One loop shape (STYLE.md §1, §7): connect, read until ``read_message()``
returns None, report the drop, back off with jitter and reconnect. Keepalive
(``net/ws_keepalive.py``: ping every ``ping_sec``, abort when nothing came back
within ``ping_sec``), the message size cap and the connect timeout are explicit,
so a half-open socket is dropped within two ping periods.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Callable, Optional
from urllib.parse import urlencode, urlparse

from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from openclaw_connector import log as logmod
from openclaw_connector.backoff import Backoff, BackoffPolicy, wait_or_stop
from openclaw_connector.lifecycle import drain
from openclaw_connector.net.resolver import public_url
from openclaw_connector.net.ws_keepalive import KeepAlive

log = logmod.get("comfy_ws")

MAX_MESSAGE_BYTES = 8 * 1024 * 1024   # status messages are tiny; previews are dropped anyway


def ws_url(http_url: str, client_id: str) -> str:
    """``http://host:8188/base`` → ``ws://host:8188/base/ws?clientId=<id>`` (https → wss)."""
    p = urlparse(http_url)
    scheme = "wss" if p.scheme == "https" else "ws"
    path = p.path.rstrip("/") + "/ws"
    return "%s://%s%s?%s" % (scheme, p.netloc, path, urlencode({"clientId": client_id}))


def _where(url: str) -> str:
    """Host, port and path only: safe to log (no user info, no query)."""
    return public_url(url) + urlparse(url).path


class ComfyWebSocket:
    """Keeps one ``/ws`` connection open and reports messages and up/down changes.

    ``on_message(dict)`` gets each JSON text message; ``on_state(bool)`` is
    called with True once a connection delivered its first message and with
    False when it drops. Both callbacks run on the IOLoop and must not block.
    """

    def __init__(self, url: str, *, on_message: Callable[[dict], None],
                 on_state: Callable[[bool], None], retry: BackoffPolicy,
                 ping_sec: float, connect_timeout: float,
                 max_message_size: int = MAX_MESSAGE_BYTES,
                 on_binary: Optional[Callable[[bytes], None]] = None) -> None:
        self._url = url
        self._on_message = on_message
        self._on_state = on_state
        self._retry = retry
        self._ping_sec = ping_sec
        self._connect_timeout = connect_timeout
        self._max_message_size = max_message_size
        self._on_binary = on_binary
        self._stopping = asyncio.Event()
        self._conn: Optional[WebSocketClientConnection] = None
        self._task: Optional[asyncio.Task] = None
        self.connected = False
        self.connects = 0
        # None until the first attempt ends; then whether it connected (for /healthz).
        self.last_connect_ok: Optional[bool] = None

    async def start(self) -> None:
        """Spawn the connect/read loop and return at once."""
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        """Close the socket and end the loop (idempotent, bounded)."""
        self._stopping.set()
        if self._conn is not None:
            self._conn.close()
        if self._task is not None:
            await drain([self._task], 2.0)

    async def _run(self) -> None:
        delays = Backoff(self._retry)
        failures = 0
        while not self._stopping.is_set():
            try:
                conn = await self._connect()
            except Exception as exc:
                failures += 1
                self.last_connect_ok = False
                wait = delays.next()
                # The first failure of a streak is worth a warning; the rest (ComfyUI
                # switched off for the night) only at debug.
                (log.warning if failures == 1 else log.debug)(
                    "event=ws_connect_failed url=%s attempt=%d retry_in=%.2f error=%s",
                    _where(self._url), delays.attempt, wait, logmod.one_line_error(exc))
                if await wait_or_stop(self._stopping, wait):
                    break
                continue
            self._conn = conn
            self.last_connect_ok = True
            if self._stopping.is_set():
                conn.close()
                break
            keepalive = KeepAlive(conn, self._ping_sec, self._ping_sec).start()
            try:
                got_any = await self._read(conn, delays, keepalive)
            finally:
                keepalive.stop()
                conn.close()    # no-op after a close; releases an aborted one
            self._conn = None
            if got_any:
                failures = 0
                self._set_state(False)
                reason = "ping_timeout" if keepalive.timed_out else \
                    (conn.close_reason or "").replace(" ", "_") or "-"
                (log.debug if self._stopping.is_set() else log.warning)(
                    "event=ws_closed url=%s code=%s reason=%s", _where(self._url),
                    conn.close_code, reason)
            if self._stopping.is_set():
                break
            wait = delays.next()
            if await wait_or_stop(self._stopping, wait):
                break
        self._set_state(False)

    async def _connect(self) -> WebSocketClientConnection:
        request = HTTPRequest(self._url, connect_timeout=self._connect_timeout,
                              request_timeout=self._connect_timeout)
        # No Tornado pinger: KeepAlive pings and aborts without the close handshake.
        return await websocket_connect(request, ping_interval=None,
                                       max_message_size=self._max_message_size)

    async def _read(self, conn: WebSocketClientConnection, delays: Backoff,
                    keepalive: KeepAlive) -> bool:
        """Read until the connection closes; True if it delivered any message."""
        got_any = False
        while True:
            message = await conn.read_message()
            if message is None:
                return got_any
            keepalive.heard()
            if not got_any:
                got_any = True
                delays.reset()   # only a socket that really talked counts as a success
                self.connects += 1
                log.info("event=ws_connected url=%s connects=%d", _where(self._url),
                         self.connects)
                self._set_state(True)
            if isinstance(message, bytes):
                if self._on_binary is not None:
                    try:
                        self._on_binary(message)
                    except Exception:  # a bug in the consumer must not drop the socket
                        log.exception("event=ws_binary_handler_failed size=%d", len(message))
                continue
            try:
                data: Any = json.loads(message)
            except ValueError:
                log.debug("event=ws_bad_message size=%d", len(message))
                continue
            if isinstance(data, dict):
                try:
                    self._on_message(data)
                except Exception:  # a bug in the consumer must not drop the socket
                    log.exception("event=ws_handler_failed type=%s", data.get("type"))

    def _set_state(self, up: bool) -> None:
        if up == self.connected:
            return
        self.connected = up
        try:
            self._on_state(up)
        except Exception:
            log.exception("event=ws_state_handler_failed up=%s", up)
