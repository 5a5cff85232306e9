"""A daemon (LINE + WhatsApp on, plus every fake) running on its own event loop
in a background thread, for hypothesis tests.

Hypothesis drives plain synchronous test functions, so the fuzz tests cannot
live inside a pytest-tornado coroutine. Instead one daemon per test module
runs here, and each example talks to it over real sockets (``http.client``
from the test thread) and checks what it did through :meth:`call`, which runs
a coroutine on the daemon's loop and waits for its result. Every log record
(root logger, DEBUG and up, including Tornado's and asyncio's) is kept in
:attr:`records`, formatted by the daemon's own redacting formatter.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import logging
import socket
import threading
from typing import Any, Callable, Optional

from openclaw_connector import log as logmod
from tests.security import support


class _Collect(logging.Handler):
    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(formatter)
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        with self._lock:
            self.records.append(record)
            self.lines.append(line)


class BackgroundDaemon:
    """``with BackgroundDaemon(tmp_path) as bg:`` — see the module docstring."""

    def __init__(self, tmp_path: Any, platforms: tuple = ("line", "whatsapp"), *,
                 openclaw: Optional[dict] = None, **overrides: Any) -> None:
        self.tmp_path = tmp_path
        self.openclaw = openclaw or {}
        self.platforms = platforms
        self.overrides = overrides
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.run: Optional[support.Running] = None
        self.fakes: Optional[support.Fakes] = None
        self.cfg: Any = None
        self._stack: Optional[contextlib.AsyncExitStack] = None
        self._thread: Optional[threading.Thread] = None
        self._ready = threading.Event()
        self._error: Optional[BaseException] = None
        self._handler: Optional[_Collect] = None
        self._old_level = logging.WARNING

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> "BackgroundDaemon":
        root = logging.getLogger()
        self._old_level = root.level
        self._handler = _Collect(logmod.RedactingFormatter(support.SECRETS.values()))
        root.addHandler(self._handler)
        root.setLevel(logging.DEBUG)
        self._thread = threading.Thread(target=self._main, name="bg-daemon", daemon=True)
        self._thread.start()
        self._ready.wait(15)
        if self._error is not None or self.run is None:
            self.__exit__(None, None, None)
            raise RuntimeError("background daemon did not start: %r" % self._error)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.loop is not None and self._stack is not None:
            try:
                self.call(self._stack.aclose, timeout=15)
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread is not None:
            self._thread.join(15)
        root = logging.getLogger()
        if self._handler is not None:
            root.removeHandler(self._handler)
        root.setLevel(self._old_level)

    def _main(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._setup())
        except BaseException as exc:  # reported by __enter__
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.close()

    async def _setup(self) -> None:
        self._stack = contextlib.AsyncExitStack()
        self.fakes = await self._stack.enter_async_context(support.all_fakes(**self.openclaw))
        self.cfg = support.config(self.tmp_path, self.fakes, self.platforms, **self.overrides)
        self.run = await self._stack.enter_async_context(support.running(self.cfg, self.fakes))

    # ------------------------------------------------------------------ helpers
    def call(self, fn: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Run ``fn()`` (a coroutine function) on the daemon's loop; return its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(fn(), self.loop).result(timeout)

    def settle(self) -> None:
        """Wait until every command the webhooks started has finished (reply sent)."""
        async def _drain() -> None:
            for name in self.platforms:
                await self.run.daemon.channels[name]._tasks.drain(5.0)
        self.call(_drain)

    def port(self, platform: str) -> int:
        sub = getattr(self.cfg, platform)
        return self.run.daemon.web.bound_port(sub.bind, sub.port)

    def request(self, platform: str, method: str, path: str, body: Optional[bytes] = None,
                headers: Optional[list] = None) -> tuple[int, bytes]:
        """One request on a fresh connection; ``headers`` a list of (name, value) pairs,
        sent as given (duplicates kept). Returns (status, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port(platform), timeout=10)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            names = {n.lower() for n, _v in headers or []}
            for name, value in headers or []:
                conn.putheader(name, value)
            if body is not None and "content-length" not in names:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def raw(self, platform: str, data: bytes, timeout: float = 5.0) -> bytes:
        """Send ``data`` as is; return everything the server answers until it closes
        the connection or goes quiet for ``timeout`` seconds."""
        with socket.create_connection(("127.0.0.1", self.port(platform)), timeout) as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            chunks = []
            while True:
                try:
                    chunk = sock.recv(65536)
                except (socket.timeout, ConnectionResetError):
                    break
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks)

    @property
    def lines(self) -> list[str]:
        assert self._handler is not None
        return list(self._handler.lines)

    @property
    def records(self) -> list[logging.LogRecord]:
        assert self._handler is not None
        return list(self._handler.records)

    def snapshot(self) -> dict:
        """Counters the invariants compare before and after one example."""
        fakes = self.fakes
        return {"routed": len(self.run.tap.records), "oc": len(support.oc_traffic(fakes)),
                "line": len(fakes.line.delivered), "wa": len(fakes.wa.sent),
                "logs": len(self._handler.records)}
