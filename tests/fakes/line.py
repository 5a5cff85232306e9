"""Fake LINE Messaging API (platforms.md §3 "Fake-server checklist (LINE)").

Endpoints: ``POST /v2/bot/message/reply`` (a token table with expiry and
single use → 400 "Invalid reply token"; an ``X-Line-Retry-Key`` there → 400),
``POST /v2/bot/message/push`` (retry-key memory → 409 on replay),
``GET /v2/bot/info``; every call checks ``Authorization: Bearer``. Faults are
scripted with :meth:`FakeLine.fail`. ``delivered`` lists what a user would
see. Helpers build and sign webhook bodies the way LINE does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from collections import deque
from typing import Any, Optional

import tornado.web

from tests.fakes.downloads import Blob, BlobHandler
from tests.fakes.webhook_api import FakeAPI

BOT_USER_ID = "U" + "b0" * 16


# --------------------------------------------------------------------------- webhook side

def sign(body: bytes, channel_secret: str) -> str:
    """``X-Line-Signature`` for ``body``."""
    digest = hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def text_event(text: str, *, user_id: str = "U" + "a1" * 16, group_id: str = "",
               room_id: str = "", reply_token: str = "", event_id: str = "",
               redelivery: bool = False, mode: str = "active",
               message_id: str = "") -> dict:
    """A text message event as LINE posts it."""
    if group_id:
        source = {"type": "group", "groupId": group_id, "userId": user_id}
    elif room_id:
        source = {"type": "room", "roomId": room_id, "userId": user_id}
    else:
        source = {"type": "user", "userId": user_id}
    return {"type": "message", "mode": mode, "timestamp": int(time.time() * 1000),
            "source": source, "webhookEventId": event_id or "01H" + secrets.token_hex(12).upper(),
            "deliveryContext": {"isRedelivery": redelivery},
            "replyToken": reply_token or secrets.token_hex(16),
            "message": {"id": message_id or str(secrets.randbelow(10 ** 15)), "type": "text",
                        "quoteToken": secrets.token_hex(8), "text": text}}


def postback_event(data: str, *, user_id: str = "U" + "a1" * 16, group_id: str = "",
                   reply_token: str = "", event_id: str = "", redelivery: bool = False,
                   mode: str = "active") -> dict:
    """A postback event, as LINE posts it when a postback button is tapped
    (interactive.md §1.3: ``postback.data``, ``webhookEventId``, ``replyToken``)."""
    source = {"type": "group", "groupId": group_id, "userId": user_id} if group_id else \
        {"type": "user", "userId": user_id}
    return {"type": "postback", "mode": mode, "timestamp": int(time.time() * 1000),
            "source": source, "webhookEventId": event_id or "01H" + secrets.token_hex(12).upper(),
            "deliveryContext": {"isRedelivery": redelivery},
            "replyToken": reply_token or secrets.token_hex(16), "postback": {"data": data}}
def image_event(fake: "FakeLine", data: bytes, **kw: Any) -> dict:
    """An image message event (interactive.md §3.3: no caption, ``contentProvider``
    line); its bytes wait at the content API, behind the Bearer token."""
    event = text_event("", **kw)
    message = event["message"]
    del message["text"]
    message.update(type="image", contentProvider={"type": "line"})
    fake.contents[message["id"]] = Blob(data, "image/png", bearer=fake.access_token)
    return event


def body_of(*events: dict, destination: str = BOT_USER_ID) -> bytes:
    """A webhook body (compact JSON, non-ASCII kept as UTF-8 like LINE)."""
    return json.dumps({"destination": destination, "events": list(events)},
                      ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --------------------------------------------------------------------------- API side

class FakeLine(FakeAPI):
    """The LINE API. ``fail("push", 500, accept=True)`` simulates a lost response."""

    def __init__(self, *, access_token: str = "line-access-token",
                 delay: float = 0.0) -> None:
        super().__init__(delay=delay)
        self.access_token = access_token
        self.tokens: dict[str, dict] = {}
        self.accepted_keys: dict[str, str] = {}
        self.delivered: list[dict] = []          # {"api", "to", "messages"}
        self.sent_ids: list[list[str]] = []      # per delivered entry: its message ids
        self.faults: dict[str, deque] = {"reply": deque(), "push": deque()}
        self.accept_any_token = False
        self.loadings: list[dict] = []           # accepted loading/start bodies
        self.contents: dict[str, Blob] = {}      # message id -> a user's image (content API)

    def routes(self) -> list:
        return [(r"/v2/bot/message/(reply|push)", _MessageHandler, {"fake": self}),
                (r"/v2/bot/info", _InfoHandler, {"fake": self}),
                (r"/v2/bot/chat/loading/start", _LoadingHandler, {"fake": self}),
                (r"/v2/bot/message/([^/]+)/content", BlobHandler, {"blobs": self.contents}),
                (r"/_fake/stats", _StatsHandler, {"fake": self})]

    def issue_reply_token(self, to: str = "", ttl: float = 60.0) -> str:
        token = secrets.token_hex(16)
        self.tokens[token] = {"to": to, "expires": time.time() + ttl, "used": False}
        return token

    def expire_reply_tokens(self) -> None:
        for entry in self.tokens.values():
            entry["expires"] = 0.0

    def fail(self, api: str, status: int, message: str = "fake failure", *,
             times: int = 1, accept: bool = False, after: int = 0) -> None:
        """Answer the next ``times`` calls to ``api`` with ``status``; ``accept``
        delivers the message anyway (the response was "lost"); ``after`` lets that
        many calls through normally first."""
        self.faults[api].extend([None] * after)
        for _ in range(times):
            self.faults[api].append((status, message, accept))

    def deliver(self, entry: dict) -> list[dict]:
        """Record what a user now sees; LINE's ``sentMessages``: one ``{id, quoteToken}``
        per message, in order (the ids are also kept in ``sent_ids``)."""
        sent = [{"id": str(uuid.uuid4().int)[:18], "quoteToken": secrets.token_hex(8)}
                for _ in entry["messages"]]
        self.delivered.append(entry)
        self.sent_ids.append([m["id"] for m in sent])
        self.notify()
        return sent

    def texts(self) -> list[str]:
        return [m["text"] for d in self.delivered for m in d["messages"] if m["type"] == "text"]

    async def wait_delivered(self, count: int = 1, timeout: float = 5.0) -> list[dict]:
        return await self.wait_until(lambda: len(self.delivered) >= count, timeout=timeout,
                                     what="%d deliveries" % count,
                                     result=lambda: list(self.delivered))


class _Base(tornado.web.RequestHandler):
    def initialize(self, fake: FakeLine) -> None:
        self.fake = fake

    def answer(self, status: int, body: dict) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.set_header("x-line-request-id", str(uuid.uuid4()))
        self.finish(json.dumps(body))

    def authorized(self) -> bool:
        if self.request.headers.get("Authorization") != "Bearer %s" % self.fake.access_token:
            self.answer(401, {"message": "Authentication failed. Confirm that the access "
                                         "token in the authorization header is valid."})
            return False
        return True


class _MessageHandler(_Base):
    async def post(self, api: str) -> None:
        self.fake.record(self.request)
        await self.fake.pause()
        if not self.authorized():
            return
        try:
            body = json.loads(self.request.body)
            messages = body["messages"]
        except (ValueError, KeyError, TypeError):
            return self.answer(400, {"message": "The request body has 1 error(s)"})
        problem = _check_messages(messages)
        if problem:
            return self.answer(400, {"message": "The request body has 1 error(s)",
                                     "details": [{"message": problem, "property": "messages"}]})
        retry_key = self.request.headers.get("X-Line-Retry-Key")
        if api == "reply":
            return self._reply(body, messages, retry_key)
        return self._push(body, messages, retry_key)

    def _fault(self, api: str) -> Optional[tuple]:
        queue = self.fake.faults[api]
        return queue.popleft() if queue else None

    def _reply(self, body: dict, messages: list, retry_key: Optional[str]) -> None:
        if retry_key:
            return self.answer(400, {"message": "The retry key is not supported here"})
        fault = self._fault("reply")
        token = body.get("replyToken", "")
        entry = self.fake.tokens.get(token)
        if not self.fake.accept_any_token and (
                entry is None or entry["used"] or entry["expires"] < time.time()):
            return self.answer(400, {"message": "Invalid reply token"})
        if entry is not None:
            entry["used"] = True
        if fault and not fault[2]:
            return self.answer(fault[0], {"message": fault[1]})
        sent = self.fake.deliver({"api": "reply", "to": (entry or {}).get("to", ""),
                                  "messages": messages})
        if fault:
            return self.answer(fault[0], {"message": fault[1]})
        self.answer(200, {"sentMessages": sent})

    def _push(self, body: dict, messages: list, retry_key: Optional[str]) -> None:
        if retry_key and retry_key in self.fake.accepted_keys:
            self.set_header("x-line-accepted-request-id", self.fake.accepted_keys[retry_key])
            return self.answer(409, {"message": "The retry key is already accepted"})
        fault = self._fault("push")
        if fault and not fault[2]:
            return self.answer(fault[0], {"message": fault[1]})
        if not isinstance(body.get("to"), str) or not body["to"]:
            return self.answer(400, {"message": "The property, 'to', in the request body "
                                                "is invalid"})
        if retry_key:
            self.fake.accepted_keys[retry_key] = str(uuid.uuid4())
        sent = self.fake.deliver({"api": "push", "to": body["to"], "messages": messages})
        if fault:
            return self.answer(fault[0], {"message": fault[1]})
        self.answer(200, {"sentMessages": sent})


def _check_messages(messages: Any) -> str:
    if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
        return "Size must be between 1 and 5"
    for m in messages:
        if not isinstance(m, dict):
            return "Must be an object"
        if m.get("type") == "text":
            if not isinstance(m.get("text"), str) or not m["text"]:
                return "text is required"
            if len(m["text"].encode("utf-16-le")) // 2 > 5000:
                return "Length must be between 0 and 5000"
        elif m.get("type") == "template":
            problem = _check_template(m)
            if problem:
                return problem
        elif m.get("type") in ("image", "video"):     # video: mp4 + preview image (§4)
            for key in ("originalContentUrl", "previewImageUrl"):
                url = m.get(key)
                if not isinstance(url, str) or not url.startswith("https://") or len(url) > 2000:
                    return "%s must be an HTTPS URL" % key
        else:
            return "unsupported message type %r" % m.get("type")
    return ""


def _check_template(m: dict) -> str:
    """A buttons template (interactive.md §1.3): altText ≤400, text ≤160, 1-4 actions;
    a postback action has a label ≤20 and data ≤300."""
    template = m.get("template")
    if not isinstance(m.get("altText"), str) or not 1 <= len(m["altText"]) <= 400:
        return "altText must be 1-400 characters"
    if not isinstance(template, dict) or template.get("type") != "buttons":
        return "unsupported template"
    if not isinstance(template.get("text"), str) or not 1 <= len(template["text"]) <= 160:
        return "template.text must be 1-160 characters"
    actions = template.get("actions")
    if not isinstance(actions, list) or not 1 <= len(actions) <= 4:
        return "template.actions must hold 1-4 actions"
    for a in actions:
        if not isinstance(a, dict) or a.get("type") != "postback" or \
                not 1 <= len(str(a.get("label") or "")) <= 20 or \
                not 1 <= len(str(a.get("data") or "")) <= 300:
            return "invalid postback action"
    return ""


def postbacks(delivered: list) -> list[dict]:
    """Every postback action the bot sent, in order (``label``, ``data``)."""
    return [a for d in delivered for m in d["messages"] if m.get("type") == "template"
            for a in m["template"]["actions"]]


class _InfoHandler(_Base):
    def get(self) -> None:
        self.fake.record(self.request)
        if not self.authorized():
            return
        self.answer(200, {"userId": BOT_USER_ID, "basicId": "@123fake", "displayName":
                          "Fake LINE Bot", "chatMode": "bot", "markAsReadMode": "auto"})


class _StatsHandler(_Base):
    def get(self) -> None:
        self.answer(200, {"delivered": len(self.fake.delivered),
                          "requests": len(self.fake.requests)})


class _LoadingHandler(_Base):
    """``POST /v2/bot/chat/loading/start`` (interactive.md §2.3): a user id only (groups
    and rooms cannot be targeted), ``loadingSeconds`` 5-60 in steps of 5 → 202 ``{}``."""

    async def post(self) -> None:
        self.fake.record(self.request)
        if not self.authorized():
            return
        try:
            body = json.loads(self.request.body)
        except ValueError:
            return self.answer(400, {"message": "The request body has 1 error(s)"})
        chat, seconds = body.get("chatId"), body.get("loadingSeconds", 20)
        if not isinstance(chat, str) or not re.fullmatch(r"U[0-9a-f]{32}", chat):
            return self.answer(400, {"message": "The property, 'chatId', in the request "
                                                "body is invalid"})
        if not isinstance(seconds, int) or not 5 <= seconds <= 60 or seconds % 5:
            return self.answer(400, {"message": "The property, 'loadingSeconds', in the "
                                                "request body is invalid"})
        self.fake.loadings.append(body)
        self.fake.notify()
        self.answer(202, {})
