"""A tiny identity fake for ``--check`` and the footprint benchmark.

It is a real Tornado server on 127.0.0.1, ephemeral port, that
answers only what ``--check`` asks: OpenClaw ``/openclaw/health`` and
``/openclaw/approvals``, Telegram ``/bot<token>/getMe``, Discord
``/api/v10/users/@me`` and ``/gateway/bot``, LINE ``/line/v2/bot/info`` and
WhatsApp ``/v21.0/<phone_number_id>``. Each checks the credential the way the
real service does and records every request. (The full platform fakes live
in tests/fakes/; this one stays tiny so these tests do not depend on them.)
"""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass, field
from typing import Any

import tornado.httpserver
import tornado.web

# flatten() lived here; kept importable, it is the harness's now.
from tests.harness import flatten  # noqa: F401

TELEGRAM_TOKEN = "123456789:AAHfakeTelegramTokenForTests_0123456789"
DISCORD_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.Gfake1.discordTokenForTestsOnly0123456789abc"
LINE_TOKEN = "line-access-token-for-tests-0123456789"
LINE_SECRET = "line-channel-secret-0123456789"
WA_TOKEN = "EAAGfakeWhatsAppAccessTokenForTests0123456789"
WA_VERIFY = "wa-verify-token-0123"
WA_PHONE_ID = "106540352242922"
ADMIN_TOKEN = "openclaw-admin-token-0123456789"
SECRETS = (TELEGRAM_TOKEN, DISCORD_TOKEN, LINE_TOKEN, LINE_SECRET, WA_TOKEN, WA_VERIFY,
           ADMIN_TOKEN)


@dataclass
class Expect:
    """What the fake accepts; tests change these to script a wrong credential."""

    telegram: str = TELEGRAM_TOKEN
    discord: str = DISCORD_TOKEN
    line: str = LINE_TOKEN
    whatsapp: str = WA_TOKEN
    phone_id: str = WA_PHONE_ID
    admin: str = ADMIN_TOKEN
    health_status: int = 200
    discord_remaining: int = 998
    hang_telegram: bool = False
    release: asyncio.Event = field(default_factory=asyncio.Event)
    requests: list = field(default_factory=list)


class _Base(tornado.web.RequestHandler):
    def initialize(self, expect: Expect) -> None:
        self.expect = expect

    def prepare(self) -> None:
        self.expect.requests.append((self.request.method, self.request.uri,
                                     dict(self.request.headers)))

    def reply(self, status: int, body: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def bearer(self, scheme: str = "Bearer") -> str:
        value = self.request.headers.get("Authorization", "")
        return value[len(scheme) + 1:] if value.startswith(scheme + " ") else ""

    def log_exception(self, *args: Any) -> None:  # keep test output quiet
        pass


class Health(_Base):
    def get(self) -> None:
        if self.expect.health_status != 200:
            return self.reply(self.expect.health_status, {"error": "boom"})
        self.reply(200, {"ok": True, "pack": {"name": "ComfyUI-OpenClaw", "version": "1.0.7"},
                         "startup": {"ready": True}})


class Approvals(_Base):
    def get(self) -> None:
        if self.request.headers.get("X-OpenClaw-Admin-Token", "") != self.expect.admin:
            return self.reply(403, {"error": "Invalid admin token."})
        self.reply(200, {"tenant_id": "default", "approvals": [], "count": 0,
                         "pending_count": 2})


class GetMe(_Base):
    async def get(self, token: str) -> None:
        if self.expect.hang_telegram:  # a half-open connection: never answers until released
            await self.expect.release.wait()
        if token != self.expect.telegram:
            return self.reply(401, {"ok": False, "error_code": 401,
                                    "description": "Unauthorized"})
        self.reply(200, {"ok": True, "result": {"id": 123456789, "is_bot": True,
                                                "first_name": "Comfy", "username": "comfy_bot"}})


class DiscordMe(_Base):
    def get(self) -> None:
        if self.bearer("Bot") != self.expect.discord:
            return self.reply(401, {"message": "401: Unauthorized", "code": 0})
        self.reply(200, {"id": "80351110224678912", "username": "comfybot", "bot": True})


class DiscordGateway(_Base):
    def get(self) -> None:
        if self.bearer("Bot") != self.expect.discord:
            return self.reply(401, {"message": "401: Unauthorized", "code": 0})
        self.reply(200, {"url": "wss://gateway.invalid", "shards": 1, "session_start_limit": {
            "total": 1000, "remaining": self.expect.discord_remaining,
            "reset_after": 3600000 * 5, "max_concurrency": 1}})


class LineInfo(_Base):
    def get(self) -> None:
        if self.bearer() != self.expect.line:
            return self.reply(401, {"message": "Authentication failed. Confirm that the access "
                                    "token in the authorization header is valid."})
        self.reply(200, {"userId": "Ub0000000000000000000000000000000", "basicId": "@123abcde",
                         "displayName": "Comfy", "chatMode": "bot"})


class WaPhone(_Base):
    def get(self, phone_id: str) -> None:
        if self.bearer() != self.expect.whatsapp:
            return self.reply(401, {"error": {"message": "Invalid OAuth access token.",
                                              "type": "OAuthException", "code": 190}})
        if phone_id != self.expect.phone_id:
            return self.reply(400, {"error": {
                "message": "Unsupported get request. Object with ID '%s' does not exist" % phone_id,
                "type": "GraphMethodException", "code": 100, "error_subcode": 33}})
        self.reply(200, {"verified_name": "Comfy Studio", "display_phone_number": "+1 555-000-1111",
                         "id": phone_id, "quality_rating": "GREEN"})


def identity_app(expect: Expect) -> tornado.web.Application:
    kw = {"expect": expect}
    return tornado.web.Application([
        (r"/openclaw/health", Health, kw),
        (r"/openclaw/approvals", Approvals, kw),
        (r"/bot([^/]+)/getMe", GetMe, kw),
        (r"/api/v10/users/@me", DiscordMe, kw),
        (r"/api/v10/gateway/bot", DiscordGateway, kw),
        (r"/line/v2/bot/info", LineInfo, kw),
        (r"/v21.0/([^/]+)", WaPhone, kw),
    ], log_function=lambda handler: None)


@dataclass
class RunningFake:
    url: str
    expect: Expect


def start(expect: Expect | None = None) -> tuple[str, Expect, tornado.httpserver.HTTPServer]:
    """Listen on 127.0.0.1:<ephemeral> on the current IOLoop; returns (url, expect, server)."""
    expect = expect or Expect()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    server = tornado.httpserver.HTTPServer(identity_app(expect))
    server.add_sockets([sock])
    return "http://127.0.0.1:%d" % sock.getsockname()[1], expect, server


def closed_port_url() -> str:
    """A loopback URL where nothing listens (bound, then closed)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return "http://127.0.0.1:%d" % port


def all_channels_yaml(url: str, state_dir: str, **extra: Any) -> dict:
    """A config dict with all four channels pointed at ``url``."""
    data = {
        "state_dir": state_dir,
        "openclaw": {"url": url, "admin_token": ADMIN_TOKEN, "timeout_sec": 2},
        "telegram": {"token": TELEGRAM_TOKEN, "api_base": url},
        "discord": {"token": DISCORD_TOKEN, "api_base": url + "/api/v10"},
        "line": {"channel_secret": LINE_SECRET, "channel_access_token": LINE_TOKEN,
                 "api_base": url + "/line"},
        "whatsapp": {"access_token": WA_TOKEN, "verify_token": WA_VERIFY,
                     "app_secret": "identity-fake-app-secret",
                     "phone_number_id": WA_PHONE_ID, "api_base": url + "/v21.0"},
        "media": {"public_base_url": "https://tunnel.example.test"},
    }
    for dotted, value in extra.items():
        section, key = dotted.split("__")
        data[section][key] = value
    return data
