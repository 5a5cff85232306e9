"""Discord messages in and out, as pure functions over plain data.

In: a MESSAGE_CREATE ``d`` becomes an :class:`Inbound` when a human wrote it
and it is addressed to us (DMs always; in guilds a leading ``/`` or a mention
of us), with a leading mention stripped. Out: a :class:`Reply` becomes the
``POST /channels/{id}/messages`` payloads: text split at 2000 characters,
images as multipart ``payload_json`` + ``files[n]`` (10 and 24 MiB per
message, a file over the limit replaced by a note), a ``message_reference``
to the command, and a ``nonce`` + ``enforce_nonce`` stable across retries.

Follows platforms.md §2 (MESSAGE_CREATE, REST: sending) and faults.md §2
items 5 and 11.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from typing import Optional

from openclaw_connector.channels.discord.media_in import photo_of, replied_id
from openclaw_connector.channels.textsplit import split_text
from openclaw_connector.net.multipart import FilePart, encode_multipart
from openclaw_connector.messages import ChatRef, Image, Inbound, Reply

TEXT_LIMIT = 2000
FILES_PER_MESSAGE = 10
MAX_REQUEST_BYTES = 24 * 1024 * 1024     # files per request; Discord's cap is 25 MiB in all
MESSAGE_TYPES = (0, 19)                  # default and reply; system messages are ignored


def parse_message(d: dict, me: str, username: str) -> tuple[Optional[Inbound], bool]:
    """``(inbound or None, empty)``; ``empty`` flags a guild message with no content
    (the MESSAGE_CONTENT intent is probably off)."""
    author = d.get("author") or {}
    if author.get("bot") or d.get("webhook_id") or str(author.get("id")) == me:
        return None, False
    if d.get("type", 0) not in MESSAGE_TYPES or not d.get("id") or not d.get("channel_id"):
        return None, False
    content = str(d.get("content") or "")
    guild = d.get("guild_id")
    mentioned = bool(me) and any(str((m or {}).get("id")) == me
                                 for m in d.get("mentions") or [])
    photo = photo_of(d)          # issue 19: a photo, or (for a command) the replied one
    if photo is None and content.strip():
        photo = photo_of(d.get("referenced_message"))
    if guild is not None:
        if not content and not mentioned and not d.get("attachments"):
            return None, True
        if not (content.lstrip().startswith("/") or mentioned or
                (photo is not None and not content.strip())):
            return None, False
    message_id, chat_id = str(d["id"]), str(d["channel_id"])
    user_id = str(author.get("id") or "")
    chat = ChatRef(platform="discord", chat_id=chat_id, user_id=user_id,
                   message_id=message_id, is_group=guild is not None, received_at=time.time())
    return Inbound(platform="discord", user_id=user_id, chat_id=chat_id,
                   text=strip_mention(content, me, username), chat=chat,
                   message_id=message_id, is_direct=guild is None, bot_name=username,
                   mentioned=mentioned, photo=photo, reply_to=replied_id(d)), False


def strip_mention(content: str, user_id: str, username: str = "") -> str:
    """``content`` without a leading ``<@id>``/``<@!id>`` mention of us; a later one
    becomes ``@username`` (the router understands ``@bot /cmd``)."""
    if not user_id:
        return content
    mention = r"<@!?%s>" % re.escape(user_id)
    text = re.sub(r"^\s*%s\s*" % mention, "", content)
    return re.sub(mention, "@" + username if username else "", text)


def multipart(payload: dict, files: list[Image]) -> tuple[bytes, str]:
    """``(body, content_type)`` with ``payload_json`` and ``files[n]`` parts.

    ``payload_json`` gets the ``attachments`` list that names each file part.
    """
    names = [_safe_filename(image.filename, n) for n, image in enumerate(files)]
    payload = dict(payload, attachments=[{"id": n, "filename": name}
                                         for n, name in enumerate(names)])
    ctype, body = encode_multipart(
        {"payload_json": json.dumps(payload)},
        [FilePart("files[%d]" % n, name, image.content_type, image.data)
         for n, (image, name) in enumerate(zip(files, names))])
    return body, ctype


def render_reply(chat: ChatRef, reply: Reply, max_file_bytes: int, *,
                 max_request_bytes: int = MAX_REQUEST_BYTES, key: str = ""
                 ) -> list[tuple[dict, list[Image]]]:
    """The messages for ``reply``: ``(payload, files)`` in send order.

    Text is split at 2000 characters; images ride with the last text chunk,
    10 and at most ``max_request_bytes`` per message (Discord refuses a
    request over 25 MiB with 413); an image over the per-file limit becomes
    a note. Each payload has
    a ``nonce`` derived from the command (or the delivery ``key`` when there is
    no command message) and the content, so a retry of the same reply is
    deduplicated by Discord (``enforce_nonce``).
    """
    images, notes = [], []
    for image in reply.images:
        if len(image.data) > max_file_bytes:
            notes.append("(%s is %.1f MB, over the %.0f MB Discord upload limit; not sent)" % (
                image.filename, len(image.data) / 1048576, max_file_bytes / 1048576))
        else:
            images.append(image)
    text = "\n".join(t for t in [reply.text] + notes if t)
    messages: list[tuple[str, list[Image]]] = [(c, []) for c in split_text(text, TEXT_LIMIT)] \
        if text else []
    groups: list[list[Image]] = []
    size = 0
    for image in images:
        if not groups or len(groups[-1]) == FILES_PER_MESSAGE or \
                size + len(image.data) > max_request_bytes:
            groups.append([])
            size = 0
        groups[-1].append(image)
        size += len(image.data)
    if groups and messages:
        messages[-1] = (messages[-1][0], groups.pop(0))
    messages.extend(("", group) for group in groups)
    out = []
    for n, (content, files) in enumerate(messages):
        payload: dict = {"content": content, "allowed_mentions": {"parse": []},
                         "nonce": _nonce(chat, n, content, files, key), "enforce_nonce": True}
        if n == 0 and chat.message_id:
            payload["message_reference"] = {"message_id": chat.message_id,
                                            "fail_if_not_exists": False}
        out.append((payload, files))
    return out


def _nonce(chat: ChatRef, n: int, content: str, files: list[Image], key: str = "") -> str:
    origin = chat.message_id or key
    if not origin:
        return secrets.token_hex(13)[:25]     # nothing to derive from (a direct send)
    digest = hashlib.sha256()
    for part in (chat.chat_id, origin, str(n), content):
        digest.update(part.encode("utf-8") + b"\0")
    for image in files:
        digest.update(hashlib.sha256(image.data).digest())
    return digest.hexdigest()[:25]


def _safe_filename(name: str, n: int) -> str:
    clean = "".join(c for c in name if c.isalnum() or c in "._-")[:100]
    return clean or "image%d.png" % n
