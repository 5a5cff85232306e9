"""The fake Discord's wire side: scripted responses, records and the Tornado handlers.

Split from tests/fakes/discord.py (the FakeDiscord object and its controls);
the handlers read and write that object's records and scripts.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from tornado import web, websocket

if TYPE_CHECKING:
    from tests.fakes.discord import FakeDiscord


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
class EditedMessage:
    """One ``PATCH /channels/{id}/messages/{message_id}`` as received and applied."""

    channel_id: str
    message_id: str
    payload: dict
    at: float
    files: list = field(default_factory=list)   # [(field, filename, type, bytes)]

    @property
    def content(self) -> str:
        return str(self.payload.get("content") or "")


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


class Base(web.RequestHandler):
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


class GatewayBot(Base):
    def get(self) -> None:
        self.fake.gateway_bot_calls.append(time.monotonic())
        if self.authorized():
            self.finish(self.fake.gateway_bot())
        self.fake.changed()


class Me(Base):
    def get(self) -> None:
        if self.authorized():
            self.finish({"id": self.fake.bot_id, "username": self.fake.bot_name, "bot": True,
                         "discriminator": "0"})


class Messages(Base):
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
        problem = _components_problem(payload.get("components"))
        if problem:
            sent.status = 400
            self.answer(Response(400, {"code": 50035, "message": "Invalid Form Body: %s"
                                       % problem}))
            fake.changed()
            return
        message = {"id": fake.next_message_id(), "channel_id": channel_id,
                   "content": payload.get("content", ""),
                   "components": payload.get("components") or [],
                   "author": {"id": fake.bot_id, "username": fake.bot_name, "bot": True},
                   "attachments": [{"id": str(i), "filename": f[1], "size": len(f[3])}
                                   for i, f in enumerate(files)]}
        earlier = fake.dedupe(channel_id, payload, message)
        if earlier is not None:
            sent.duplicate, message = True, earlier
        fake.messages[message["id"]] = message
        self.set_header("X-RateLimit-Bucket", "msgbucket")
        self.set_header("X-RateLimit-Limit", "5")
        self.set_header("X-RateLimit-Remaining", "4")
        self.set_header("X-RateLimit-Reset-After", "1.000")
        self.finish(message)
        fake.changed()


class Message(Base):
    """``PATCH /channels/{id}/messages/{message_id}``: edit content (interactive.md §2.2);
    404 code 10008 for a message the bot did not send in that channel. ``GET``: any
    message of that channel (the bot's, or one a user posted: interactive.md §3.2)."""

    def get(self, channel_id: str, message_id: str) -> None:
        fake = self.fake
        fake.fetched.append(message_id)
        if not self.authorized():
            return
        message = fake.messages.get(message_id) or fake.posted.get(message_id)
        if message is None or message["channel_id"] != channel_id:
            self.answer(Response(404, {"code": 10008, "message": "Unknown Message"}))
            return
        self.finish(message)
        fake.changed()

    def patch(self, channel_id: str, message_id: str) -> None:
        fake = self.fake
        if not self.authorized():
            return
        message = fake.messages.get(message_id)
        if message is None or message["channel_id"] != channel_id:
            self.answer(Response(404, {"code": 10008, "message": "Unknown Message"}))
            return
        files: list = []
        if self.request.headers.get("Content-Type", "").startswith("multipart/form-data"):
            # New files replace the attachments the payload does not list (§2.2).
            payload = json.loads(self.get_body_argument("payload_json"))
            files = sorted((name, f.filename, f.content_type, f.body)
                           for name, items in self.request.files.items() for f in items)
        else:
            payload = json.loads(self.request.body or b"{}")
        fake.edits.append(EditedMessage(channel_id, message_id, payload, time.monotonic(),
                                        files))
        if "content" in payload:
            message["content"] = payload["content"]
        if "components" in payload:
            problem = _components_problem(payload["components"])
            if problem:
                self.answer(Response(400, {"code": 50035, "message": "Invalid Form Body: %s"
                                           % problem}))
                return
            message["components"] = payload["components"] or []
        message["edited_timestamp"] = "2026-01-01T00:00:01.000000+00:00"
        self.finish(message)
        fake.changed()


def _components_problem(rows: Any) -> str:
    """Legacy components (interactive.md §1.2): ≤5 action rows (type 1) of ≤5 buttons
    (type 2), each with a 1-80 character label and a 1-100 character custom_id unique
    in the message; "" when fine."""
    if rows in (None, []):
        return ""
    if not isinstance(rows, list) or len(rows) > 5:
        return "components: at most 5 action rows"
    ids: set = set()
    for row in rows:
        buttons = row.get("components") if isinstance(row, dict) else None
        if row.get("type") != 1 or not isinstance(buttons, list) or not 1 <= len(buttons) <= 5:
            return "components: an action row holds 1-5 components"
        for b in buttons:
            cid = str(b.get("custom_id") or "")
            if b.get("type") != 2 or b.get("style") not in (1, 2, 3, 4) or \
                    not 1 <= len(cid) <= 100 or cid in ids or \
                    not 1 <= len(str(b.get("label") or "")) <= 80:
                return "components: invalid button"
            ids.add(cid)
    return ""


class Unexpected(Base):
    def _any(self, path: str) -> None:
        self.fake.unscripted("%s /%s" % (self.request.method, path))
        self.answer(Response(500, {"message": "fake discord: unscripted %s /%s" % (
            self.request.method, path)}))
        self.fake.changed()

    get = post = put = patch = delete = _any


class _FreezableProtocol(websocket.WebSocketProtocol13):
    """Tornado's RFC 6455 protocol; while the handler is ``frozen`` every frame is
    read and dropped: no pong, no close echo, no message (the peer vanished)."""

    def _handle_message(self, opcode: int, data: bytes) -> Any:
        if getattr(self.handler, "frozen", False):
            return None
        return super()._handle_message(opcode, data)


class Gateway(websocket.WebSocketHandler):
    def initialize(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.session: Optional[FakeSession] = None
        self.zombie = False
        self.frozen = False
        self.server_closed = False
        self.path = ""
        self.number = 0

    def get_websocket_protocol(self) -> Optional[websocket.WebSocketProtocol]:
        params = websocket._WebSocketParams(max_message_size=self.max_message_size)
        return _FreezableProtocol(self, mask_outgoing=False, params=params)

    def open(self, path: str) -> None:
        fake = self.fake
        self.path = path
        if self.get_query_argument("v", "") != "10" or \
                self.get_query_argument("encoding", "") != "json":
            fake.unscripted("gateway without ?v=10&encoding=json")
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
            fake.unscripted("gateway op %r" % op)
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
                            "application": {"id": fake.bot_id, "flags": 0},
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
