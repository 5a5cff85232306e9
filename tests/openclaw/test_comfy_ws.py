"""The /ws client against a tiny inline websocket server: messages, drops, refusals, stop."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from tornado import httpserver, netutil, web, websocket

from openclaw_connector import log as logmod
from openclaw_connector.backoff import BackoffPolicy
from openclaw_connector.openclaw.comfy_ws import ComfyWebSocket, ws_url


class _Ws(websocket.WebSocketHandler):
    def initialize(self, server: "Server") -> None:
        self.server = server

    async def get(self, *args, **kwargs):
        if self.server.refuse:
            self.server.refused += 1
            self.server.changed.set()
            self.set_status(503)
            self.finish()
            return
        await super().get(*args, **kwargs)

    def open(self) -> None:
        self.server.clients.append(self)
        self.server.client_ids.append(self.get_argument("clientId"))
        for message in self.server.greeting:
            self.write_message(message, binary=isinstance(message, bytes))
        self.server.changed.set()

    def on_close(self) -> None:
        if self in self.server.clients:
            self.server.clients.remove(self)


class Server:
    def __init__(self) -> None:
        self.clients: list[_Ws] = []
        self.client_ids: list[str] = []
        self.greeting: list = [json.dumps({"type": "status", "data": {}})]
        self.refuse = False
        self.refused = 0
        self.changed = asyncio.Event()
        self._server = None
        self.port = 0

    async def __aenter__(self) -> "Server":
        app = web.Application([(r"/ws", _Ws, {"server": self})],
                              log_function=logmod.access_log)
        sockets = netutil.bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self._server = httpserver.HTTPServer(app)
        self._server.add_sockets(sockets)
        return self

    async def __aexit__(self, *exc) -> None:
        for c in list(self.clients):
            c.close()
        self._server.stop()
        await self._server.close_all_connections()

    async def wait(self, pred, timeout: float = 5.0) -> None:
        async def _wait() -> None:
            while not pred():
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(_wait(), timeout)


class Recorder:
    def __init__(self, server: Server) -> None:
        self.messages: list[dict] = []
        self.states: list[bool] = []
        self.server = server

    def on_message(self, m: dict) -> None:
        self.messages.append(m)
        self.server.changed.set()

    def on_state(self, up: bool) -> None:
        self.states.append(up)
        self.server.changed.set()


def _client(server: Server, rec: Recorder, **kw) -> ComfyWebSocket:
    return ComfyWebSocket(ws_url("http://127.0.0.1:%d" % server.port, "cid-1"),
                          on_message=rec.on_message, on_state=rec.on_state,
                          retry=BackoffPolicy(0.01, 2.0, 0.05), ping_sec=5,
                          connect_timeout=1, **kw)


@pytest.mark.gen_test(timeout=10)
async def test_json_messages_delivered_binary_and_garbage_dropped():
    async with Server() as server:
        server.greeting = [b"\x00\x01preview", "not json", json.dumps([1, 2]),
                           json.dumps({"type": "status", "data": {"x": 1}})]
        rec = Recorder(server)
        ws = _client(server, rec)
        await ws.start()
        try:
            await server.wait(lambda: rec.messages)
        finally:
            await ws.stop()
    assert rec.messages == [{"type": "status", "data": {"x": 1}}]
    assert server.client_ids == ["cid-1"]
    assert rec.states == [True, False]


@pytest.mark.gen_test(timeout=10)
async def test_dropped_socket_is_reported_and_reconnected():
    async with Server() as server:
        rec = Recorder(server)
        ws = _client(server, rec)
        await ws.start()
        try:
            await server.wait(lambda: rec.states == [True])
            server.clients[0].close()
            await server.wait(lambda: rec.states == [True, False, True])
            assert ws.connected and ws.connects == 2
        finally:
            await ws.stop()


@pytest.mark.gen_test(timeout=10)
async def test_refused_upgrade_is_retried_with_backoff_until_accepted(caplog):
    async with Server() as server:
        server.refuse = True
        rec = Recorder(server)
        ws = _client(server, rec)
        await ws.start()
        try:
            await server.wait(lambda: server.refused >= 3)
            assert not ws.connected and rec.states == []
            server.refuse = False
            await server.wait(lambda: rec.states == [True])
        finally:
            await ws.stop()
    warnings = [r for r in caplog.records if "ws_connect_failed" in r.getMessage()
                and r.levelname == "WARNING"]
    assert len(warnings) == 1            # the rest of the streak logs at debug
    ours = [r.getMessage() for r in caplog.records if r.name.endswith("comfy_ws")]
    assert ours and not any("clientId" in m for m in ours)


@pytest.mark.gen_test(timeout=10)
async def test_stop_during_a_long_backoff_returns_at_once():
    async with Server() as server:
        server.refuse = True
        rec = Recorder(server)
        ws = ComfyWebSocket(ws_url("http://127.0.0.1:%d" % server.port, "c"),
                            on_message=rec.on_message, on_state=rec.on_state,
                            retry=BackoffPolicy(60.0, 2.0, 60.0), ping_sec=5, connect_timeout=1)
        await ws.start()
        await server.wait(lambda: server.refused >= 1)
        started = time.monotonic()
        await ws.stop()
    assert time.monotonic() - started < 1.0


class SilentPeer:
    """Completes the websocket handshake, sends one status frame, then never answers
    anything (no pongs): a half-open connection as seen after a network drop."""

    def __init__(self) -> None:
        self.accepts = 0
        self.changed = asyncio.Event()
        self._writers: list = []

    async def __aenter__(self) -> "SilentPeer":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        for w in self._writers:
            w.close()
        self._server.close()

    async def _serve(self, reader, writer) -> None:
        import base64
        import hashlib
        self._writers.append(writer)
        head = await reader.readuntil(b"\r\n\r\n")
        key = [line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
               if line.lower().startswith(b"sec-websocket-key:")][0]
        accept = base64.b64encode(hashlib.sha1(
            key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        payload = json.dumps({"type": "status", "data": {}}).encode()
        writer.write(bytes([0x81, len(payload)]) + payload)
        await writer.drain()
        self.accepts += 1
        self.changed.set()
        while await reader.read(4096):      # swallow pings, never pong
            pass


@pytest.mark.gen_test(timeout=15)
async def test_peer_that_stops_answering_pings_is_dropped_and_redialled():
    """No pong within ping_sec: the keep-alive aborts the socket at once (no 5 s close
    handshake with a silent peer), we report down and dial again."""
    async with SilentPeer() as peer:
        states: list[bool] = []
        ws = ComfyWebSocket(ws_url("http://127.0.0.1:%d" % peer.port, "c"),
                            on_message=lambda m: None, on_state=states.append,
                            retry=BackoffPolicy(0.01, 2.0, 0.05), ping_sec=0.1,
                            connect_timeout=1)
        started = time.monotonic()
        await ws.start()
        try:
            async def second_accept() -> None:
                while peer.accepts < 2:
                    peer.changed.clear()
                    await peer.changed.wait()
            await asyncio.wait_for(second_accept(), 10)
        finally:
            await ws.stop()
    assert states[:2] == [True, False]
    assert time.monotonic() - started < 2.0     # 2 ping periods + backoff, plus slack
