"""Shared base of the LINE and WhatsApp API fakes: a real Tornado server on
127.0.0.1:0 that records every request and lets tests await them.

Tests wait with ``await fake.wait_for(path_fragment, count, timeout)``;
nothing sleeps. ``delay`` holds every API answer that long (the benchmark's
realistic round trip) using a timer, not a sleep.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Optional

import tornado.httpserver
import tornado.ioloop
import tornado.netutil
import tornado.web

from tests.fakes.scripted import ScriptedFake


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    headers: dict
    body: bytes = field(repr=False)

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class FakeAPI(ScriptedFake):
    """Start/stop, request record, awaitable waits; subclasses define ``routes()``."""

    def __init__(self, *, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        self.requests: list[Recorded] = []
        self.port = 0
        self._server: Optional[tornado.httpserver.HTTPServer] = None
        self._changed = asyncio.Event()

    def routes(self) -> list:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self.port

    async def start(self) -> "FakeAPI":
        self._changed = asyncio.Event()
        sockets = tornado.netutil.bind_sockets(0, address="127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        app = tornado.web.Application(
            self.routes() + [(r"/.*", _Unscripted, {"fake": self})],
            log_function=lambda handler: None)
        self._server = tornado.httpserver.HTTPServer(app)
        self._server.add_sockets(sockets)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None

    async def __aenter__(self) -> "FakeAPI":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    def record(self, request) -> Recorded:
        item = Recorded(request.method, request.path, dict(request.headers), request.body)
        self.requests.append(item)
        self.notify()
        return item

    def notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def matching(self, fragment: str) -> list[Recorded]:
        return [r for r in self.requests if fragment in r.path]

    async def wait_for(self, fragment: str, count: int = 1,
                       timeout: float = 5.0) -> list[Recorded]:
        """Wait until ``count`` requests whose path contains ``fragment`` arrived."""
        return await self.wait_until(lambda: len(self.matching(fragment)) >= count,
                                     timeout=timeout, what="%d× %s" % (count, fragment),
                                     result=lambda: self.matching(fragment))

    async def wait_until(self, predicate, *, timeout: float = 5.0, what: str = "condition",
                         result=lambda: None) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError("timed out waiting for %s; got %s" % (
                    what, [r.path for r in self.requests]))
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                pass
        return result()

    async def pause(self) -> None:
        """Wait ``delay`` seconds (a timer future, so tests never sleep)."""
        if self.delay > 0:
            future: asyncio.Future = asyncio.get_running_loop().create_future()
            tornado.ioloop.IOLoop.current().call_later(
                self.delay, lambda: future.done() or future.set_result(None))
            await future


class _Unscripted(tornado.web.RequestHandler):
    """Any path the platform fake does not serve: 404, and the test fails at teardown."""

    def initialize(self, fake: FakeAPI) -> None:
        self.fake = fake

    def _any(self) -> None:
        self.fake.unscripted("%s %s" % (self.request.method, self.request.path))
        self.set_status(404)
        self.finish({"message": "fake: unscripted %s %s" % (self.request.method,
                                                            self.request.path)})

    get = post = put = patch = delete = _any  # type: ignore[assignment]
