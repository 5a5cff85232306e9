"""Fake WhatsApp Cloud API (platforms.md §4 "Fake-server checklist (WhatsApp)").

Endpoints (under ``{fake.url}/v21.0``, the configured ``api_base``):
``POST /{phone_number_id}/messages`` (validates the body, answers the 200
acceptance envelope with a fresh wamid) and ``GET /{phone_number_id}`` (the
number's identity); both check ``Authorization: Bearer``. Error envelopes
(130429, 131056, 190, 5xx) are scripted with :meth:`FakeWhatsApp.fail`.
Helpers build and sign notification bodies the way Meta does.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import time
from collections import deque
from typing import Any, Optional

import tornado.web

from tests.fakes.downloads import Blob, BlobHandler
from tests.fakes.webhook_api import FakeAPI

VERSION = "v21.0"
PHONE_NUMBER_ID = "123456789012345"


# --------------------------------------------------------------------------- webhook side

def sign(body: bytes, app_secret: str) -> str:
    """``X-Hub-Signature-256`` for ``body``."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def text_message(wa_id: str, text: str, *, wamid: str = "",
                 timestamp: Optional[float] = None) -> dict:
    return {"from": wa_id, "id": wamid or "wamid.HBgL" + secrets.token_hex(12).upper(),
            "timestamp": str(int(timestamp if timestamp is not None else time.time())),
            "type": "text", "text": {"body": text}}


def button_reply(wa_id: str, button_id: str, *, title: str = "Approve", context_id: str = "",
                 wamid: str = "", timestamp: Optional[float] = None) -> dict:
    """A tap on an interactive reply button (interactive.md §1.4 ``button_reply``)."""
    return {"context": {"from": "15550001111", "id": context_id or "wamid.CTX"},
            "from": wa_id, "id": wamid or "wamid.HBgL" + secrets.token_hex(12).upper(),
            "timestamp": str(int(timestamp if timestamp is not None else time.time())),
            "type": "interactive",
            "interactive": {"type": "button_reply",
                            "button_reply": {"id": button_id, "title": title}}}


def reply_buttons(body: dict) -> list[dict]:
    """The reply buttons (``id``, ``title``) of an interactive message body."""
    if body.get("type") != "interactive":
        return []
    return [b["reply"] for b in body["interactive"]["action"]["buttons"]]


def status(wamid: str, state: str, recipient: str, *, code: Optional[int] = None) -> dict:
    item = {"id": wamid, "status": state, "timestamp": str(int(time.time())),
            "recipient_id": recipient}
    if code is not None:
        item["errors"] = [{"code": code, "title": "Re-engagement message"
                           if code == 131047 else "error %d" % code}]
    return item


def notification(*, messages: tuple = (), statuses: tuple = (),
                 phone_number_id: str = PHONE_NUMBER_ID, name: str = "Alice") -> dict:
    value: dict = {"messaging_product": "whatsapp",
                   "metadata": {"display_phone_number": "15550001111",
                                "phone_number_id": phone_number_id}}
    if messages:
        value["contacts"] = [{"profile": {"name": name}, "wa_id": m["from"]} for m in messages]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"field": "messages",
                                                             "value": value}]}]}


def body_of(payload: dict) -> bytes:
    """Meta sends escaped-unicode JSON; the signature covers exactly these bytes."""
    return json.dumps(payload, separators=(",", ":")).encode("ascii")


# --------------------------------------------------------------------------- API side

class FakeWhatsApp(FakeAPI):
    """The Graph API for one phone number. ``sent`` lists accepted message bodies."""

    def __init__(self, *, access_token: str = "wa-access-token",
                 phone_number_id: str = PHONE_NUMBER_ID, delay: float = 0.0) -> None:
        super().__init__(delay=delay)
        self.access_token = access_token
        self.phone_number_id = phone_number_id
        self.sent: list[dict] = []
        self.wamids: list[str] = []
        self.reads: list[dict] = []              # mark-read (+ typing) bodies accepted
        self.faults: deque = deque()
        self._ids = itertools.count(1)
        self.media: dict[str, Blob] = {}          # media id -> a user's file (image_message)

    @property
    def api_base(self) -> str:
        return "%s/%s" % (self.url, VERSION)

    def routes(self) -> list:
        return [(r"/%s/(\d+)/messages" % VERSION, _MessagesHandler, {"fake": self}),
                (r"/_media/(\d+)", BlobHandler, {"blobs": self.media}),
                (r"/%s/(\d+)" % VERSION, _NumberHandler, {"fake": self})]

    def fail(self, http_status: int, code: int, message: str = "fake error", *,
             times: int = 1, after: int = 0) -> None:
        """Answer the next ``times`` sends with a Graph error envelope (``after`` lets
        that many sends through normally first)."""
        self.faults.extend([None] * after)
        for _ in range(times):
            self.faults.append((http_status, code, message))

    def texts(self) -> list[str]:
        """What the user reads: text bodies and interactive messages' body texts."""
        return [b["text"]["body"] if b.get("type") == "text" else b["interactive"]["body"]["text"]
                for b in self.sent if b.get("type") in ("text", "interactive")]

    def image_message(self, wa_id: str, data: bytes, *, caption: Optional[str] = None,
                      context: str = "") -> dict:
        """An inbound image (interactive.md §3.4): ``image {id, mime_type, sha256,
        caption?}``; ``GET /<media id>`` with the Bearer token gives a URL that must be
        fetched with the same header."""
        media_id = str(700000000000 + len(self.media) + 1)
        self.media[media_id] = Blob(data, "image/png", bearer=self.access_token)
        message = text_message(wa_id, "")
        del message["text"]
        message.update(type="image", image={"id": media_id, "mime_type": "image/png",
                                            "sha256": hashlib.sha256(data).hexdigest()})
        if caption is not None:
            message["image"]["caption"] = caption
        if context:
            message["context"] = {"from": self.phone_number_id, "id": context}
        return message

    async def wait_sent(self, count: int = 1, timeout: float = 5.0) -> list[dict]:
        return await self.wait_until(lambda: len(self.sent) >= count, timeout=timeout,
                                     what="%d sends" % count, result=lambda: list(self.sent))


class _Base(tornado.web.RequestHandler):
    def initialize(self, fake: FakeWhatsApp) -> None:
        self.fake = fake

    def answer(self, status_code: int, body: dict) -> None:
        self.set_status(status_code)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def error(self, status_code: int, code: int, message: str) -> None:
        self.answer(status_code, {"error": {"message": message, "type": "OAuthException",
                                            "code": code, "fbtrace_id": secrets.token_hex(6)}})

    def authorized(self, number: str) -> bool:
        if self.request.headers.get("Authorization") != "Bearer %s" % self.fake.access_token:
            self.error(401, 190, "Error validating access token")
            return False
        if number != self.fake.phone_number_id:
            self.error(400, 100, "Unsupported request - object does not exist")
            return False
        return True


class _MessagesHandler(_Base):
    async def post(self, number: str) -> None:
        self.fake.record(self.request)
        await self.fake.pause()
        if not self.authorized(number):
            return
        fault = self.fake.faults.popleft() if self.fake.faults else None
        if fault is not None:
            http_status, code, message = fault
            return self.error(http_status, code, message)
        try:
            body = json.loads(self.request.body)
        except ValueError:
            return self.error(400, 100, "Invalid JSON")
        if isinstance(body, dict) and body.get("status") == "read":
            # Mark as read, optionally with the typing indicator (interactive.md §2.4).
            if not str(body.get("message_id", "")).startswith("wamid.") or \
                    body.get("messaging_product") != "whatsapp":
                return self.error(400, 100, "Invalid parameter message_id")
            self.fake.reads.append(body)
            self.fake.notify()
            return self.answer(200, {"success": True})
        problem = _check(body)
        if problem:
            return self.error(400, 100, problem)
        wamid = "wamid.FAKE%06d" % next(self.fake._ids)
        self.fake.sent.append(body)
        self.fake.wamids.append(wamid)
        self.fake.notify()
        self.answer(200, {"messaging_product": "whatsapp",
                          "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                          "messages": [{"id": wamid}]})


def _check(body: Any) -> str:
    if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
        return "messaging_product must be whatsapp"
    if not isinstance(body.get("to"), str) or not body["to"]:
        return "to is required"
    if body.get("type") == "text":
        text = (body.get("text") or {}).get("body")
        if not isinstance(text, str) or not 1 <= len(text) <= 4096:
            return "text.body must be 1 to 4096 characters"
    elif body.get("type") in ("image", "video"):
        kind = body["type"]
        link = (body.get(kind) or {}).get("link")
        if not isinstance(link, str) or not link.startswith("https://"):
            return "%s.link must be an HTTPS URL" % kind
    elif body.get("type") == "interactive":
        return _check_interactive(body.get("interactive"))
    else:
        return "unsupported type %r" % body.get("type")
    return ""


def _check_interactive(item: Any) -> str:
    """Reply buttons (interactive.md §1.4): body ≤1024, 1-3 buttons, id ≤256 without
    leading/trailing spaces, title 1-20 and unique; an optional image header by link."""
    if not isinstance(item, dict) or item.get("type") != "button":
        return "interactive.type must be button"
    text = (item.get("body") or {}).get("text")
    if not isinstance(text, str) or not 1 <= len(text) <= 1024:
        return "interactive.body.text must be 1 to 1024 characters"
    header = item.get("header")
    if header is not None and (header.get("type") != "image" or not str(
            (header.get("image") or {}).get("link", "")).startswith("https://")):
        return "interactive.header must be an image with an HTTPS link"
    buttons = (item.get("action") or {}).get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return "interactive.action.buttons must hold 1 to 3 buttons"
    titles = [str((b.get("reply") or {}).get("title", "")) for b in buttons]
    ids = [str((b.get("reply") or {}).get("id", "")) for b in buttons]
    if len(set(titles)) != len(titles) or not all(1 <= len(t) <= 20 for t in titles):
        return "button titles must be unique, 1 to 20 characters"
    if not all(1 <= len(i) <= 256 and i == i.strip() for i in ids):
        return "button ids must be 1 to 256 characters without surrounding spaces"
    return ""


class _NumberHandler(_Base):
    def get(self, number: str) -> None:
        self.fake.record(self.request)
        blob = self.fake.media.get(number)
        if blob is not None:          # a media id: its short-lived download URL (§3.4)
            if self.request.headers.get("Authorization") != "Bearer " + self.fake.access_token:
                return self.error(401, 190, "Error validating access token")
            return self.answer(200, {"messaging_product": "whatsapp", "id": number,
                                     "url": "%s/_media/%s" % (self.fake.url, number),
                                     "mime_type": blob.content_type,
                                     "sha256": hashlib.sha256(blob.data).hexdigest(),
                                     "file_size": len(blob.data)})
        if not self.authorized(number):
            return
        self.answer(200, {"id": number, "display_phone_number": "+1 555-000-1111",
                          "verified_name": "Fake ComfyUI Bot", "quality_rating": "GREEN"})
