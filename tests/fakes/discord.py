"""A loopback Discord: REST (``/api/v10``) and the gateway websocket, scriptable.

A real Tornado server on 127.0.0.1:<ephemeral> that speaks enough of
platforms.md §2 for the DiscordChannel: ``GET /gateway/bot`` (url and a
``session_start_limit`` that can be exhausted and resets after
``limit_reset_after_ms``), ``GET /users/@me``, ``POST /channels/{id}/messages``
(JSON and multipart, bucket headers, scripted 429/5xx responses, nonce
dedupe), and the gateway: HELLO with a controllable ``heartbeat_interval``,
ACK, READY whose ``resume_gateway_url`` points back here (path ``/resume``),
RESUME with replay of missed dispatches then RESUMED, op 7, op 9 and closing
with any code. Everything the client does is recorded, and ``wait_for``
awaits a condition on those records (no sleeps).

Usage::

    fake = FakeDiscord(heartbeat_interval_ms=50); fake.start()
    ... cfg discord.api_base=fake.api_base, discord.token=fake.token ...
    await fake.wait_for(lambda: fake.identifies, what="identify")
    fake.message_create("/help")
    sent = await fake.next_send()
    fake.stop()
"""

from __future__ import annotations

import asyncio
import collections
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from tornado import web, websocket
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from openclaw_connector import log as logmod

TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAx.Gfake2.discordFakeTokenForTestsOnly0123456789xyz"
BOT_ID = "1000000000000000001"
BOT_NAME = "openclaw"
USER_ID = "1000000000000000004"
CHANNEL_ID = "1200000000000000002"
GUILD_ID = "1100000000000000003"


@dataclass(frozen=True)
class Response:
    """A scripted REST answer; ``body`` a dict (JSON), a str (sent as is) or None."""

    status: int
    body: Any = None
    headers: dict = field(default_factory=dict)


def rate_limited(retry_after: float, *, global_: bool = False) -> Response:
    """A Discord JSON 429 (bucket, or global when ``global_``)."""
    headers = {"Retry-After": str(max(1, int(retry_after + 0.999))), "Via": "1.1 google",
               "X-RateLimit-Scope": "global" if global_ else "user"}
    if global_:
        headers["X-RateLimit-Global"] = "true"
    else:
        headers.update({"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset-After": str(retry_after),
                        "X-RateLimit-Bucket": "msgbucket"})
    return Response(429, {"message": "You are being rate limited.",
                          "retry_after": retry_after, "global": global_}, headers)


def cloudflare_ban() -> Response:
    """A 429 with an HTML body and no ``Via``: Cloudflare, not Discord."""
    return Response(429, "<html><body>error code: 1015</body></html>",
                    {"Content-Type": "text/html"})


@dataclass
class SentMessage:
    """One ``POST /channels/{id}/messages`` as received."""

    channel_id: str
    payload: dict
    files: list          # [(field name, filename, content_type, bytes)]
    content_type: str
    at: float
    status: int = 200
    duplicate: bool = False

    @property
    def content(self) -> str:
        return str(self.payload.get("content") or "")

    @property
    def reference(self) -> Optional[str]:
        return (self.payload.get("message_reference") or {}).get("message_id")


@dataclass
class FakeSession:
    id: str
    seq: int = 0
    history: list = field(default_factory=list)
    invalidated: bool = False


@dataclass
class GatewayEvent:
    """An identify, resume or heartbeat the client sent."""

    at: float
    data: Any
    path: str
    conn: int


class FakeDiscord:
    """The fake server and its controls (see module docstring)."""

    def __init__(self, *, token: str = TOKEN, heartbeat_interval_ms: float = 50,
                 bot_id: str = BOT_ID, bot_name: str = BOT_NAME) -> None:
        self.token, self.bot_id, self.bot_name = token, bot_id, bot_name
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.limit_total, self.limit_remaining = 1000, 999
        self.limit_reset_after_ms = 86_400_000
        self._limit_reset_at: Optional[float] = None
        self.reject_identify_code: Optional[int] = None   # e.g. 4004, 4014
        self.resume_invalid = False     # answer RESUME with op 9 d=false
        self.replay_all = False         # replay the whole history on RESUME (duplicates)
        self.ack = True
        self.identifies: list[GatewayEvent] = []
        self.resumes: list[GatewayEvent] = []
        self.heartbeats: list[GatewayEvent] = []
        self.connections: list[tuple[float, str]] = []
        self.client_closes: list[Optional[int]] = []   # codes of closes the client began
        self.sends: list[SentMessage] = []
        self.gateway_bot_calls: list[float] = []
        self.unexpected: list[str] = []
        self.send_hooks: list[Callable[[SentMessage], None]] = []   # called per send
        self.sessions: dict[str, FakeSession] = {}
        self.session: Optional[FakeSession] = None
        self.live: Optional["_Gateway"] = None
        self._scripts: dict[str, collections.deque] = {}
        self._nonces: dict[tuple[str, str], dict] = {}
        self._waiters: list[tuple[Callable[[], Any], asyncio.Future]] = []
        self._server: Optional[HTTPServer] = None
        self._conns: list[_Gateway] = []
        self._next_id = 1300000000000000000
        self.port = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "FakeDiscord":
        sock, self.port = bind_unused_port()
        kw = {"fake": self}
        app = web.Application([
            (r"/api/v10/gateway/bot", _GatewayBot, kw),
            (r"/api/v10/users/@me", _Me, kw),
            (r"/api/v10/channels/(\d+)/messages", _Messages, kw),
            (r"/(gateway|resume)/?", _Gateway, kw),
            (r"/(.*)", _Unexpected, kw),
        ], log_function=logmod.access_log)
        self._server = HTTPServer(app)
        self._server.add_sockets([sock])
        return self

    def stop(self) -> None:
        for conn in list(self._conns):
            conn.server_closed = True
            conn.close()
        if self._server is not None:
            self._server.stop()

    async def __aenter__(self) -> "FakeDiscord":
        return self.start()

    async def __aexit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def api_base(self) -> str:
        return "http://127.0.0.1:%d/api/v10" % self.port

    @property
    def gateway_url(self) -> str:
        return "ws://127.0.0.1:%d/gateway" % self.port

    @property
    def resume_url(self) -> str:
        return "ws://127.0.0.1:%d/resume" % self.port

    # ------------------------------------------------------------------ waiting
    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0,
                       what: str = "condition") -> None:
        """Return once ``predicate()`` is true (re-checked on every recorded event)."""
        if predicate():
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, fut))
        try:
            await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise AssertionError("fake discord: timed out waiting for %s" % what) from None

    async def next_send(self, count: int = 1, timeout: float = 5.0) -> SentMessage:
        """The ``count``-th recorded message send (1-based)."""
        await self.wait_for(lambda: len(self.sends) >= count, timeout, "send #%d" % count)
        return self.sends[count - 1]

    def changed(self) -> None:
        for item in list(self._waiters):
            predicate, fut = item
            if fut.done():
                self._waiters.remove(item)
            elif predicate():
                fut.set_result(None)
                self._waiters.remove(item)

    # ------------------------------------------------------------------ controls
    def message_create(self, content: str, *, author_id: str = USER_ID,
                       channel_id: str = CHANNEL_ID, guild_id: Optional[str] = None,
                       bot: bool = False, mentions: tuple = (), msg_id: Optional[str] = None,
                       username: str = "alice", attachments: tuple = ()) -> dict:
        """Emit a MESSAGE_CREATE on the current session; returns its ``d``."""
        self._next_id += 1
        d: dict = {"id": msg_id or str(self._next_id), "channel_id": channel_id,
                   "author": {"id": author_id, "username": username, "bot": bot},
                   "content": content, "type": 0, "attachments": list(attachments),
                   "mentions": [{"id": m, "username": "x"} for m in mentions],
                   "timestamp": "2026-01-01T00:00:00.000000+00:00"}
        if guild_id is not None:
            d["guild_id"] = guild_id
        self.emit("MESSAGE_CREATE", d)
        return d

    def emit(self, event: str, data: Any) -> None:
        """Add a dispatch to the session history and send it if a healthy socket is up."""
        session = self.session
        assert session is not None, "no gateway session yet"
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.history.append(frame)
        live = self.live
        if live is not None and live.session is session and not live.zombie:
            live.send(frame)

    def zombie(self) -> None:
        """The current connection goes half-open: no ACKs, no dispatches delivered."""
        assert self.live is not None
        self.live.zombie = True

    def close(self, code: int, reason: str = "") -> None:
        """Close the current connection from the server side with ``code``."""
        assert self.live is not None
        self.live.server_closed = True
        self.live.close(code, reason or "fake close %d" % code)

    def send_op(self, op: int, d: Any = None) -> None:
        assert self.live is not None
        self.live.send({"op": op, "d": d, "s": None, "t": None})

    def script_send(self, channel_id: str, *responses: Response) -> None:
        """Answer the next sends to ``channel_id`` with ``responses``, in order."""
        self._scripts.setdefault(channel_id, collections.deque()).extend(responses)

    def open_session(self, events: int = 0) -> FakeSession:
        """A live session (as if a previous process identified), with ``events`` dispatches."""
        session = FakeSession(uuid.uuid4().hex)
        self.sessions[session.id] = session
        self.session = session
        for _ in range(events):
            self.message_create("hello there", guild_id=GUILD_ID)
        return session

    # ------------------------------------------------------------------ internals
    def gateway_bot(self) -> dict:
        now = time.monotonic()
        if self.limit_remaining <= 0:
            if self._limit_reset_at is None:
                self._limit_reset_at = now + self.limit_reset_after_ms / 1000.0
            elif now >= self._limit_reset_at:
                self.limit_remaining, self._limit_reset_at = self.limit_total, None
        reset_after = self.limit_reset_after_ms if self._limit_reset_at is None else \
            max(0, int((self._limit_reset_at - now) * 1000))
        return {"url": self.gateway_url, "shards": 1, "session_start_limit": {
            "total": self.limit_total, "remaining": self.limit_remaining,
            "reset_after": reset_after, "max_concurrency": 1}}

    def next_message_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def pop_script(self, channel_id: str) -> Optional[Response]:
        queue = self._scripts.get(channel_id)
        return queue.popleft() if queue else None

    def dedupe(self, channel_id: str, payload: dict, message: dict) -> Optional[dict]:
        """Discord's nonce dedupe: the earlier message for a repeated nonce."""
        nonce = payload.get("nonce")
        if not nonce or not payload.get("enforce_nonce"):
            return None
        key = (channel_id, str(nonce))
        if key in self._nonces:
            return self._nonces[key]
        self._nonces[key] = message
        return None


class _Base(web.RequestHandler):
    def initialize(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def authorized(self) -> bool:
        if self.request.headers.get("Authorization") == "Bot %s" % self.fake.token:
            return True
        self.set_status(401)
        self.finish({"message": "401: Unauthorized", "code": 0})
        return False

    def answer(self, response: Response) -> None:
        self.set_status(response.status)
        for name, value in response.headers.items():
            self.set_header(name, value)
        if isinstance(response.body, (dict, list)):
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(response.body))
        elif response.body is not None:
            self.finish(response.body)
        else:
            self.finish()


class _GatewayBot(_Base):
    def get(self) -> None:
        self.fake.gateway_bot_calls.append(time.monotonic())
        if self.authorized():
            self.finish(self.fake.gateway_bot())
        self.fake.changed()


class _Me(_Base):
    def get(self) -> None:
        if self.authorized():
            self.finish({"id": self.fake.bot_id, "username": self.fake.bot_name, "bot": True,
                         "discriminator": "0"})


class _Messages(_Base):
    def post(self, channel_id: str) -> None:
        fake = self.fake
        if not self.authorized():
            return
        ctype = self.request.headers.get("Content-Type", "")
        files: list = []
        if ctype.startswith("multipart/form-data"):
            payload = json.loads(self.get_body_argument("payload_json"))
            for name, items in self.request.files.items():
                for f in items:
                    files.append((name, f.filename, f.content_type, f.body))
            files.sort(key=lambda f: f[0])
        elif ctype.startswith("application/json"):
            payload = json.loads(self.request.body)
        else:
            self.answer(Response(400, {"code": 50035, "message": "Invalid Form Body"}))
            return
        sent = SentMessage(channel_id, payload, files, ctype, time.monotonic())
        fake.sends.append(sent)
        for hook in list(fake.send_hooks):
            hook(sent)
        scripted = fake.pop_script(channel_id)
        if scripted is not None:
            sent.status = scripted.status
            self.answer(scripted)
            fake.changed()
            return
        message = {"id": fake.next_message_id(), "channel_id": channel_id,
                   "content": payload.get("content", ""),
                   "author": {"id": fake.bot_id, "username": fake.bot_name, "bot": True},
                   "attachments": [{"id": str(i), "filename": f[1], "size": len(f[3])}
                                   for i, f in enumerate(files)]}
        earlier = fake.dedupe(channel_id, payload, message)
        if earlier is not None:
            sent.duplicate, message = True, earlier
        self.set_header("X-RateLimit-Bucket", "msgbucket")
        self.set_header("X-RateLimit-Limit", "5")
        self.set_header("X-RateLimit-Remaining", "4")
        self.set_header("X-RateLimit-Reset-After", "1.000")
        self.finish(message)
        fake.changed()


class _Unexpected(_Base):
    def _any(self, path: str) -> None:
        self.fake.unexpected.append("%s /%s" % (self.request.method, path))
        self.answer(Response(500, {"message": "fake discord: unscripted %s /%s" % (
            self.request.method, path)}))
        self.fake.changed()

    get = post = put = patch = delete = _any


class _Gateway(websocket.WebSocketHandler):
    def initialize(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.session: Optional[FakeSession] = None
        self.zombie = False
        self.server_closed = False
        self.path = ""
        self.number = 0

    def open(self, path: str) -> None:
        fake = self.fake
        self.path = path
        if self.get_query_argument("v", "") != "10" or \
                self.get_query_argument("encoding", "") != "json":
            fake.unexpected.append("gateway without ?v=10&encoding=json")
            self.close(4012, "invalid API version")
            return
        fake.connections.append((time.monotonic(), path))
        self.number = len(fake.connections)
        fake._conns.append(self)
        fake.live = self
        self.send({"op": 10, "d": {"heartbeat_interval": fake.heartbeat_interval_ms},
                   "s": None, "t": None})
        fake.changed()

    def send(self, frame: dict) -> None:
        try:
            self.write_message(json.dumps(frame))
        except websocket.WebSocketClosedError:
            pass

    def on_message(self, message: Any) -> None:
        fake = self.fake
        frame = json.loads(message)
        op, d = frame.get("op"), frame.get("d")
        event = GatewayEvent(time.monotonic(), d, self.path, self.number)
        if op == 1:
            fake.heartbeats.append(event)
            if fake.ack and not self.zombie:
                self.send({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            fake.identifies.append(event)
            self._identify(d)
        elif op == 6:
            fake.resumes.append(event)
            self._resume(d)
        else:
            fake.unexpected.append("gateway op %r" % op)
        fake.changed()

    def _identify(self, d: dict) -> None:
        fake = self.fake
        if d.get("token") != fake.token:
            self.server_closed = True
            self.close(4004, "Authentication failed.")
            return
        if fake.reject_identify_code is not None:
            self.server_closed = True
            self.close(fake.reject_identify_code, "Disallowed intent(s).")
            return
        fake.limit_remaining = max(0, fake.limit_remaining - 1)
        session = FakeSession(uuid.uuid4().hex)
        fake.sessions[session.id] = session
        fake.session = self.session = session
        fake.emit("READY", {"v": 10, "session_id": session.id, "guilds": [],
                            "resume_gateway_url": fake.resume_url,
                            "user": {"id": fake.bot_id, "username": fake.bot_name,
                                     "bot": True}})

    def _resume(self, d: dict) -> None:
        fake = self.fake
        session = fake.sessions.get(str(d.get("session_id")))
        if fake.resume_invalid or session is None or session.invalidated or \
                d.get("token") != fake.token:
            self.send({"op": 9, "d": False, "s": None, "t": None})
            return
        fake.session = self.session = session
        seq = d.get("seq") or 0
        for frame in session.history:
            if fake.replay_all or frame["s"] > seq:
                self.send(frame)
        fake.emit("RESUMED", None)

    def on_close(self) -> None:
        fake = self.fake
        if not self.server_closed:
            fake.client_closes.append(self.close_code)
        if self.close_code in (1000, 1001) and self.session is not None:
            self.session.invalidated = True
        if fake.live is self:
            fake.live = None
        if self in fake._conns:
            fake._conns.remove(self)
        fake.changed()


__all__ = ["FakeDiscord", "Response", "rate_limited", "cloudflare_ban", "SentMessage",
           "TOKEN", "BOT_ID", "BOT_NAME", "USER_ID", "CHANNEL_ID", "GUILD_ID", "httputil"]
