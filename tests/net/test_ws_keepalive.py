"""Keep-alive against a peer that never answers pings: the connection is aborted
within the configured timeout (no 5 s close handshake) and the owner redials."""

from __future__ import annotations

import asyncio
import time

import pytest
from tornado.websocket import websocket_connect

from openclaw_connector.backoff import BackoffPolicy
from openclaw_connector.net.ws_keepalive import KeepAlive
from openclaw_connector.openclaw.comfy_ws import ComfyWebSocket, ws_url
from tests.fakes.silent_ws import SilentWs

INTERVAL = 0.03
TIMEOUT = 0.03
SLACK = 0.5         # scheduling on a busy CI box; still a tenth of the old 5 s wait


async def _read_until_closed(conn) -> None:
    while await conn.read_message() is not None:
        pass


@pytest.mark.gen_test(timeout=10)
async def test_silent_peer_is_aborted_within_the_timeout():
    """One ping goes unanswered: read_message() ends after interval + timeout."""
    async with SilentWs() as fake:
        conn = await websocket_connect(fake.url, ping_interval=None)
        alive = KeepAlive(conn, INTERVAL, TIMEOUT).start()
        started = time.monotonic()
        try:
            await asyncio.wait_for(_read_until_closed(conn), 5)
        finally:
            alive.stop()
            conn.close()
        elapsed = time.monotonic() - started
    assert alive.timed_out
    assert fake.pings >= 1
    assert conn.close_code is None          # aborted: no close frame was exchanged
    assert INTERVAL + TIMEOUT <= elapsed + 0.01 and elapsed < INTERVAL + TIMEOUT + SLACK


@pytest.mark.gen_test(timeout=10)
async def test_peer_that_answers_pings_is_kept():
    """Pongs keep the connection open across many ping periods."""
    async with SilentWs() as fake:
        fake.mute = False
        conn = await websocket_connect(fake.url, ping_interval=None)
        alive = KeepAlive(conn, INTERVAL, TIMEOUT).start()
        try:
            await fake.wait_pings(5)
            assert conn.protocol is not None and not conn.protocol.is_closing()
            assert not alive.timed_out
        finally:
            alive.stop()
            conn.close()


@pytest.mark.gen_test(timeout=10)
async def test_comfy_socket_redials_a_silent_peer_quickly():
    """The ComfyUI websocket reports down and dials again, well inside 5 s."""
    async with SilentWs() as fake:
        states: list[bool] = []
        ws = ComfyWebSocket(ws_url("http://127.0.0.1:%d" % fake.port, "c"),
                            on_message=lambda m: None, on_state=states.append,
                            retry=BackoffPolicy(0.01, 2.0, 0.05), ping_sec=INTERVAL,
                            connect_timeout=1)
        started = time.monotonic()
        await ws.start()
        try:
            await fake.wait_accepts(2)
        finally:
            await ws.stop()
        elapsed = time.monotonic() - started
    assert states[:2] == [True, False]
    assert elapsed < 2 * INTERVAL + 0.05 + SLACK     # ping, timeout, backoff cap
