"""The neutral types that channels, commands and jobs share.

A channel turns platform traffic into an :class:`Inbound` and renders a
:class:`Reply`; the router sees only these types, so it never needs to know
which platform a message came from (DESIGN.md, "Data flows one way").
:class:`ChatRef` is the address an answer goes to; it is plain data so the
JobWatcher can store it in the StateStore and deliver after a restart.
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
class Inbound:
    """One chat message as the router sees it.

    ``bot_name`` is the channel's own bot username (for ``/cmd@bot``);
    ``mentioned`` is true when the platform says the bot was addressed (a
    Discord mention, a Telegram ``@bot`` entity), so the router can accept
    ``@bot /cmd`` without parsing platform markup. ``is_direct`` is a one-to-one
    chat, where non-command text gets a hint instead of silence. ``verified`` is
    False when the channel could not authenticate the message (WhatsApp with
    ``insecure_unsigned``): anyone may have forged its sender, so the router
    never treats it as an admin's.
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
    verified: bool = True

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


@dataclass(frozen=True)
class Reply:
    """What a command or a finished job says back: text and optional images."""

    text: str = ""
    images: tuple[Image, ...] = ()


InboundHandler = Callable[[Inbound], Awaitable[None]]
"""The callback a channel hands each Inbound to (the daemon's dispatcher)."""


class ChannelSendError(Exception):
    """A send a channel could not complete.

    ``retry_after`` is set when the platform said when to try again;
    ``permanent`` means retrying will never help (blocked by the user, chat
    gone, outside WhatsApp's 24-hour window).
    """

    def __init__(self, message: str, *, retry_after: Optional[float] = None,
                 permanent: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent
