"""Websocket keep-alive that aborts a silent connection at once.

Tornado's own ``ping_interval``/``ping_timeout`` answers a missed pong with the
close handshake, and that handshake waits a fixed 5 s for the silent peer
before it drops the socket. A peer that stopped answering pings will not answer
a close frame either, so the wait only delays the reconnect. This loop pings
every ``interval`` seconds and, when neither a pong nor any message arrived
within ``timeout`` of the ping, closes the underlying stream: the owner's
``read_message()`` returns None and its own reconnect/backoff path runs.

Used by the ComfyUI websocket (``openclaw/comfy_ws.py``) and the Discord
gateway (``channels/discord/connection.py``); open the connection with
``ping_interval=None`` so Tornado's pinger stays off.
"""

from __future__ import annotations

import asyncio
from typing import Optional

from tornado.websocket import WebSocketClientConnection, WebSocketClosedError, \
    WebSocketProtocol


class KeepAlive:
    """Pings one open connection; aborts it if the peer goes quiet.

    The owner calls ``heard()`` for every message it reads (any traffic proves
    the peer alive) and ``stop()`` once the connection has ended. After an
    abort, ``timed_out`` is True so the owner can name the cause in its log.
    """

    def __init__(self, conn: WebSocketClientConnection, interval: float,
                 timeout: float) -> None:
        self._conn = conn
        self._interval = interval
        # A timeout longer than the interval would overlap the next ping.
        self._timeout = min(timeout, interval)
        self._loop = asyncio.get_running_loop()
        self._heard_at = self._loop.time()
        self._task: Optional[asyncio.Task] = None
        self.timed_out = False

    def start(self) -> "KeepAlive":
        """Begin pinging (no-op for an interval of 0 or less)."""
        if self._interval > 0 and self._task is None:
            self._task = asyncio.ensure_future(self._run())
        return self

    def stop(self) -> None:
        """End the loop; the connection itself is the owner's to close."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def heard(self) -> None:
        """The peer sent something: it is alive."""
        self._heard_at = self._loop.time()

    async def _run(self) -> None:
        # Tornado's client calls ``on_pong`` on the connection object for every
        # pong and offers no callback parameter for it, so hook the instance.
        setattr(self._conn, "on_pong", lambda data: self.heard())
        while True:
            await asyncio.sleep(self._interval)
            sent_at = self._loop.time()
            try:
                self._conn.ping()
            except WebSocketClosedError:
                return      # already closing; the owner's read loop sees it
            await asyncio.sleep(self._timeout)
            if self._heard_at < sent_at:
                self.timed_out = True
                abort(self._conn)
                return


def close_now(conn: WebSocketClientConnection, code: int, reason: str) -> None:
    """Send a close frame (best effort: a live peer learns the code) and drop the
    connection without waiting for the answer, for a peer known to be unresponsive."""
    protocol = conn.protocol      # closing may let go of it
    conn.close(code, reason)
    _drop_stream(protocol)


def abort(conn: WebSocketClientConnection) -> None:
    """Drop the TCP connection now, skipping the close handshake.

    The frame loop sees the closed stream, marks both sides terminated and
    ``read_message()`` returns None (``close_code`` stays None: no close frame
    was exchanged).
    """
    _drop_stream(conn.protocol)


def _drop_stream(protocol: Optional[WebSocketProtocol]) -> None:
    if protocol is not None and protocol.stream is not None:
        protocol.stream.close()
