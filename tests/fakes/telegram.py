"""A fake Telegram Bot API: a real Tornado server on 127.0.0.1 (ephemeral port).

Behaves like the Bot API for what the connector uses (platforms.md §1,
"Fake-server checklist"): ``/bot<token>/<method>`` case-insensitively, 401 for
a wrong token, 404 for an unknown method, the ``{ok, result | error_code,
description, parameters}`` envelope; getMe, deleteWebhook, getWebhookInfo,
getUpdates with real long-poll parking, confirm-on-offset and the 409 a
second concurrent poller causes (the *older* poll is aborted, as the server
does), the webhook-set 409 until deleteWebhook; sendMessage (UTF-16 length
check), sendPhoto / sendDocument / sendVideo / sendAnimation (multipart parsed by
Tornado), getFile and the file download path (``telegram_files.py``), and
editMessageText on a message the bot sent (interactive.md §2.1: "message is
not modified" for the same text, "there is no text in the message to edit"
for a photo, "message to edit not found"), recorded in ``edits``.

Test controls: ``queue_message`` (a user writes in a chat), ``queue_update``
(any payload, for poison updates), ``script(method, *responses)`` for the
next N calls of a method (``error``, ``too_many``, ``bad_gateway``,
``conflict``, ``stall``, ``drop``), ``set_webhook``, ``block_chat``,
``migrate_chat``; everything received is recorded, and
``await next_request(method, timeout)`` / ``wait_until(predicate)`` wait on
it without sleeping. See tests/fakes/README.md.
"""

from __future__ import annotations

import asyncio
import collections
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from openclaw_connector import log as logmod
from tests.fakes import telegram_media
from tests.fakes.scripted import ScriptedFake
from tests.fakes.telegram_files import FakeFiles, FileDownloadHandler

TOKEN = "123456789:AAFakeTelegramTokenForTestsOnly-0123456789"
BOT_ID = 123456789
BOT_USERNAME = "ourbot"
PHOTO_MAX = 10_000_000
DOCUMENT_MAX = 50_000_000


@dataclass(frozen=True)
class Scripted:
    """One scripted answer: status and body (dict → JSON; str/bytes raw), headers,
    or a fault: ``stall`` (park until ``release()``; dropped at stop) or ``drop``
    (close the connection without answering)."""

    status: int = 200
    body: Any = None
    headers: dict = field(default_factory=dict)
    stall: bool = False
    drop: bool = False
    real: bool = False


def passthrough() -> Scripted:
    """Answer this call normally (to script a fault for a *later* call)."""
    return Scripted(real=True)


def ok(result: Any = True) -> Scripted:
    return Scripted(200, {"ok": True, "result": result})


def error(status: int, description: str, *, headers: Optional[dict] = None,
          **parameters: Any) -> Scripted:
    body: dict = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return Scripted(status, body, headers or {})


def too_many(retry_after: float, *, header: bool = True) -> Scripted:
    """429 with ``parameters.retry_after`` (and ``Retry-After`` unless ``header=False``)."""
    hdr = {"Retry-After": str(retry_after)} if header else {}
    return error(429, "Too Many Requests: retry after %s" % retry_after, headers=hdr,
                 retry_after=retry_after)


def bad_gateway() -> Scripted:
    """What the front proxy answers during an outage: 502 with an HTML body."""
    return Scripted(502, "<html><body><h1>502 Bad Gateway</h1></body></html>",
                    {"Content-Type": "text/html"})


def conflict(webhook: bool = False) -> Scripted:
    if webhook:
        return error(409, "Conflict: can't use getUpdates method while webhook is active; "
                          "use deleteWebhook to delete the webhook first")
    return error(409, "Conflict: terminated by other getUpdates request; make sure that "
                      "only one bot instance is running")


def stall() -> Scripted:
    return Scripted(stall=True)


def drop() -> Scripted:
    return Scripted(drop=True)


@dataclass
class Upload:
    filename: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass
class Recorded:
    """One request the fake received (``params`` from query, form, JSON or multipart)."""

    method: str
    params: dict
    files: dict
    at: float
    status: Optional[int] = None          # filled in when answered
    answered_at: Optional[float] = None
    response: Any = None                  # the body answered (dict for JSON)

    @property
    def key(self) -> str:
        return self.method.lower()

    @property
    def json(self) -> dict:
        return self.params

    @property
    def chat_id(self) -> str:
        return str(self.params.get("chat_id", ""))


class _CountingServer(HTTPServer):
    """Counts accepted connections, so a test or benchmark sees whether the bot reuses them."""

    fake: "FakeTelegram"

    def handle_stream(self, stream: Any, address: Any) -> None:
        self.fake.connections += 1
        super().handle_stream(stream, address)


class FakeTelegram(ScriptedFake):
    """The fake server and its controls; ``async with FakeTelegram() as tg:``."""

    def __init__(self, *, token: str = TOKEN, username: str = BOT_USERNAME,
                 bot_id: int = BOT_ID, first_update_id: int = 500) -> None:
        super().__init__()
        self.token, self.username, self.bot_id = token, username, bot_id
        self.requests: list[Recorded] = []
        self.queue: list[dict] = []                   # unconfirmed updates, by id
        self.confirmed = 0                            # every id below this is confirmed
        self.handed_out: dict[int, float] = {}        # update_id → first hand-out time
        self.handouts: collections.Counter = collections.Counter()   # update_id → times
        self.stalled_chats: set[str] = set()          # sends to these chats stall
        self.answer_hooks: list[Callable[[Recorded], None]] = []   # called per answer
        self.webhook_url = ""
        self.my_commands: dict[str, list[str]] = {}   # "default" / "chat:<id>" -> commands
        self.connections = 0                          # TCP connections accepted (keep-alive)
        self.blocked: set[str] = set()
        self.migrated: dict[str, int] = {}
        self.messages: dict[tuple[str, int], dict] = {}   # (chat, message_id) → message
        self.edits: list[tuple[str, int, str]] = []       # (chat, message_id, new text)
        self.media_edits: list[tuple[str, int, str, bytes]] = []   # editMessageMedia
        # Buttons (interactive.md §1.1): callback queries handed out and their answers,
        # and every editMessageReplyMarkup as (chat, message_id, new markup or None).
        self.callback_queries: dict[str, dict] = {}        # query id -> callback_query
        self.callback_answers: dict[str, dict] = {}        # query id -> answer params
        self.markup_edits: list[tuple[str, int, Optional[dict]]] = []
        self._next_query = 4382001937463
        self._next_update = first_update_id
        self._message_ids: dict[str, int] = collections.defaultdict(lambda: 1)
        self._scripts: dict[str, collections.deque] = collections.defaultdict(
            collections.deque)
        self._cursor: dict[str, int] = {}
        self._parked: Optional[asyncio.Future] = None
        self._stalls: list[asyncio.Future] = []
        self._waiters: list[asyncio.Future] = []
        self._server: Optional[HTTPServer] = None
        self.port = 0
        self.files = FakeFiles(self)                      # users' photos (telegram_files)

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self.port

    async def start(self) -> "FakeTelegram":
        app = Application([(r"/bot([^/]*)/([A-Za-z_]+)", _Handler, {"fake": self}),
                           (r"/file/bot([^/]*)/(.+)", FileDownloadHandler, {"fake": self})],
                          log_function=_access_log)
        sockets = bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self._server = _CountingServer(app, max_body_size=64 * 1024 * 1024)
        self._server.fake = self
        self._server.add_sockets(sockets)
        return self

    async def stop(self) -> None:
        if self._parked is not None and not self._parked.done():
            self._parked.set_result("stop")
        for fut in self._stalls:
            if not fut.done():
                fut.set_result("drop")
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None

    async def __aenter__(self) -> "FakeTelegram":
        return await self.start()

    async def __aexit__(self, exc_type: Any, *exc: Any) -> None:
        await self.stop()

    # ------------------------------------------------------------------ controls
    def queue_message(self, text: str, *, user_id: int = 1111, chat_id: Optional[int] = None,
                      chat_type: str = "private", username: str = "alice",
                      from_bot: bool = False, entities: Optional[list] = None,
                      **extra: Any) -> int:
        """A user writes ``text`` in a chat (private chat = the user's id); the update id."""
        chat_id = user_id if chat_id is None else chat_id
        mid = self._message_ids[str(chat_id)]
        self._message_ids[str(chat_id)] = mid + 1
        chat: dict = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = username.title()
        else:
            chat["title"] = "Group %s" % chat_id
        message = {"message_id": mid, "date": int(time.time()), "chat": chat, "text": text,
                   "from": {"id": user_id, "is_bot": from_bot,
                            "first_name": username.title(), "username": username}}
        message["entities"] = _entities(text) if entities is None else entities
        message.update(extra)
        return self.queue_update({"message": message})

    def queue_callback(self, data: str, *, message_id: int, user_id: int = 1111,
                       chat_id: Optional[int] = None, chat_type: str = "private",
                       username: str = "alice") -> str:
        """A user taps an inline button carrying ``data`` under the bot's message
        ``message_id`` (interactive.md §1.1 callback_query); the query id."""
        chat_id = user_id if chat_id is None else chat_id
        query_id = str(self._next_query)
        self._next_query += 1
        message = self.messages.get((str(chat_id), message_id)) or {
            "message_id": message_id, "date": 0, "chat": {"id": chat_id, "type": chat_type}}
        message = dict(message, chat={"id": chat_id, "type": chat_type})
        query = {"id": query_id, "from": {"id": user_id, "is_bot": False,
                                          "first_name": username.title(), "username": username},
                 "message": message, "chat_instance": "-8140928373645", "data": data}
        self.callback_queries[query_id] = query
        self.queue_update({"callback_query": query})
        return query_id

    def markup(self, chat_id: Any, message_id: int) -> Optional[dict]:
        """The inline keyboard the message shows now (None: none)."""
        message = self.messages.get((str(chat_id), message_id)) or {}
        return message.get("reply_markup")

    def buttons(self, chat_id: Any, message_id: int) -> list[dict]:
        """The message's inline buttons, row after row (``text``, ``callback_data``)."""
        markup = self.markup(chat_id, message_id) or {}
        return [b for row in markup.get("inline_keyboard", ()) for b in row]
    def queue_raw_message(self, message: dict, *, chat_id: int,
                          chat_type: str = "private") -> int:
        """Queue ``message`` (from, content) in a chat; id, date and chat are added."""
        mid = self._message_ids[str(chat_id)]
        self._message_ids[str(chat_id)] = mid + 1
        chat: dict = {"id": chat_id, "type": chat_type}
        full = dict(message, message_id=mid, date=int(time.time()), chat=chat)
        self.messages[(str(chat_id), mid)] = full
        return self.queue_update({"message": full})

    def queue_update(self, payload: dict) -> int:
        """Queue any update payload (``update_id`` added unless given); wakes a parked poll."""
        payload = dict(payload)
        if "update_id" not in payload:
            payload["update_id"] = self._next_update
            self._next_update += 1
        self.queue.append(payload)
        self._wake()
        return payload["update_id"]

    def script(self, method: str, *responses: Scripted) -> None:
        """The next ``len(responses)`` calls of ``method`` get these answers, in order."""
        self._scripts[method.lower()].extend(responses)

    def unscript(self, method: Optional[str] = None) -> None:
        """Drop the scripted answers not used yet (of ``method``, or of every method)."""
        if method is None:
            self._scripts.clear()
        else:
            self._scripts.pop(method.lower(), None)

    def set_webhook(self, url: str = "https://hooks.example.invalid/tg") -> None:
        self.webhook_url = url
        if self._parked is not None and not self._parked.done():
            self._parked.set_result("setwebhook")

    def block_chat(self, chat_id: Any) -> None:
        self.blocked.add(str(chat_id))

    def migrate_chat(self, old: Any, new: int) -> None:
        self.migrated[str(old)] = new

    def stall_chat(self, chat_id: Any) -> None:
        """Sends to ``chat_id`` stall (recorded, unanswered) until ``release()``."""
        self.stalled_chats.add(str(chat_id))

    def release(self) -> None:
        """Let every stalled request through (it is then handled normally)."""
        self.stalled_chats.clear()
        for fut in self._stalls:
            if not fut.done():
                fut.set_result("release")
        self._stalls = []

    # ------------------------------------------------------------------ records
    def calls(self, method: str) -> list[Recorded]:
        return [r for r in self.requests if r.key == method.lower()]

    def count(self, method: str) -> int:
        return len(self.calls(method))

    def sent(self, chat_id: Any = None) -> list[Recorded]:
        """Accepted sendMessage/sendPhoto/sendDocument/sendVideo/sendAnimation calls,
        optionally to one chat."""
        return [r for r in self.requests
                if r.key in ("sendmessage", "sendphoto", "senddocument", "sendvideo",
                             "sendanimation") and r.status == 200
                and (chat_id is None or r.chat_id == str(chat_id))]

    def texts(self, chat_id: Any = None) -> list[str]:
        return [r.params.get("text", "") for r in self.sent(chat_id) if r.key == "sendmessage"]

    async def next_request(self, method: str, timeout: float = 5.0) -> Recorded:
        """The next request of ``method`` not yet returned by this call (waits for it)."""
        key = method.lower()

        def ready() -> bool:
            return len(self.calls(key)) > self._cursor.get(key, 0)
        await self.wait_until(ready, timeout)
        index = self._cursor.get(key, 0)
        self._cursor[key] = index + 1
        return self.calls(key)[index]

    async def next_answered(self, method: str, timeout: float = 5.0) -> Recorded:
        """Like next_request, but waits until the fake has answered it."""
        record = await self.next_request(method, timeout)
        await self.wait_until(lambda: record.status is not None, timeout)
        return record

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` holds; re-checked on every request and answer."""
        async def _wait() -> None:
            while not predicate():
                fut = asyncio.get_running_loop().create_future()
                self._waiters.append(fut)
                await fut
        await asyncio.wait_for(_wait(), timeout)

    def _changed(self) -> None:
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def _wake(self) -> None:
        if self._parked is not None and not self._parked.done():
            self._parked.set_result("wake")
        self._changed()

    # ------------------------------------------------------------------ the API
    async def handle(self, method: str, params: dict, files: dict) -> tuple[int, dict]:
        """The real behaviour of one method (after scripts and faults)."""
        key = method.lower()
        if key == "getme":
            return _ok({"id": self.bot_id, "is_bot": True, "first_name": "Our Bot",
                        "username": self.username, "can_join_groups": True,
                        "can_read_all_group_messages": False,
                        "supports_inline_queries": False})
        if key == "deletewebhook":
            self.webhook_url = ""
            if _truthy(params.get("drop_pending_updates")):
                self.queue.clear()
            return _ok(True)
        if key == "getwebhookinfo":
            return _ok({"url": self.webhook_url, "has_custom_certificate": False,
                        "pending_update_count": len(self.queue)})
        if key == "setmycommands":
            return self._set_my_commands(params)
        if key == "getupdates":
            return await self._get_updates(params)
        if key == "sendmessage":
            return self._send_message(params)
        if key in ("sendphoto", "senddocument", "sendvideo", "sendanimation"):
            return self._send_file(key, params, files)
        if key == "getfile":
            return self.files.get_file(params)
        if key == "editmessagetext":
            return self._edit_text(params)
        if key == "editmessagemedia":
            return telegram_media.edit_media(self, params, files, _ok, _err)
        if key == "editmessagecaption":
            return telegram_media.edit_caption(self, params, _ok, _err)
        if key == "answercallbackquery":
            return self._answer_callback(params)
        if key == "editmessagereplymarkup":
            return self._edit_markup(params)
        self.unscripted(method)
        return _err(404, "Not Found: method not found")

    def _set_my_commands(self, params: dict) -> tuple[int, dict]:
        """setMyCommands (interactive.md §5.1): ≤100 commands, each 1-32 of [a-z0-9_]
        with a 1-256 character description; the scope picks whose menu it is."""
        commands = params.get("commands")
        if isinstance(commands, str):
            commands = json.loads(commands)
        scope = params.get("scope") or {"type": "default"}
        if isinstance(scope, str):
            scope = json.loads(scope)
        if not isinstance(commands, list) or len(commands) > 100:
            return _err(400, "Bad Request: commands must be a list of at most 100")
        for c in commands:
            if not (isinstance(c, dict) and re.fullmatch(r"[a-z0-9_]{1,32}", str(c.get("command")))
                    and 1 <= len(str(c.get("description") or "")) <= 256):
                return _err(400, "Bad Request: BOT_COMMAND_INVALID")
        kinds = ("default", "all_private_chats", "all_group_chats", "all_chat_administrators",
                 "chat", "chat_administrators", "chat_member")
        if not isinstance(scope, dict) or scope.get("type") not in kinds or \
                (scope["type"].startswith("chat") and "chat_id" not in scope):
            return _err(400, "Bad Request: invalid scope")
        key = scope["type"] + (":%s" % scope["chat_id"] if "chat_id" in scope else "")
        self.my_commands[key] = [c["command"] for c in commands]
        return _ok(True)

    async def _get_updates(self, params: dict) -> tuple[int, dict]:
        if self.webhook_url:
            return conflict(webhook=True).status, conflict(webhook=True).body
        if self._parked is not None and not self._parked.done():
            self._parked.set_result("conflict")     # the older poll loses
        offset = _int(params.get("offset"), 0)
        limit = min(100, max(1, _int(params.get("limit"), 100)))
        timeout = min(50.0, max(0.0, float(_int(params.get("timeout"), 0))))
        if offset > 0:
            self.confirmed = max(self.confirmed, offset)
            self.queue = [u for u in self.queue if u["update_id"] >= offset]
        elif offset < 0:
            self.queue = self.queue[offset:]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            batch = self.queue[:limit]
            remaining = deadline - loop.time()
            if batch or remaining <= 0:
                break
            parked = self._parked = loop.create_future()
            await asyncio.wait({parked}, timeout=remaining)
            if parked.done() and parked.result() == "conflict":
                return conflict().status, conflict().body
            if parked.done() and parked.result() == "setwebhook":
                return _err(409, "Conflict: terminated by setWebhook request")
            if parked.done() and parked.result() == "stop":
                break
        if self._parked is not None and self._parked.done():
            self._parked = None
        now = time.monotonic()
        for update in batch:
            self.handed_out.setdefault(update["update_id"], now)
            self.handouts[update["update_id"]] += 1
        return _ok(batch)

    def _send_message(self, params: dict) -> tuple[int, dict]:
        chat_id = str(params.get("chat_id", ""))
        text = params.get("text")
        if not chat_id:
            return _err(400, "Bad Request: chat_id is empty")
        refused = self._refuse(chat_id)
        if refused:
            return refused
        if not isinstance(text, str) or not text.strip():
            return _err(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > 4096:
            return _err(400, "Bad Request: message is too long")
        return self._with_markup(params, self._message(chat_id, text=text))

    def _send_file(self, key: str, params: dict, files: dict) -> tuple[int, dict]:
        chat_id = str(params.get("chat_id", ""))
        name = key[len("send"):]       # photo | document | video | animation
        refused = self._refuse(chat_id)
        if refused:
            return refused
        upload = files.get(name)
        if upload is None:
            return _err(400, "Bad Request: there is no %s in the request" % name)
        limit = PHOTO_MAX if name == "photo" else DOCUMENT_MAX
        if len(upload.data) > limit:
            return _err(400, "Bad Request: file is too big")
        if name == "photo" and not upload.data.startswith(b"\x89PNG") \
                and not upload.data.startswith(b"\xff\xd8"):
            return _err(400, "Bad Request: IMAGE_PROCESS_FAILED")
        media: Any = {"file_id": "f%d" % len(self.requests), "file_size": len(upload.data)}
        if name == "photo":         # a Message's photo is a list of sizes
            media = [dict(media, width=512, height=512)]
        return self._with_markup(params, self._message(chat_id, **{name: media}))

    def _with_markup(self, params: dict, message: dict) -> tuple[int, dict]:
        """Keep the inline keyboard a send carried (a JSON string in multipart); an
        unparsable one is the server's 400 (tgs ``get_reply_markup``)."""
        if "reply_markup" in params:
            try:
                markup = _markup(params["reply_markup"])
            except ValueError:
                self.messages.pop((str(params.get("chat_id")), message["message_id"]), None)
                return _err(400, "Bad Request: can't parse reply keyboard markup JSON object")
            if markup is not None:
                message["reply_markup"] = markup
        return _ok(message)

    def _edit_text(self, params: dict) -> tuple[int, dict]:
        chat_id, text = str(params.get("chat_id", "")), params.get("text")
        message = self.messages.get((chat_id, _int(params.get("message_id"), 0)))
        if message is None:
            return _err(400, "Bad Request: message to edit not found")
        if "text" not in message:
            return _err(400, "Bad Request: there is no text in the message to edit")
        if not isinstance(text, str) or not text.strip():
            return _err(400, "Bad Request: message text is empty")
        if text == message["text"]:
            return _err(400, "Bad Request: message is not modified: specified new message "
                             "content and reply markup are exactly the same as a current "
                             "content and reply markup of the message")
        message["text"] = text
        message["edit_date"] = int(time.time())
        self.edits.append((chat_id, message["message_id"], text))
        return _ok(message)

    def _answer_callback(self, params: dict) -> tuple[int, dict]:
        """answerCallbackQuery: once per query; ``text`` 0-200 characters (ptb)."""
        query_id = str(params.get("callback_query_id", ""))
        text = params.get("text", "")
        if query_id not in self.callback_queries or query_id in self.callback_answers:
            return _err(400, "Bad Request: query is too old and response timeout expired "
                             "or query ID is invalid")
        if not isinstance(text, str) or len(text) > 200:
            return _err(400, "Bad Request: MESSAGE_TOO_LONG")
        self.callback_answers[query_id] = dict(params)
        return _ok(True)

    def _edit_markup(self, params: dict) -> tuple[int, dict]:
        """editMessageReplyMarkup: no ``reply_markup`` clears the keyboard (tgs)."""
        chat_id = str(params.get("chat_id", ""))
        message = self.messages.get((chat_id, _int(params.get("message_id"), 0)))
        if message is None:
            return _err(400, "Bad Request: message to edit not found")
        markup = _markup(params.get("reply_markup"))
        if markup == message.get("reply_markup"):
            return _err(400, "Bad Request: message is not modified: specified new message "
                             "content and reply markup are exactly the same as a current "
                             "content and reply markup of the message")
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        self.markup_edits.append((chat_id, message["message_id"], markup))
        return _ok(message)

    def _refuse(self, chat_id: str) -> Optional[tuple[int, dict]]:
        if chat_id in self.migrated:
            return _err(400, "Bad Request: group chat was upgraded to a supergroup chat",
                        migrate_to_chat_id=self.migrated[chat_id])
        if chat_id in self.blocked:
            return _err(403, "Forbidden: bot was blocked by the user")
        return None

    def _message(self, chat_id: str, **content: Any) -> dict:
        mid = self._message_ids[chat_id]
        self._message_ids[chat_id] = mid + 1
        chat = int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id
        message = dict({"message_id": mid, "date": int(time.time()),
                        "chat": {"id": chat, "type": "private"},
                        "from": {"id": self.bot_id, "is_bot": True,
                                 "username": self.username}}, **content)
        self.messages[(chat_id, mid)] = message
        return message


class _Handler(RequestHandler):
    """Routes every call to the fake, applying scripts and faults first."""

    def initialize(self, fake: FakeTelegram) -> None:
        self.fake = fake

    async def get(self, token: str, method: str) -> None:
        await self.post(token, method)

    async def post(self, token: str, method: str) -> None:
        fake = self.fake
        params, files = self._params()
        record = Recorded(method, params, files, time.monotonic())
        fake.requests.append(record)
        fake._changed()
        scripted = fake._scripts[method.lower()].popleft() \
            if fake._scripts[method.lower()] else None
        if scripted is not None and scripted.real:
            scripted = None
        if scripted is None and record.chat_id in fake.stalled_chats \
                and record.key in ("sendmessage", "sendphoto", "senddocument"):
            scripted = stall()
        if token != fake.token:
            status, body, headers = 401, {"ok": False, "error_code": 401,
                                          "description": "Unauthorized"}, {}
        elif scripted is not None and (scripted.stall or scripted.drop):
            outcome = "drop"
            if scripted.stall:
                fut = asyncio.get_running_loop().create_future()
                fake._stalls.append(fut)
                outcome = await fut
            if outcome == "drop":
                self.detach().close()
                record.status = 0
                fake._changed()
                return
            status, body = await fake.handle(method, params, files)
            headers = {}
        elif scripted is not None:
            status, body, headers = scripted.status, scripted.body, scripted.headers
        else:
            status, body = await fake.handle(method, params, files)
            headers = {}
        if self.request.connection is None or self.request.connection.stream is None \
                or self.request.connection.stream.closed():
            record.status = 0
            fake._changed()
            return
        self.set_status(status)
        for name, value in headers.items():
            self.set_header(name, value)
        if isinstance(body, (dict, list)):
            self.set_header("Content-Type", "application/json")
            self.write(json.dumps(body))
        elif body is not None:
            self.write(body)
        record.status, record.answered_at = status, time.monotonic()
        record.response = body
        fake._changed()
        for hook in fake.answer_hooks:
            hook(record)

    def _params(self) -> tuple[dict, dict]:
        req = self.request
        params: dict = {k: v[-1].decode("utf-8") for k, v in req.query_arguments.items()}
        ctype = req.headers.get("Content-Type", "")
        if ctype.startswith("application/json") and req.body:
            data = json.loads(req.body)
            if isinstance(data, dict):
                params.update(data)
        else:
            params.update({k: v[-1].decode("utf-8") for k, v in req.body_arguments.items()})
        files = {name: Upload(f[-1].filename, f[-1].content_type, f[-1].body)
                 for name, f in req.files.items()}
        return params, files


def _access_log(handler: RequestHandler) -> None:
    """Like log.access_log, but the path holds the token: log the method only."""
    logmod.get("fake_telegram").debug("event=fake_request method=%s status=%d",
                                      handler.request.path.rsplit("/", 1)[-1],
                                      handler.get_status())


def _ok(result: Any) -> tuple[int, dict]:
    return 200, {"ok": True, "result": result}


def _err(status: int, description: str, **parameters: Any) -> tuple[int, dict]:
    scripted = error(status, description, **parameters)
    return scripted.status, scripted.body


def _markup(value: Any) -> Optional[dict]:
    """A reply_markup parameter as a dict (None when absent or empty); ValueError when bad."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, dict) or not isinstance(value.get("inline_keyboard"), list):
        raise ValueError("not an inline keyboard")
    for row in value["inline_keyboard"]:
        for button in row:
            data = button.get("callback_data", "")
            if not button.get("text") or not 1 <= len(data.encode("utf-8")) <= 64:
                raise ValueError("bad button")
    return value


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


def _entities(text: str) -> list:
    """bot_command at offset 0 and @mentions, with UTF-16 offsets as Telegram sends them."""
    out = []
    pos = 0
    for word in text.split(" "):
        units = len(word.encode("utf-16-le")) // 2
        if word.startswith("/") and pos == 0 and len(word) > 1:
            out.append({"type": "bot_command", "offset": 0, "length": units})
        elif word.startswith("@") and len(word) > 1:
            out.append({"type": "mention", "offset": pos, "length": units})
        pos += units + 1
    return out
