"""What every channel is: a service that turns platform traffic into Inbound
and renders Reply, plus the small shared pieces (health, dependencies).

A channel never parses commands (it imports nothing from ``commands/``); it
hands each :class:`~openclaw_connector.messages.Inbound` to the callback the
daemon gave it and sends the :class:`~openclaw_connector.messages.Reply` the
daemon asks it to send.

A send makes **one attempt per part** (a text chunk, an upload, a batch):
the Outbox (``delivery.py``) is the only thing that retries, and
:func:`send_parts` is how a channel reports how far it got, so a retry
resumes after the parts already delivered.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Optional, Protocol, Sequence, \
    TextIO, TypeVar, runtime_checkable

from openclaw_connector import log as logmod
from openclaw_connector.backoff import BackoffPolicy
from openclaw_connector.messages import Capabilities, ChannelSendError, ChatRef, PhotoRef, \
    Reply, Sent
from openclaw_connector.metrics import Metrics
from openclaw_connector.state import StateStore

if TYPE_CHECKING:   # imported by the webhook channels only; a Telegram-only daemon skips them
    from openclaw_connector.buttons import Buttons
    from openclaw_connector.net.transport import HTTPTransport
    from openclaw_connector.media import MediaStore
    from openclaw_connector.menu import CommandMenu
    from openclaw_connector.web import WebServers

Part = TypeVar("Part")

class ChannelHealth:
    """A channel's state for logs and ``/healthz``: starting|ok|backoff|conflict|fatal|stopped|off.

    Every change of state is logged once (``event=channel_state``), so an
    operator tailing the log sees a platform go down and come back.
    """

    def __init__(self, platform: str, *, clock=time.time) -> None:
        self.platform = platform
        self.state = "starting"
        self.reason = ""
        self.last_success: Optional[float] = None
        self.consecutive_failures = 0
        self._clock = clock
        self._log = logmod.get(platform)

    def ok(self) -> None:
        self.last_success = self._clock()
        self.consecutive_failures = 0
        self._set("ok", "")

    def failed(self, state: str = "backoff", reason: str = "") -> None:
        self.consecutive_failures += 1
        self._set(state, reason)

    def fatal(self, reason: str) -> None:
        self._set("fatal", reason)

    def stopped(self) -> None:
        self._set("stopped", "")

    def off(self, reason: str) -> None:
        """Enabled but unusable by design (a console without a terminal); not a failure."""
        self._set("off", reason)

    def _set(self, state: str, reason: str) -> None:
        if state != self.state:
            self._log.info("event=channel_state platform=%s state=%s previous=%s%s",
                           self.platform, state, self.state,
                           " reason=%s" % reason if reason else "")
        self.state, self.reason = state, reason

    def as_dict(self) -> dict:
        return {"state": self.state, "reason": self.reason,
                "last_success": self.last_success,
                "consecutive_failures": self.consecutive_failures}


class ChatLocks:
    """One lock per chat while anyone uses it, so sends to a chat stay in order.

    The entry goes when its last user is done: a bot that answers thousands of
    chats keeps no lock for a chat that is quiet.
    """

    def __init__(self) -> None:
        self._locks: dict[str, list] = {}

    async def __call__(self, key: str, work: Any) -> Any:
        """Run ``await work()`` holding ``key``'s lock."""
        entry = self._locks.get(key)
        if entry is None:
            entry = self._locks[key] = [asyncio.Lock(), 0]
        entry[1] += 1
        try:
            async with entry[0]:
                return await work()
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)


@dataclass
class ChannelDeps:
    """Collaborators a channel may use; owned, started and closed by the daemon.

    ``web`` is the webhook server registry (LINE, WhatsApp), ``media`` the
    MediaStore for platforms that fetch images by URL. ``retry`` is the
    backoff policy from config (milliseconds in tests). The console reads
    ``console_in`` and writes ``console_out`` (stdin/stdout when None) and
    calls ``on_eof`` at the end of its input. Tunables are config keys, not
    fields here.
    """

    state: StateStore
    http: "HTTPTransport"           # fetch like Tornado's client; closed by the daemon
    retry: BackoffPolicy
    metrics: Metrics
    media: Optional["MediaStore"] = None
    web: Optional["WebServers"] = None
    debug: bool = False
    console_in: Optional[TextIO] = None
    console_out: Optional[TextIO] = None
    on_eof: Optional[Callable[[], None]] = None
    menu: Optional["CommandMenu"] = None   # the commands to publish, if any
    buttons: Optional["Buttons"] = None    # button tokens (buttons.py); None: no buttons


class Channel(Protocol):
    """The interface the daemon and JobWatcher use. Where ``capabilities.typing``, a
    channel also has ``async typing(chat)``: show "working on it" once (LINE, WhatsApp)."""

    platform: str
    health: ChannelHealth

    async def start(self) -> None:
        """Spawn the connection loop and return; never wait to connect."""

    async def stop(self) -> None:
        """Idempotent and bounded: stop loops, flush what must be flushed."""

    @property
    def capabilities(self) -> Capabilities:
        """What this channel can do besides send (edit, buttons, ...)."""

    async def send(self, chat: ChatRef, reply: Reply, *, start_part: int = 0,
                   key: str = "") -> Sent:
        """Deliver the parts of ``reply`` from ``start_part`` on, one attempt each.

        ``key`` names the delivery (derived idempotency keys). Raises
        ChannelSendError (with ``sent_parts``) when the platform refused a part.
        """

    async def edit(self, sent: Sent, reply: Reply) -> Sent:
        """Replace the text of what ``sent`` names; only where ``capabilities.edit``."""


@runtime_checkable
class PhotoSource(Protocol):
    """A channel whose users' photos can be fetched (issue 19): the daemon routes a
    ``PhotoRef`` to the channel it came from."""

    async def fetch_photo(self, photo: PhotoRef, max_bytes: int) -> bytes:
        """The photo's bytes, at most ``max_bytes`` (cut off while streaming); raises
        PhotoUnavailable with a sentence for the chat."""


class NoEdits:
    """For channels whose platform cannot edit what it sent (``capabilities.edit`` is
    False): ``edit`` exists, so every channel fits :class:`Channel`, and refuses."""

    platform: str

    async def edit(self, sent: Sent, reply: Reply) -> Sent:
        raise ChannelSendError("%s cannot edit a sent message" % self.platform,
                               permanent=True)


async def send_parts(platform: str, chat_id: str, parts: Sequence[Part], start_part: int,
                     send_one: Callable[[int, Part], Awaitable[str]]) -> Sent:
    """Send ``parts[start_part:]`` in order, once each; the ids of what went out.

    ``send_one(index, part)`` makes one attempt and returns the platform's
    message id ("" if none). A failure is re-raised as ChannelSendError
    carrying ``sent_parts`` (the index that failed) and the ids so far; any
    other exception becomes a transient ChannelSendError, so a caller always
    learns the resume point.
    """
    first = last = ""
    for index in range(max(0, start_part), len(parts)):
        try:
            message_id = await send_one(index, parts[index])
        except ChannelSendError as exc:
            exc.sent_parts = index
            exc.sent = Sent(platform, chat_id, first, last) if first or last else None
            raise
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise ChannelSendError(
                "%s send failed: %s" % (platform, logmod.one_line_error(exc)),
                sent_parts=index,
                sent=Sent(platform, chat_id, first, last) if first or last else None) from exc
        first = first or message_id
        last = message_id or last
    return Sent(platform, chat_id, first, last)
