"""Telegram Bot API wire helpers, free of I/O: updates in, text chunks out, and the
one error classifier the poll loop and the sender share (uploads: ``net/multipart.py``).

Kept pure so they are tested with plain dicts and bytes (STYLE.md §7 "A
channel"). Facts follow platforms.md §1 (envelope, getUpdates, update shape,
sending) and §5 (4096 UTF-16 units, 10 MB photo uploads); the classifier
follows faults.md §3 (fatal-config / rate-limited / transient / permanent).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Union

from openclaw_connector.channels.telegram.photo_wire import photo_of
from openclaw_connector.messages import ChatRef, Inbound
from openclaw_connector.net.retry import retry_after

TEXT_LIMIT = 4096                 # sendMessage text, in UTF-16 code units
PHOTO_MAX_BYTES = 10_000_000      # multipart sendPhoto limit (PTB PHOTOSIZE_UPLOAD)
GROUP_TYPES = ("group", "supergroup")

_TOKEN_RE = re.compile(r"bot\d+:[A-Za-z0-9_-]+")


# --------------------------------------------------------------------------- updates

@dataclass(frozen=True)
class BotInfo:
    """Who we are, from getMe: ``username`` makes ``/cmd@bot`` ours."""

    id: int
    username: str


class PoisonUpdate(ValueError):
    """An update we cannot understand; logged once and skipped (offset moves on)."""


def update_id_of(update: Any) -> Optional[int]:
    """The update's integer id, or None when it has none (not even skippable by id)."""
    if isinstance(update, dict):
        uid = update.get("update_id")
        if isinstance(uid, int) and not isinstance(uid, bool):
            return uid
    return None


def _utf16_slice(text: str, offset: int, length: int) -> str:
    raw = text.encode("utf-16-le")
    return raw[2 * offset:2 * (offset + length)].decode("utf-16-le", errors="replace")


def _mentions_us(message: dict, text: str, bot: BotInfo) -> bool:
    """True when an entity mentions our username or id, or the message replies to us."""
    entities = message.get("entities")
    for ent in entities if isinstance(entities, list) else ():
        if not isinstance(ent, dict):
            continue
        kind = ent.get("type")
        if kind == "mention" and bot.username:
            try:
                name = _utf16_slice(text, int(ent["offset"]), int(ent["length"]))
            except (KeyError, TypeError, ValueError, OverflowError):   # inf offset
                continue
            if name.lower() == "@" + bot.username.lower():
                return True
        elif kind == "text_mention":
            user = ent.get("user")
            if isinstance(user, dict) and user.get("id") == bot.id:
                return True
    replied = message.get("reply_to_message")
    if isinstance(replied, dict):
        sender = replied.get("from")
        return isinstance(sender, dict) and sender.get("id") == bot.id
    return False


TELEGRAM_SERVICE_USER = 777000   # "Telegram": the sender of automatic forwards


def parse_update(update: Any, bot: BotInfo, *, now: float = 0.0) -> Optional[Inbound]:
    """An Inbound for a human's text message; None for things we ignore on purpose.

    Ignored: non-text messages (stickers, photos), messages from bots,
    channel posts, and a linked channel's posts that Telegram forwards into
    its discussion group on its own (``is_automatic_forward``, sent as the
    service account 777000): nobody typed them there as a command. Raises :class:`PoisonUpdate` for an update without a
    ``message`` payload or with a malformed one (platforms.md §1 "Update shape").
    """
    if not isinstance(update, dict):
        raise PoisonUpdate("update is not an object")
    message = update.get("message")
    if message is None:
        kinds = sorted(k for k in update if k != "update_id")
        raise PoisonUpdate("unexpected update type %s" % (",".join(kinds) or "empty"))
    if not isinstance(message, dict):
        raise PoisonUpdate("message is not an object")
    chat = message.get("chat")
    if not isinstance(chat, dict) or not isinstance(chat.get("id"), int):
        raise PoisonUpdate("message without chat.id")
    chat_type = chat.get("type")
    if chat_type not in ("private", "group", "supergroup", "channel"):
        raise PoisonUpdate("unknown chat type %r" % (chat_type,))
    sender = message.get("from")
    if chat_type == "channel" or sender is None:
        return None
    if not isinstance(sender, dict) or not isinstance(sender.get("id"), int):
        raise PoisonUpdate("message with malformed from")
    if sender.get("is_bot") or message.get("is_automatic_forward") is True or \
            sender["id"] == TELEGRAM_SERVICE_USER:
        return None
    text = message.get("text")
    # A photo's command is in its caption (issue 19); a reply may mean the replied photo.
    photo = photo_of(message, str(chat["id"]))
    replied = message.get("reply_to_message")
    if not isinstance(text, str):
        caption = message.get("caption")
        text = caption if isinstance(caption, str) and photo is not None else ""
        if photo is not None:
            message = dict(message, entities=message.get("caption_entities"))
    if photo is None and text.strip():
        photo = photo_of(replied, str(chat["id"]))
    if not text.strip() and photo is None:
        return None
    message_id = message.get("message_id")
    mid = str(message_id) if isinstance(message_id, int) else ""
    is_group = chat_type in GROUP_TYPES
    replied_id = replied.get("message_id") if isinstance(replied, dict) else None
    ref = ChatRef(platform="telegram", chat_id=str(chat["id"]), user_id=str(sender["id"]),
                  message_id=mid, is_group=is_group, received_at=now)
    return Inbound(platform="telegram", user_id=str(sender["id"]), chat_id=str(chat["id"]),
                   text=text, chat=ref, message_id=mid, is_direct=chat_type == "private",
                   bot_name=bot.username, mentioned=_mentions_us(message, text, bot),
                   photo=photo,
                   reply_to=str(replied_id) if isinstance(replied_id, int) else "")


# --------------------------------------------------------------------------- responses

class TelegramError(Exception):
    """A Bot API call that failed: HTTP status (0 = no response) and the envelope facts.

    The message never contains the URL (the token is in it).
    """

    def __init__(self, method: str, status: int, description: str, *,
                 retry_after: Optional[float] = None,
                 migrate_to: Optional[int] = None) -> None:
        super().__init__("%s: %s %s" % (method, status or "no-response", description))
        self.method = method
        self.status = status
        self.description = description
        self.retry_after = retry_after
        self.migrate_to = migrate_to


def decode_response(method: str, status: int, body: bytes,
                    headers: Mapping[str, str]) -> Any:
    """``result`` of a successful envelope, else raise :class:`TelegramError`.

    Decisions use the HTTP status and ``parameters``; a non-JSON body (a
    proxy's HTML 502) becomes an error with a short description.
    """
    try:
        envelope = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        envelope = None
    header_retry = retry_after(headers, None)
    if not isinstance(envelope, dict):
        if status == 200:
            raise TelegramError(method, 502, "response is not a JSON envelope")
        raise TelegramError(method, status, "non-JSON body (%d bytes)" % len(body or b""),
                            retry_after=header_retry)
    if envelope.get("ok") is True and status == 200:
        return envelope.get("result")
    params = envelope.get("parameters")
    params = params if isinstance(params, dict) else {}
    migrate = params.get("migrate_to_chat_id")
    code = status if status != 200 else int(envelope.get("error_code") or 500)
    description = str(envelope.get("description") or "no description")[:300]
    raise TelegramError(method, code, description, retry_after=retry_after(headers, params),
                        migrate_to=migrate if isinstance(migrate, int) else None)


# --------------------------------------------------------------------------- classifier

@dataclass(frozen=True)
class Retry:
    """Try again: after ``after`` seconds if the server said so, else backoff."""

    state: str = "backoff"          # health state while waiting: backoff | conflict
    after: Optional[float] = None   # the server's retry_after; wins over backoff
    webhook: bool = False           # 409 because a webhook is set: deleteWebhook


@dataclass(frozen=True)
class Fatal:
    """Stop this channel: retrying cannot help (bad token)."""

    reason: str


Verdict = Union[Retry, Fatal]


def classify(exc: BaseException) -> Verdict:
    """How the poll loop reacts to a failed call (faults.md §3)."""
    if not isinstance(exc, TelegramError):
        return Retry()
    if exc.status in (401, 404):
        return Fatal("the bot token was refused (HTTP %d %s); check telegram.token"
                     % (exc.status, exc.description))
    if exc.status == 409:
        return Retry(state="conflict", webhook="webhook" in exc.description.lower())
    if exc.status == 429:
        return Retry(after=exc.retry_after)
    return Retry()


def scrub(text: str, token: str) -> str:
    """Remove the token (and anything token-shaped) from an error string."""
    if token:
        text = text.replace(token, "***")
    return _TOKEN_RE.sub("bot***", text)


def log_field(text: str) -> str:
    """A log field value on one line, quoted when it has spaces."""
    text = text.replace("\n", " ").replace('"', "'")
    return '"%s"' % text if " " in text else text


def mask_token(token: str) -> str:
    """``123456:***`` — the bot id is public, the secret part is not."""
    head, _, _ = (token or "").partition(":")
    return "%s:***" % head if head.isdigit() else "***"
