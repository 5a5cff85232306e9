"""What every channel is: a service that turns platform traffic into Inbound
and renders Reply, plus the small shared pieces (health, dependencies).

A channel never parses commands (it imports nothing from ``commands/``); it
hands each :class:`~openclaw_connector.messages.Inbound` to the callback the
daemon gave it and sends the :class:`~openclaw_connector.messages.Reply` the
daemon asks it to send.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Optional, Protocol

from openclaw_connector import log as logmod
from openclaw_connector.backoff import BackoffPolicy
from openclaw_connector.messages import ChatRef, Reply

class ChannelHealth:
    """A channel's state for logs and ``/healthz``: starting|ok|backoff|conflict|fatal|stopped.

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
    backoff policy from config (milliseconds in tests).
    """

    state: Any                      # StateStore
    http: Any                       # channels.transport.HTTPTransport (fetch like Tornado's)
    retry: BackoffPolicy
    metrics: Any                    # metrics.Metrics
    media: Any = None               # media.MediaStore
    web: Any = None                 # web.WebServers
    debug: bool = False
    extra: dict = field(default_factory=dict)


class Channel(Protocol):
    """The interface the daemon and JobWatcher use."""

    platform: str
    health: ChannelHealth

    async def start(self) -> None:
        """Spawn the connection loop and return; never wait to connect."""

    async def stop(self) -> None:
        """Idempotent and bounded: stop loops, flush what must be flushed."""

    async def send(self, chat: ChatRef, reply: Reply) -> None:
        """Deliver ``reply``; raise ChannelSendError when the platform refused it."""
