"""The Discord gateway protocol as a sans-I/O state machine.

:class:`GatewaySession` takes decoded frames (``receive``), timer ticks
(``heartbeat``) and connection losses (``connection_lost``) and returns
actions for the I/O layer to carry out: frames to send, a heartbeat schedule
to start, dispatches to handle, a close code to close with, and finally how
to reconnect (resume or identify, and how long to wait) or that the channel
is finished (fatal close codes). It never touches a socket or a clock, so the
whole opcode/close-code table is unit-tested with plain dicts.

Follows platforms.md §2 (Opcodes, Lifecycle, When to resume vs re-identify,
Close codes) and faults.md §2 items 4, 5, 9 and 11.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

# Opcodes (platforms.md §2 Opcodes).
DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT, INVALID_SESSION, HELLO, HEARTBEAT_ACK = \
    0, 1, 2, 6, 7, 9, 10, 11

# GUILDS | GUILD_MESSAGES | DIRECT_MESSAGES | MESSAGE_CONTENT (platforms.md §2 Intents).
INTENTS = (1 << 0) | (1 << 9) | (1 << 12) | (1 << 15)

# Codes we close with ourselves. Never 1000/1001 unless shutting down for good:
# those invalidate the session (platforms.md §2 Lifecycle).
CLOSE_ZOMBIE = 4000
CLOSE_RECONNECT = 4900
CLOSE_SHUTDOWN = 1000

FATAL_CLOSES = {
    4004: "authentication failed: the bot token is wrong or was reset; "
          "set discord.token to the token from the Developer Portal",
    4010: "invalid shard sent in IDENTIFY",
    4011: "sharding required: the bot is in too many guilds for one connection",
    4012: "invalid gateway API version",
    4013: "invalid intents bitfield",
    4014: "disallowed intent: enable the Message Content intent in the Developer Portal "
          "(Bot > Privileged Gateway Intents)",
}
NEW_SESSION_CLOSES = {4007, 4009}   # invalid seq / session timed out


@dataclass(frozen=True)
class Send:
    """Write this frame to the socket."""

    frame: dict


@dataclass(frozen=True)
class StartHeartbeat:
    """Beat every ``interval`` seconds, the first after ``first_delay``."""

    interval: float
    first_delay: float


@dataclass(frozen=True)
class Dispatch:
    """An op 0 event for the channel (``READY``, ``MESSAGE_CREATE``, ...)."""

    event: str
    data: Any


@dataclass(frozen=True)
class Close:
    """Close the socket with ``code``; ``connection_lost`` will say what next."""

    code: int
    reason: str


@dataclass(frozen=True)
class Reconnect:
    """Open a new connection: RESUME if ``resume`` else IDENTIFY.

    ``wait`` is a least delay (op 9's 1-5 s); ``immediate`` skips the backoff
    (op 7 and op 9 resumable ask us to come straight back).
    """

    resume: bool
    reason: str
    wait: float = 0.0
    immediate: bool = False


@dataclass(frozen=True)
class Fatal:
    """Stop this channel for good: reconnecting cannot help."""

    code: int
    reason: str


Action = Union[Send, StartHeartbeat, Dispatch, Close]


@dataclass
class SessionState:
    """What a RESUME needs, and who we are; persisted across a quick restart."""

    session_id: str = ""
    seq: Optional[int] = None
    resume_url: str = ""
    user_id: str = ""
    username: str = ""

    def as_dict(self) -> dict:
        return {"session_id": self.session_id, "seq": self.seq,
                "resume_url": self.resume_url, "user_id": self.user_id,
                "username": self.username}


@dataclass
class _Connection:
    resuming: bool = False
    ack_pending: bool = False
    pending: Optional[Reconnect] = None


class GatewaySession:
    """One bot's gateway session across many connections."""

    def __init__(self, token: str, *, intents: int = INTENTS,
                 invalid_session_wait: float = 5.0,
                 rng: Callable[[], float] = random.random,
                 properties: Optional[dict] = None) -> None:
        self._token = token
        self._intents = intents
        self._invalid_wait = invalid_session_wait
        self._rng = rng
        self._properties = properties or {"os": "linux", "browser": "openclaw-connector",
                                          "device": "openclaw-connector"}
        self.state = SessionState()
        self._conn = _Connection()

    # ------------------------------------------------------------------ queries
    @property
    def can_resume(self) -> bool:
        s = self.state
        return bool(s.session_id and s.resume_url and s.seq is not None)

    @property
    def user_id(self) -> str:
        return self.state.user_id

    @property
    def username(self) -> str:
        return self.state.username

    def restore(self, saved: dict) -> None:
        """Take a persisted :meth:`SessionState.as_dict` (a quick restart resumes)."""
        self.state = SessionState(
            session_id=str(saved.get("session_id") or ""),
            seq=saved.get("seq") if isinstance(saved.get("seq"), int) else None,
            resume_url=str(saved.get("resume_url") or ""),
            user_id=str(saved.get("user_id") or ""),
            username=str(saved.get("username") or ""))

    def forget(self) -> None:
        """Drop session id and seq (the next connection IDENTIFYs); keep who we are."""
        self.state.session_id, self.state.seq, self.state.resume_url = "", None, ""

    # ------------------------------------------------------------------ events in
    def connection_made(self) -> None:
        """A new socket is open; RESUME or IDENTIFY is decided now, sent at HELLO."""
        self._conn = _Connection(resuming=self.can_resume)

    def receive(self, frame: Any) -> list[Action]:
        """Handle one decoded frame; return what to do. Unknown opcodes are ignored."""
        if not isinstance(frame, dict):
            return []
        op, data = frame.get("op"), frame.get("d")
        if op == DISPATCH:
            return self._dispatch(frame.get("t"), frame.get("s"), data)
        if op == HELLO:
            return self._hello(data)
        if op == HEARTBEAT_ACK:
            self._conn.ack_pending = False
            return []
        if op == HEARTBEAT:               # the server asks for a beat now
            return [self._beat()]
        if op == RECONNECT:
            return self._close_then(Reconnect(True, "op7_reconnect", immediate=True))
        if op == INVALID_SESSION:
            if data is True:
                return self._close_then(Reconnect(True, "op9_resumable", immediate=True))
            self.forget()
            wait = self._invalid_wait * (0.2 + 0.8 * self._rng())
            return self._close_then(Reconnect(False, "op9_invalid_session", wait=wait,
                                              immediate=True))
        return []

    def heartbeat(self) -> Union[Send, Close]:
        """The timer fired: beat, or close a zombie that never ACKed the last beat."""
        if self._conn.ack_pending:
            return self._close(Reconnect(True, "heartbeat_ack_missing", immediate=True),
                               CLOSE_ZOMBIE)
        return self._beat()

    def connection_lost(self, code: Optional[int]) -> Union[Reconnect, Fatal]:
        """The socket closed (``code`` None for a network drop): what comes next."""
        pending, self._conn = self._conn.pending, _Connection()
        if pending is not None:
            return pending
        if code in FATAL_CLOSES:
            return Fatal(code, FATAL_CLOSES[code])
        if code in NEW_SESSION_CLOSES:
            self.forget()
            return Reconnect(False, "close_%d" % code)
        reason = "network_drop" if code is None else "close_%d" % code
        return Reconnect(self.can_resume, reason)

    # ------------------------------------------------------------------ helpers
    def _beat(self) -> Send:
        self._conn.ack_pending = True
        return Send({"op": HEARTBEAT, "d": self.state.seq})

    def _close_then(self, nxt: Reconnect, code: int = CLOSE_RECONNECT) -> list[Action]:
        return [self._close(nxt, code)]

    def _close(self, nxt: Reconnect, code: int = CLOSE_RECONNECT) -> Close:
        self._conn.pending = nxt
        return Close(code, nxt.reason)

    def _hello(self, data: Any) -> list[Action]:
        interval_ms = data.get("heartbeat_interval") if isinstance(data, dict) else None
        if not isinstance(interval_ms, (int, float)) or interval_ms <= 0:
            return self._close_then(Reconnect(self.can_resume, "bad_hello"), CLOSE_ZOMBIE)
        interval = interval_ms / 1000.0
        actions: list[Action] = [StartHeartbeat(interval, interval * self._rng())]
        if self._conn.resuming and self.can_resume:
            actions.append(Send({"op": RESUME, "d": {
                "token": self._token, "session_id": self.state.session_id,
                "seq": self.state.seq}}))
        else:
            actions.append(Send({"op": IDENTIFY, "d": {
                "token": self._token, "intents": self._intents,
                "properties": dict(self._properties)}}))
        return actions

    def _dispatch(self, event: Any, seq: Any, data: Any) -> list[Action]:
        if isinstance(seq, int):
            self.state.seq = seq
        if event == "READY" and isinstance(data, dict):
            user = data.get("user") or {}
            self.state.session_id = str(data.get("session_id") or "")
            self.state.resume_url = str(data.get("resume_gateway_url") or "")
            self.state.user_id = str(user.get("id") or "")
            self.state.username = str(user.get("username") or "")
        if not isinstance(event, str):
            return []
        return [Dispatch(event, data)]


class IdentifyBudget:
    """A local cap on IDENTIFYs: at most ``limit`` per ``window`` seconds.

    Discord resets the bot token after 1000 identifies a day (faults.md §2
    item 9); a server that accepts IDENTIFY and then drops us every time must
    not make us burn through that, whatever the backoff says.
    """

    def __init__(self, limit: int = 20, window: float = 3600.0) -> None:
        self.limit, self.window = limit, window
        self._times: list[float] = []

    def wait(self, now: float) -> float:
        """Seconds to wait before the next IDENTIFY may go out (0 = now)."""
        self._times = [t for t in self._times if now - t < self.window]
        if len(self._times) < self.limit:
            return 0.0
        return self._times[0] + self.window - now

    def spend(self, now: float) -> None:
        self._times.append(now)
