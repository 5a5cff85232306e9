"""A websocket server that accepts, greets once and never answers a ping.

What a half-open peer looks like from the client side (the NAT dropped the
flow, the far host froze): the upgrade succeeded, then nothing comes back —
no pong (RFC 6455 §5.5.2 says a pong MUST answer a ping, so a missing one
means the peer is gone), no close frame, no FIN. A real Tornado server on
127.0.0.1 whose protocol drops incoming ping frames instead of answering.

```python
async with SilentWs() as fake:
    url = fake.url                  # ws://127.0.0.1:<port>/ws
    await fake.wait_accepts(2)      # the client gave up and dialled again
```

Attributes: ``accepts`` (upgrades so far), ``pings`` (ping frames seen),
``greeting`` (text sent once on open; None sends nothing), ``mute`` (default
True; False answers pings like any server, the control case).
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Optional

from tornado import httpserver, netutil, web, websocket

from openclaw_connector import log as logmod
from tests.fakes.scripted import ScriptedFake


class _MutedProtocol(websocket.WebSocketProtocol13):
    """Tornado's RFC 6455 protocol, except that a ping gets no pong."""

    def __init__(self, handler: Any, fake: "SilentWs", **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._fake = fake

    def _handle_message(self, opcode: int, data: bytes) -> Any:
        if opcode == 0x9:
            self._fake.pings += 1
            self._fake.changed.set()
            if self._fake.mute:
                return None             # swallow the ping: no pong

        return super()._handle_message(opcode, data)


class _Handler(websocket.WebSocketHandler):
    def initialize(self, fake: "SilentWs") -> None:
        self.fake = fake

    def get_websocket_protocol(self) -> Optional[websocket.WebSocketProtocol]:
        params = websocket._WebSocketParams(max_message_size=self.max_message_size)
        return _MutedProtocol(self, self.fake, mask_outgoing=False, params=params)

    def open(self, *args: Any, **kwargs: Any) -> None:
        self.fake.handlers.append(self)
        self.fake.accepts += 1
        if self.fake.greeting is not None:
            self.write_message(self.fake.greeting)
        self.fake.changed.set()

    def on_message(self, message: Any) -> None:
        pass                            # the client's frames are read and ignored


class _Unrouted(web.RequestHandler):
    def prepare(self) -> None:
        self.application.settings["fake"].unscripted(
            "%s %s" % (self.request.method, self.request.path))
        raise web.HTTPError(404)


class SilentWs(ScriptedFake):
    """``async with SilentWs() as fake``: ``/ws`` upgrades, then stays mute."""

    def __init__(self, greeting: Optional[str] = '{"type": "status", "data": {}}') -> None:
        super().__init__()
        self.greeting = greeting
        self.mute = True
        self.handlers: list[_Handler] = []
        self.accepts = 0
        self.pings = 0
        self.changed = asyncio.Event()
        self.port = 0
        self._server: Optional[httpserver.HTTPServer] = None

    @property
    def url(self) -> str:
        return "ws://127.0.0.1:%d/ws" % self.port

    async def __aenter__(self) -> "SilentWs":
        app = web.Application([(r"/ws", _Handler, {"fake": self}), (r".*", _Unrouted)],
                              fake=self, log_function=logmod.access_log)
        sockets = netutil.bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self._server = httpserver.HTTPServer(app)
        self._server.add_sockets(sockets)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._server is not None
        for handler in self.handlers:   # drop, not close: a close frame would wait 5 s
            protocol = handler.ws_connection
            if protocol is not None and protocol.stream is not None:
                protocol.stream.close()
        self._server.stop()
        await self._server.close_all_connections()

    async def wait_accepts(self, n: int, timeout: float = 5.0) -> None:
        """Until ``n`` upgrades have been accepted."""
        await self._wait(lambda: self.accepts >= n, timeout)

    async def wait_pings(self, n: int, timeout: float = 5.0) -> None:
        """Until ``n`` ping frames have arrived."""
        await self._wait(lambda: self.pings >= n, timeout)

    async def _wait(self, reached: Callable[[], bool], timeout: float) -> None:
        async def until() -> None:
            while not reached():
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(until(), timeout)
