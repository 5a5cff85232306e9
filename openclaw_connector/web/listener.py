"""Guards for the daemon's HTTP listeners: what a flood may cost (issue 20).

* :class:`ConnectionGuard` caps the open connections of one listener
  (``http.max_connections``). At the cap, the connection idle the longest is
  closed to make room; when every connection is busy, the new one is closed
  instead. A thousand idle sockets therefore cost a few hundred descriptors,
  and a real webhook still gets in.
* :class:`GuardedHTTPServer` accepts with its own loop: when the process is
  out of descriptors (EMFILE, ENFILE, ENOBUFS, ENOMEM) it stops watching the
  socket for ``http.accept_backoff_sec`` (doubling up to 10x) instead of
  waking up for the same unacceptable connection forever, closes the oldest
  idle connection to free one, and logs once per interval.
* :class:`BodyBudget` bounds request bodies held in memory across all
  connections (``http.max_buffered_mb``); a body that does not fit gets 503
  with ``Retry-After`` (channels/webhook.py).

Shedding is logged once per LOG_EVERY_SEC with a count, never per connection.
"""

from __future__ import annotations

import errno
import resource
import time
from typing import Any, Callable, Optional

import tornado.httpserver
import tornado.ioloop
from tornado.iostream import IOStream

from openclaw_connector import log as logmod

log = logmod.get("web")

LOG_EVERY_SEC = 60.0
OUT_OF_FDS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
ACCEPTS_PER_WAKEUP = 128        # as Tornado's own accept loop: let other work run


class _Throttled:
    """A log line that says its event at most once per LOG_EVERY_SEC, with a count."""

    def __init__(self) -> None:
        self._last = -LOG_EVERY_SEC
        self._since = 0

    def note(self, fmt: str, *args: Any) -> None:
        self._since += 1
        now = time.monotonic()
        if now - self._last >= LOG_EVERY_SEC:
            log.warning(fmt + " count=%d", *args, self._since)
            self._last, self._since = now, 0


class ConnectionGuard:
    """The open connections of one listener, idle ones oldest first."""

    def __init__(self, name: str, max_connections: int, metrics: Any) -> None:
        self.name = name
        self.max_connections = max_connections
        self._metrics = metrics
        self._open: set[IOStream] = set()
        self._idle: dict[IOStream, None] = {}     # insertion order = idle the longest first
        self.accept_paused = False
        self._shed_log = _Throttled()

    def __len__(self) -> int:
        return len(self._open)

    def admit(self, stream: IOStream) -> bool:
        """Make room for ``stream`` (closing the oldest idle connection) or refuse it."""
        if len(self._open) >= self.max_connections and not self.close_oldest_idle():
            self._count("refused")
            self._shed_log.note("event=connection_limit listener=%s max=%d action=refused",
                                self.name, self.max_connections)
            return False
        self._open.add(stream)
        self._idle[stream] = None
        self._gauge()
        return True

    def close_oldest_idle(self) -> bool:
        """Close the connection idle the longest; False when none is idle."""
        for stream in self._idle:
            self.closed(stream)
            stream.close()
            self._count("evicted")
            self._shed_log.note("event=connection_limit listener=%s max=%d "
                                "action=closed_oldest_idle", self.name, self.max_connections)
            return True
        return False

    def idle(self, stream: IOStream) -> None:
        """``stream`` waits for its next request (moves to the young end)."""
        if stream in self._open:
            self._idle.pop(stream, None)
            self._idle[stream] = None

    def busy(self, stream: IOStream) -> None:
        """A request is being read or answered on ``stream``: never evicted."""
        self._idle.pop(stream, None)

    def closed(self, stream: IOStream) -> None:
        self._open.discard(stream)
        self._idle.pop(stream, None)
        self._gauge()

    def health(self) -> dict:
        return {"connections": len(self._open), "max_connections": self.max_connections,
                "at_cap": len(self._open) >= self.max_connections,
                "accept_paused": self.accept_paused}

    def _count(self, action: str) -> None:
        self._metrics.inc("http_connections_shed_total", listener=self.name, action=action,
                          help="Connections closed at the per-listener cap")

    def _gauge(self) -> None:
        self._metrics.set("http_connections", float(len(self._open)), listener=self.name,
                          help="Open connections per listener")


class GuardedHTTPServer(tornado.httpserver.HTTPServer):
    """An HTTPServer whose accept loop obeys a :class:`ConnectionGuard` and backs
    off when the process is out of file descriptors. Set ``guard`` and
    ``accept_backoff_sec`` before ``add_sockets``."""

    guard: ConnectionGuard
    accept_backoff_sec: float = 0.5

    def add_sockets(self, sockets: Any) -> None:
        for sock in sockets:
            self._sockets[sock.fileno()] = sock
            self._handlers[sock.fileno()] = self._watch(sock)

    def handle_stream(self, stream: IOStream, address: tuple) -> None:
        if not self.guard.admit(stream):
            stream.close()
            return
        super().handle_stream(stream, address)

    def on_close(self, server_conn: object) -> None:
        self.guard.closed(server_conn.stream)   # type: ignore[attr-defined]
        super().on_close(server_conn)

    def _watch(self, sock: Any) -> Callable[[], None]:
        """Accept on ``sock`` until the returned callable is called."""
        loop = tornado.ioloop.IOLoop.current()
        guard = self.guard
        paused_log = _Throttled()
        state: dict = {"removed": False, "timer": None, "pause": self.accept_backoff_sec}

        def on_readable(_fd: Any, _events: int) -> None:
            for _ in range(ACCEPTS_PER_WAKEUP):
                if state["removed"]:
                    return
                try:
                    connection, address = sock.accept()
                except BlockingIOError:
                    return
                except ConnectionAbortedError:
                    continue
                except OSError as exc:
                    if exc.errno not in OUT_OF_FDS:
                        raise
                    pause(exc)
                    return
                state["pause"] = self.accept_backoff_sec
                self._handle_connection(connection, address)

        def pause(exc: OSError) -> None:
            # The waiting connection keeps the socket readable: without a pause the
            # loop would wake for it forever (one core at 100 %, a log line each).
            loop.remove_handler(sock)
            guard.accept_paused = True
            guard.close_oldest_idle()
            wait = state["pause"]
            state["pause"] = min(wait * 2, self.accept_backoff_sec * 10)
            guard._metrics.inc("http_accept_paused_total", listener=guard.name,
                               help="Accept pauses for lack of file descriptors")
            paused_log.note("event=accept_paused listener=%s error=%s pause_s=%.2f open=%d "
                            "hint=raise LimitNOFILE or lower http.max_connections",
                            guard.name, errno.errorcode.get(exc.errno or 0, exc.errno),
                            wait, len(guard))
            state["timer"] = loop.call_later(wait, resume)

        def resume() -> None:
            state["timer"] = None
            guard.accept_paused = False
            if not state["removed"]:
                loop.add_handler(sock, on_readable, tornado.ioloop.IOLoop.READ)

        def remove() -> None:
            state["removed"] = True
            if state["timer"] is not None:
                loop.remove_timeout(state["timer"])
                state["timer"] = None
            else:
                loop.remove_handler(sock)

        loop.add_handler(sock, on_readable, tornado.ioloop.IOLoop.READ)
        return remove


class BodyBudget:
    """Bytes of request bodies held in memory, across every connection."""

    def __init__(self, max_bytes: int, metrics: Any) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self._metrics = metrics
        self._log = _Throttled()

    def take(self, amount: int) -> bool:
        """Reserve ``amount`` bytes; False (and nothing reserved) when over budget."""
        if self.used + amount > self.max_bytes:
            self._metrics.inc("http_body_budget_refused_total",
                              help="Request bodies refused with 503: memory budget full")
            self._log.note("event=body_budget_full used=%d max=%d", self.used, self.max_bytes)
            return False
        self.used += amount
        return True

    def give(self, amount: int) -> None:
        self.used = max(0, self.used - amount)

    def health(self) -> dict:
        return {"buffered_bytes": self.used, "max_buffered_bytes": self.max_bytes}


def raise_fd_limit(wanted_fds: int) -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE toward the hard one; return (soft, hard).

    Many init systems leave the soft limit at 1024 with a much higher hard
    limit; the cap only protects the daemon when it sits well below the limit.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted_fds:
        target = wanted_fds if hard == resource.RLIM_INFINITY else min(wanted_fds, hard)
        if target > soft:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
                soft = target
            except (ValueError, OSError):
                pass
    return soft, hard
