"""Helpers for the webhook tests: the LINE/WhatsApp stack run directly
(StateStore + MediaStore + WebServers + channel) against the API fakes, or a
whole in-process Daemon; a client that posts signed bodies. Waiting is on
events with timeouts, never sleeps."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Optional

from tornado.httpclient import AsyncHTTPClient, HTTPRequest, HTTPResponse

from openclaw_connector import config as configmod
from openclaw_connector.net.transport import HTTPTransport
from openclaw_connector.media import MediaStore
from openclaw_connector.messages import Inbound, Reply
from openclaw_connector.metrics import Metrics
from openclaw_connector.state import StateStore
from openclaw_connector.web import WebServers
from tests.fakes import line as fline
from tests.fakes import whatsapp as fwa
from tests.harness import (Inbox, channel_deps, dotted, free_port,  # noqa: F401 (re-exported)
                           make_config, webhook_url)

LINE_SECRET = "line-channel-secret-0123456789"
LINE_TOKEN = "line-access-token-abcdefghijklmnop"
WA_SECRET = "wa-app-secret-0123456789abcdef"
WA_TOKEN = "wa-access-token-abcdefghijklmnop"
WA_VERIFY = "wa-verify-token-5ecret"
ADMIN_TOKEN = "admin-token-for-media-signing"
PUBLIC = "https://bot.example.test"
ALICE_LINE = "U" + "a1" * 16
BOB_LINE = "U" + "b2" * 16
GROUP = "C" + "c3" * 16
ALICE_WA = "15551234567"
SECRETS = (LINE_SECRET, LINE_TOKEN, WA_SECRET, WA_TOKEN, WA_VERIFY, ADMIN_TOKEN)


def webhook_config(tmp_path: Any, *, line: Optional[fline.FakeLine] = None,
                   wa: Optional[fwa.FakeWhatsApp] = None, public: bool = True,
                   **overrides: Any):
    """A Config with the given channels on, pointed at the fakes, both on
    127.0.0.1 port 0 (so they share one server)."""
    values: dict = {"openclaw.admin_token": ADMIN_TOKEN}
    if public:
        values["media.public_base_url"] = PUBLIC
    if line is not None:
        values.update({"line.channel_secret": LINE_SECRET,
                       "line.channel_access_token": LINE_TOKEN, "line.api_base": line.url,
                       "line.allowed_users": [ALICE_LINE], "line.allowed_groups": [GROUP]})
    if wa is not None:
        values.update({"whatsapp.access_token": WA_TOKEN, "whatsapp.verify_token": WA_VERIFY,
                       "whatsapp.app_secret": WA_SECRET,
                       "whatsapp.phone_number_id": wa.phone_number_id,
                       "whatsapp.api_base": wa.api_base,
                       "whatsapp.allowed_users": [ALICE_WA]})
    values.update(dotted(**overrides))
    cfg = make_config(str(tmp_path / "state"), **values)
    # Port 0 is not a valid configured port; tests set it after validation.
    return configmod.with_overrides(cfg, line={"port": 0}, whatsapp={"port": 0})


@dataclass
class Stack:
    cfg: Any
    state: StateStore
    media: MediaStore
    web: WebServers
    http: HTTPTransport
    metrics: Metrics
    channels: dict

    def url(self, platform: str, path: Optional[str] = None) -> str:
        return webhook_url(self, platform, path)


@contextlib.asynccontextmanager
async def running_stack(cfg: Any, inbox: Inbox, *,
                        health: Callable[[], tuple] = lambda: (200, {"ok": True})
                        ) -> AsyncIterator[Stack]:
    """State, media, web and the enabled webhook channels, started like the daemon."""
    from openclaw_connector.channels.line import LineChannel
    from openclaw_connector.channels.whatsapp import WhatsAppChannel

    state = StateStore(cfg.state_dir)
    state.open()
    metrics = Metrics()
    media = MediaStore(cfg.media, cfg.state_dir, cfg.openclaw.admin_token, state)
    web = WebServers(cfg, media=media, health=health, metrics=metrics)
    deps = channel_deps(cfg, state, metrics=metrics, media=media, web=web)
    http = deps.http                # the daemon's own: keep-alive pool, proxy rules
    channels: dict = {}
    if cfg.line.on:
        channels["line"] = LineChannel(cfg.line, inbox, deps)
    if cfg.whatsapp.on:
        channels["whatsapp"] = WhatsAppChannel(cfg.whatsapp, inbox, deps)
    await media.start()
    await web.start()
    for channel in channels.values():
        await channel.start()
    try:
        yield Stack(cfg, state, media, web, http, metrics, channels)
    finally:
        await web.stop()
        for channel in channels.values():
            await channel.stop()
        await media.stop()
        http.close()
        state.close()


def echo(stack_ref: list, prefix: str = "echo: ") -> Callable[[Inbound], Awaitable[None]]:
    """A behaviour that answers every Inbound with ``prefix + text`` via its channel."""
    async def _answer(inbound: Inbound) -> None:
        stack = stack_ref[0]
        await stack.channels[inbound.platform].send(inbound.chat, Reply(prefix + inbound.text))
    return _answer


async def post(url: str, body: bytes, headers: Optional[dict] = None, *,
               client: Optional[AsyncHTTPClient] = None) -> HTTPResponse:
    """POST ``body`` and return the response whatever its status."""
    own = client is None
    client = client or AsyncHTTPClient(force_instance=True)
    try:
        return await client.fetch(HTTPRequest(url, method="POST", body=body,
                                              headers=headers or {}, connect_timeout=5,
                                              request_timeout=5), raise_error=False)
    finally:
        if own:
            client.close()


async def get(url: str, **kw: Any) -> HTTPResponse:
    client = AsyncHTTPClient(force_instance=True)
    try:
        return await client.fetch(HTTPRequest(url, connect_timeout=5, request_timeout=5, **kw),
                                  raise_error=False)
    finally:
        client.close()


async def post_line(stack_url: str, body: bytes, *, secret: str = LINE_SECRET,
                    signature: Optional[str] = None) -> HTTPResponse:
    sig = fline.sign(body, secret) if signature is None else signature
    headers = {"Content-Type": "application/json"}
    if sig:
        headers["X-Line-Signature"] = sig
    return await post(stack_url, body, headers)


async def post_wa(stack_url: str, payload: Any, *, secret: Optional[str] = WA_SECRET,
                  raw: Optional[bytes] = None) -> HTTPResponse:
    body = raw if raw is not None else fwa.body_of(payload)
    headers = {"Content-Type": "application/json"}
    if secret:
        headers["X-Hub-Signature-256"] = fwa.sign(body, secret)
    return await post(stack_url, body, headers)


async def raw_exchange(port: int, request: bytes, *, timeout: float = 5.0) -> bytes:
    """Send raw bytes, return what the server answers until it closes or times out."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        chunks = []

        async def _read() -> None:
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                chunks.append(data)
                if b"\r\n\r\n" in b"".join(chunks):
                    head, _sep, rest = b"".join(chunks).partition(b"\r\n\r\n")
                    length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:")]
                    if length and len(rest) >= length[0]:
                        return
        await asyncio.wait_for(_read(), timeout)
        return b"".join(chunks)
    finally:
        writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await writer.wait_closed()


def dumps(payload: Any) -> bytes:
    return json.dumps(payload).encode()
