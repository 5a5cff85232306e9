"""The neutral types that channels, commands and jobs share.

A channel turns platform traffic into an :class:`Inbound` and renders a
:class:`Reply`; the router sees only these types, so it never needs to know
which platform a message came from (DESIGN.md, "Data flows one way").
:class:`ChatRef` is the address an answer goes to; it is plain data so the
JobWatcher can store it in the StateStore and deliver after a restart.
:class:`Sent` is the handle a channel returns for what it sent (plain data
too, so a later edit works after a restart); :class:`Capabilities` says what
a channel can do beyond sending (DESIGN.md, "Interaction").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Optional


@dataclass(frozen=True)
class ChatRef:
    """Where a reply goes: a platform, a chat, and how to thread the answer.

    ``message_id`` is the command's own message (Telegram ``reply_to_message_id``,
    Discord ``message_reference``); ``reply_token`` and ``received_at`` let LINE
    use its short-lived reply token; ``user_id`` is who asked (WhatsApp sends to
    the user, LINE pushes to the user or group).
    """

    platform: str
    chat_id: str
    user_id: str = ""
    message_id: str = ""
    is_group: bool = False
    reply_token: str = ""
    received_at: float = 0.0

    def to_json(self) -> str:
        # Spelled out: dataclasses.asdict deep-copies every field (hot on the webhook path).
        return json.dumps({"chat_id": self.chat_id, "is_group": self.is_group,
                           "message_id": self.message_id, "platform": self.platform,
                           "received_at": self.received_at, "reply_token": self.reply_token,
                           "user_id": self.user_id}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ChatRef":
        data = json.loads(text)
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class PhotoRef:
    """A user's photo as its platform names it, fetched only when a job needs it.

    ``ref`` is the platform's handle (a Telegram ``file_id``, a Discord attachment
    URL, a LINE message id, a WhatsApp media id); ``message_id`` is the chat
    message that carried it (the uploaded name is built from it, never from the
    user's file name); ``size`` is what the platform announced (0: unknown).
    Plain data, so the last photo of a chat can be kept in the StateStore.
    """

    platform: str
    chat_id: str
    message_id: str
    ref: str
    size: int = 0
    mime: str = ""

    def to_json(self) -> str:
        return json.dumps({"platform": self.platform, "chat_id": self.chat_id,
                           "message_id": self.message_id, "ref": self.ref, "size": self.size,
                           "mime": self.mime}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "PhotoRef":
        data = json.loads(text)
        return cls(str(data["platform"]), str(data["chat_id"]), str(data["message_id"]),
                   str(data["ref"]), int(data.get("size") or 0), str(data.get("mime") or ""))


PhotoFetch = Callable[[PhotoRef, int], Awaitable[bytes]]
"""Download a photo's bytes, at most ``max_bytes`` (enforced while streaming);
raises :class:`PhotoUnavailable`. The daemon routes it to the photo's channel."""


class PhotoUnavailable(Exception):
    """A photo that cannot be fetched; the message is the sentence for the chat
    (never a URL: Telegram's file URL carries the bot token)."""


@dataclass(frozen=True)
class Inbound:
    """One chat message as the router sees it.

    ``bot_name`` is the channel's own bot username (for ``/cmd@bot``);
    ``mentioned`` is true when the platform says the bot was addressed (a
    Discord mention, a Telegram ``@bot`` entity), so the router can accept
    ``@bot /cmd`` without parsing platform markup. ``is_direct`` is a one-to-one
    chat, where non-command text gets a hint instead of silence.
    ``local_operator`` marks the person at this machine's keyboard (the
    console): an admin and never rate limited, whatever the platform's name.
    ``verified`` is False when the channel could not authenticate the message
    (WhatsApp with ``insecure_unsigned``): anyone may have forged its sender, so
    it is never treated as an admin's.
    """

    platform: str
    user_id: str
    chat_id: str
    text: str
    chat: ChatRef
    message_id: str = ""
    is_direct: bool = True
    bot_name: str = ""
    mentioned: bool = False
    local_operator: bool = False
    verified: bool = True
    tap_id: str = ""     # the platform's tap id when this came from a button (buttons.py)
    photo: Optional[PhotoRef] = None     # a photo this message carries or replies to
    reply_to: str = ""                   # the platform id of the message replied to

    @property
    def sender(self) -> str:
        """``platform:user`` — the id people copy into ``admin_users``."""
        return f"{self.platform}:{self.user_id}"

    @property
    def base_id(self) -> str:
        """A stable id for this message, used to derive OpenClaw ``trace_id``s."""
        return f"{self.platform}-{self.chat_id}-{self.message_id}"


@dataclass(frozen=True)
class Image:
    """An image (or other file) to deliver, held in memory."""

    filename: str
    data: bytes = field(repr=False)
    content_type: str = "image/png"
    kind: str = "image"     # image | video | animation | document (interactive.md §4)
    source: str = ""        # a ComfyUI output's LoadImage reference ("x.png [output]")


@dataclass(frozen=True)
class Action:
    """A one-tap button: ``command`` is the exact line a person could have typed.

    Channels render it with an opaque token (:mod:`openclaw_connector.buttons`).
    Actions that share a non-empty ``group`` (Approve/Reject of one request) are
    one decision: once one of them ran, every button of the group answers
    "already done" and is removed where the platform can edit.
    """

    label: str
    command: str
    group: str = ""


@dataclass(frozen=True)
class Reply:
    """What a command or a finished job says back: text and optional images."""

    text: str = ""
    images: tuple[Image, ...] = ()
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True)
class Sent:
    """What a channel sent for one reply: the platform's ids of its first and last
    message, so it can be edited later (also after a restart: see to_json).

    ``chat_id`` is where it went (a migrated Telegram group's new id); ids are
    strings, empty where the platform gives none (a LINE push answered 409).
    """

    platform: str
    chat_id: str
    first_id: str = ""
    last_id: str = ""
    # Per reply image (index-aligned with ``Reply.images``): the id of the message that
    # showed it, "" when it went as a link or note or the platform gave no id; empty
    # when the channel does not tell (a reply to that message means that image).
    image_ids: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps({"platform": self.platform, "chat_id": self.chat_id,
                           "first_id": self.first_id, "last_id": self.last_id},
                          sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Sent":
        data = json.loads(text)
        return cls(str(data["platform"]), str(data["chat_id"]), str(data.get("first_id", "")),
                   str(data.get("last_id", "")))


@dataclass(frozen=True)
class Capabilities:
    """What a channel can do besides send (DESIGN.md, "Interaction").

    ``edit``: ``Channel.edit(sent, reply)`` works; ``buttons``/``max_buttons``:
    it renders ``Reply.actions``; ``typing``: ``Channel.typing(chat)``;
    ``video``: it sends video; ``max_upload_bytes``: the largest file it sends.
    ``typing_renew_sec``: while a job runs, call ``typing`` again this often
    (LINE's loading animation lasts at most 60 s); 0 = once per command.
    ``progress_lines``: it cannot edit, but a new line per job state costs nothing
    (a terminal), so the live card is written as lines instead.
    """

    edit: bool = False
    buttons: bool = False
    max_buttons: int = 0
    typing: bool = False
    video: bool = False
    max_upload_bytes: int = 0
    typing_renew_sec: float = 0.0
    progress_lines: bool = False


InboundHandler = Callable[[Inbound], Awaitable[None]]
"""The callback a channel hands each Inbound to (the daemon's dispatcher)."""


class ChannelSendError(Exception):
    """A send a channel could not complete.

    ``retry_after`` is set when the platform said when to try again;
    ``permanent`` means retrying will never help (blocked by the user, chat
    gone, outside WhatsApp's 24-hour window). ``sent_parts`` is how many parts
    of the reply are delivered (counted from its start), so a retry resumes
    there (``send(..., start_part=sent_parts)``) and never repeats one;
    ``sent`` holds the ids of those parts, if any.
    """

    def __init__(self, message: str, *, retry_after: Optional[float] = None,
                 permanent: bool = False, sent_parts: int = 0,
                 sent: Optional[Sent] = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent
        self.sent_parts = sent_parts
        self.sent = sent
