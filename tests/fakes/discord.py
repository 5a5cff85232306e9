"""A loopback Discord: REST (``/api/v10``) and the gateway websocket, scriptable.

A real Tornado server on 127.0.0.1:<ephemeral> that speaks enough of
platforms.md §2 for the DiscordChannel: ``GET /gateway/bot`` (url and a
``session_start_limit`` that can be exhausted and resets after
``limit_reset_after_ms``), ``GET /users/@me``, ``POST /channels/{id}/messages``
(JSON and multipart, bucket headers, scripted 429/5xx responses, nonce
dedupe), ``PATCH /channels/{id}/messages/{message_id}`` (edits, recorded in
``edits``), and the gateway: HELLO with a controllable ``heartbeat_interval``,
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
import time
import urllib.parse
import uuid
from typing import Any, Callable, Optional

from tornado import web
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from openclaw_connector import log as logmod
from tests.fakes import discord_interactions
from tests.fakes.downloads import Blob, BlobHandler
from tests.fakes.discord_interactions import Interaction
from tests.fakes.discord_wire import EditedMessage, FakeSession, Gateway, GatewayBot, \
    GatewayEvent, Me, Message, Messages, Response, SentMessage, Unexpected, cloudflare_ban, \
    rate_limited
from tests.fakes.scripted import ScriptedFake

TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAx.Gfake2.discordFakeTokenForTestsOnly0123456789xyz"
BOT_ID = "1000000000000000001"
BOT_NAME = "openclaw"
USER_ID = "1000000000000000004"
CHANNEL_ID = "1200000000000000002"
GUILD_ID = "1100000000000000003"


class FakeDiscord(ScriptedFake):
    """The fake server and its controls (see module docstring)."""

    def __init__(self, *, token: str = TOKEN, heartbeat_interval_ms: float = 50,
                 bot_id: str = BOT_ID, bot_name: str = BOT_NAME) -> None:
        super().__init__()
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
        self.messages: dict[str, dict] = {}          # id → message the bot posted
        self.edits: list[EditedMessage] = []
        self.gateway_bot_calls: list[float] = []
        self.command_puts: list[tuple] = []            # (app id, guild id, body, problem)
        self.guild_commands: dict[str, list] = {}      # guild id -> registered commands
        self.interactions: dict[str, Interaction] = {}
        self.send_hooks: list[Callable[[SentMessage], None]] = []   # called per send
        self.sessions: dict[str, FakeSession] = {}
        self.session: Optional[FakeSession] = None
        self.live: Optional["Gateway"] = None
        self._scripts: dict[str, collections.deque] = {}
        self._nonces: dict[tuple[str, str], dict] = {}
        self._waiters: list[tuple[Callable[[], Any], asyncio.Future]] = []
        self._server: Optional[HTTPServer] = None
        self._conns: list[Gateway] = []
        self._next_id = 1300000000000000000
        self.port = 0
        self.attachments: dict[str, Blob] = {}   # the CDN: users' files (attachment())
        self.posted: dict[str, dict] = {}        # id -> message a user posted (message_create)
        self.fetched: list[str] = []             # message ids the bot GET

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "FakeDiscord":
        sock, self.port = bind_unused_port()
        kw = {"fake": self}
        app = web.Application([
            (r"/api/v10/gateway/bot", GatewayBot, kw),
            (r"/api/v10/users/@me", Me, kw),
            (r"/api/v10/channels/(\d+)/messages", Messages, kw),
            (r"/api/v10/channels/(\d+)/messages/(\d+)", Message, kw),
            *[(pattern, handler, kw) for pattern, handler in discord_interactions.ROUTES],
            (r"/(gateway|resume)/?", Gateway, kw),
            (r"/attachments/(.+)", BlobHandler, {"blobs": self.attachments,
                                                 "changed": self.changed}),
            (r"/(.*)", Unexpected, kw),
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
                       username: str = "alice", attachments: tuple = (),
                       extra: Optional[dict] = None) -> dict:
        """Emit a MESSAGE_CREATE on the current session; returns its ``d``."""
        self._next_id += 1
        d: dict = {"id": msg_id or str(self._next_id), "channel_id": channel_id,
                   "author": {"id": author_id, "username": username, "bot": bot},
                   "content": content, "type": 0, "attachments": list(attachments),
                   "mentions": [{"id": m, "username": "x"} for m in mentions],
                   "timestamp": "2026-01-01T00:00:00.000000+00:00"}
        if guild_id is not None:
            d["guild_id"] = guild_id
        d.update(extra or {})
        self.posted[d["id"]] = d
        self.emit("MESSAGE_CREATE", d)
        return d

    def attachment(self, data: bytes, filename: str = "photo.png",
                   content_type: Optional[str] = "image/png", *,
                   announce_length: bool = True) -> dict:
        """Store a user's file on the fake CDN; the attachment object a message carries
        (interactive.md §3.2: id, filename, content_type?, size, url, proxy_url; the
        URL is signed with ``ex``/``is``/``hm``)."""
        self._next_id += 1
        key = "%d/%s" % (self._next_id, filename)
        self.attachments[key] = Blob(data, content_type or "application/octet-stream",
                                     announce_length)
        url = "http://127.0.0.1:%d/attachments/%s?ex=6a0b1c2d&is=6a09caad&hm=%s" % (
            self.port, urllib.parse.quote(key), "ab" * 32)
        item = {"id": str(self._next_id), "filename": filename, "size": len(data),
                "url": url, "proxy_url": url, "width": 640, "height": 480}
        if content_type is not None:
            item["content_type"] = content_type
        return item

    def interaction_create(self, name: str, text: Optional[str] = None, *,
                           user_id: str = USER_ID, channel_id: str = CHANNEL_ID,
                           guild_id: Optional[str] = GUILD_ID,
                           image: Optional[dict] = None) -> Interaction:
        """Emit an INTERACTION_CREATE (type 2, a slash command with an optional "text"
        option) as a user invoking ``/name text``; returns its record.

        ``image`` (an ``attachment()`` object) fills the ATTACHMENT option ``image``
        as Discord does (interactive.md §5.2): the option's value is the attachment
        id, the object is in ``data.resolved.attachments[<id>]``. Discord only lets
        a user fill an option the command declares, so the command registered for
        the guild must have that option."""
        self._next_id += 1
        iid = str(self._next_id)
        d: dict = {"id": iid, "application_id": self.bot_id, "type": 2,
                   "token": "aW50ZXJhY3Rpb246" + uuid.uuid4().hex, "version": 1,
                   "channel_id": channel_id, "locale": "en-US",
                   "data": {"id": "901", "name": name, "type": 1}}
        options: list[dict] = []
        if text is not None:
            options.append({"name": "text", "type": 3, "value": text})
        if image is not None:
            declared = [o for c in self.guild_commands.get(guild_id or "", ())
                        if c.get("name") == name for o in c.get("options") or ()]
            assert {"name": "image", "type": 11} in [
                {"name": o.get("name"), "type": o.get("type")} for o in declared], \
                "/%s has no ATTACHMENT option 'image' registered: %r" % (name, declared)
            options.append({"name": "image", "type": 11, "value": image["id"]})
            d["data"]["resolved"] = {"attachments": {image["id"]: image}}
        if options:
            d["data"]["options"] = options
        return self._emit_interaction(d, user_id, guild_id)

    def component_click(self, message_id: str, custom_id: str, *, user_id: str = USER_ID,
                        channel_id: str = CHANNEL_ID,
                        guild_id: Optional[str] = GUILD_ID) -> Interaction:
        """Emit an INTERACTION_CREATE of type 3 (MESSAGE_COMPONENT): ``user_id`` presses
        the button ``custom_id`` on the bot's message ``message_id`` (interactive.md
        §1.2); returns its record (callback checked like a slash command's)."""
        self._next_id += 1
        iid = str(self._next_id)
        message = dict(self.messages.get(message_id) or {"id": message_id,
                                                         "channel_id": channel_id})
        d: dict = {"id": iid, "application_id": self.bot_id, "type": 3,
                   "token": "aW50ZXJhY3Rpb246" + uuid.uuid4().hex, "version": 1,
                   "channel_id": channel_id, "channel": {"id": channel_id, "type": 0},
                   "locale": "en-US", "message": message,
                   "data": {"custom_id": custom_id, "component_type": 2}}
        return self._emit_interaction(d, user_id, guild_id)

    def _emit_interaction(self, d: dict, user_id: str,
                          guild_id: Optional[str]) -> Interaction:
        """Add who acted (a guild member or a DM user), record it, emit it."""
        user = {"id": user_id, "username": "alice"}
        if guild_id is not None:
            d["guild_id"], d["member"] = guild_id, {"user": user, "roles": []}
        else:
            d["user"] = user
        item = self.interactions[d["id"]] = Interaction(d["id"], d["token"],
                                                        time.monotonic(), d)
        self.emit("INTERACTION_CREATE", d)
        return item

    def buttons(self, message_id: str) -> list[dict]:
        """The buttons the bot's message shows now, row after row."""
        rows = (self.messages.get(message_id) or {}).get("components") or []
        return [b for row in rows for b in row.get("components") or ()]

    def guild_create(self, guild_id: str = GUILD_ID, channel_ids: tuple = (CHANNEL_ID,)) -> None:
        """Emit a GUILD_CREATE (as the gateway does after READY) with these text channels."""
        self.emit("GUILD_CREATE", {"id": guild_id, "name": "home", "unavailable": False,
                                   "channels": [{"id": c, "type": 0, "name": "c%s" % c[-3:]}
                                                for c in channel_ids], "threads": []})

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

    def zombie(self, *, frozen: bool = False) -> None:
        """The current connection goes half-open: no ACKs, no dispatches delivered.
        ``frozen``: it answers nothing at all, no pong and no close handshake either
        (the peer is gone, no FIN came), so only dropping the socket ends it."""
        assert self.live is not None
        self.live.zombie = True
        self.live.frozen = frozen

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


__all__ = ["FakeDiscord", "Response", "rate_limited", "cloudflare_ban", "SentMessage",
           "EditedMessage",
           "GatewayEvent", "FakeSession", "TOKEN", "BOT_ID", "BOT_NAME", "USER_ID",
           "CHANNEL_ID", "GUILD_ID"]
