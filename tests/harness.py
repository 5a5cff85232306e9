"""The one test harness: config builder, daemon and channel runners, inbox, log waiter.

Every test builds its config, runs its daemon or channel and waits on events with the
helpers here; package ``support.py`` files only add what is specific to their package
(secrets, casts, drivers).  Waiting is always on an event with a timeout, never a sleep.

Public names (stable; new tests use these):

* ``make_config(state_dir, env=None, **overrides)`` — a validated Config from defaults +
  dotted (or ``__``-separated) overrides, with millisecond retries and no env leakage.
* ``dotted(**overrides)`` — ``{"a__b": v}`` → ``{"a.b": v}``;  ``nested(values)`` — dotted
  keys → the YAML tree a subprocess daemon reads; ``flatten(tree)`` — the reverse.
* ``telegram_values(fake)``, ``discord_values(fake)``, ``openclaw_values(fake, token)`` —
  the dotted keys that point one platform at its fake (merge them into ``make_config``).
* ``running_daemon(cfg, console=False)`` — an in-process Daemon; ``.pipe``/``.out`` for the
  console channel (``ConsolePipe``, ``CapturedOutput``).
* ``channel_deps(cfg, state)`` and ``running_channel(make, cfg, state_dir, state=None)`` — one
  channel (``make(cfg, deps)``) run directly, with its own StateStore and transport.
* ``outbox_for(*channels)`` — an Outbox with millisecond backoff over channels;
  ``fast_backoff()`` — that BackoffPolicy (10 ms doubling to 50 ms).
* ``Inbox`` — a recording ``on_inbound``: ``await inbox.wait(n)``, ``wait_for_id``, ``texts``,
  an optional ``behaviour`` and ``gate``.
* ``LogWaiter`` / ``log_waiter(logger="")`` — ``await waiter.wait_for("event=x")``.
* ``until(predicate, timeout)`` — yield to the loop until a condition holds;
  ``eventually(predicate, turns)`` — the same counted in loop turns; ``settle(turns)`` —
  let queued callbacks run before asserting that nothing happened; ``tick(seconds)`` —
  wall time only where time *is* the fault or the measurement.
* ``free_port()`` — an unused 127.0.0.1 port;  ``webhook_url(daemon_or_stack, platform)``
  — the loopback URL of a webhook listener (port 0 resolved to the bound port).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator, Optional

from openclaw_connector import config as configmod
from openclaw_connector.messages import Inbound

FAST_RETRY = {"retry.initial_sec": 0.01, "retry.max_sec": 0.05}


# --------------------------------------------------------------------------- configs

def dotted(**overrides: Any) -> dict:
    """Keyword overrides (``telegram__token``) as dotted keys (``telegram.token``)."""
    return {k.replace("__", "."): v for k, v in overrides.items()}


def nested(values: dict) -> dict:
    """Dotted keys as the nested tree a YAML config file holds."""
    tree: dict = {}
    for key, value in values.items():
        node = tree
        parts = key.replace("__", ".").split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return tree


def flatten(tree: dict, prefix: str = "") -> dict:
    """A YAML-shaped tree as dotted keys (the inverse of :func:`nested`)."""
    out: dict = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, prefix + key + "."))
        else:
            out[prefix + key] = value
    return out


def make_config(state_dir: Any, env: Optional[dict] = None, **overrides: Any):
    """A Config from defaults + ``overrides`` (dotted keys), fast retries, no env leakage."""
    values = {"state_dir": str(state_dir), **FAST_RETRY, "shutdown_grace_sec": 5}
    values.update(dotted(**overrides))
    return configmod.load(None, env=env or {}, overrides=values)


def telegram_values(fake: Any, token: Optional[str] = None) -> dict:
    """Telegram pointed at a FakeTelegram, 1 s long polls."""
    return {"telegram.token": token or fake.token, "telegram.api_base": fake.url,
            "telegram.poll_timeout_sec": 1}


def discord_values(fake: Any, token: Optional[str] = None,
                   invalid_session_wait_sec: float = 0.05) -> dict:
    """Discord pointed at a FakeDiscord, short invalid-session wait."""
    return {"discord.token": token or fake.token, "discord.api_base": fake.api_base,
            "discord.invalid_session_wait_sec": invalid_session_wait_sec}


def openclaw_values(fake: Any, token: Optional[str] = None, timeout_sec: float = 5) -> dict:
    """OpenClaw pointed at a FakeOpenClaw (``token`` None = no admin token)."""
    values: dict = {"openclaw.url": fake.url, "openclaw.timeout_sec": timeout_sec}
    if token:
        values["openclaw.admin_token"] = token
    return values


# --------------------------------------------------------------------------- console

class CapturedOutput:
    """A file-like sink whose text can be awaited: ``await out.wait_for("Commands:")``."""

    def __init__(self) -> None:
        self.text = ""
        self._changed = asyncio.Event()

    def write(self, data: str) -> int:
        self.text += data
        self._changed.set()
        return len(data)

    def flush(self) -> None:
        pass

    async def wait_for(self, needle: str, timeout: float = 5.0, *, count: int = 1) -> str:
        async def _wait() -> None:
            while self.text.count(needle) < count:
                self._changed.clear()
                await self._changed.wait()
        await asyncio.wait_for(_wait(), timeout)
        return self.text


class ConsolePipe:
    """The write end of a pipe the console channel reads as its stdin."""

    def __init__(self) -> None:
        read_fd, write_fd = os.pipe()
        self.reader = os.fdopen(read_fd, "r", encoding="utf-8")
        self._writer = os.fdopen(write_fd, "w", encoding="utf-8")

    def send(self, line: str) -> None:
        self._writer.write(line + "\n")
        self._writer.flush()

    def close(self) -> None:
        if not self._writer.closed:
            self._writer.close()


# --------------------------------------------------------------------------- runners

@contextlib.asynccontextmanager
async def running_daemon(cfg: Any, *, console: bool = False) -> AsyncIterator[Any]:
    """Start a Daemon in-process; yields it with ``.pipe`` and ``.out`` for the console."""
    from openclaw_connector.daemon import Daemon
    pipe = ConsolePipe() if console else None
    out = CapturedOutput()
    if console:
        cfg = configmod.with_overrides(cfg, console={"enabled": True})
    daemon = Daemon(cfg, console_in=pipe.reader if pipe else None, console_out=out)
    daemon.pipe, daemon.out = pipe, out
    await daemon.start()
    try:
        yield daemon
    finally:
        await daemon.stop()
        if pipe:
            pipe.close()


def fast_backoff() -> Any:
    """The millisecond BackoffPolicy every directly-run service gets in tests."""
    from openclaw_connector.backoff import BackoffPolicy
    return BackoffPolicy(initial=0.01, factor=2.0, cap=0.05)


def channel_deps(cfg: Any, state: Any, **extra: Any) -> Any:
    """ChannelDeps like the daemon builds them: the daemon's transport, fresh metrics."""
    from openclaw_connector.channels.base import ChannelDeps
    from openclaw_connector.metrics import Metrics
    from openclaw_connector.net.transport import build_transport
    extra.setdefault("metrics", Metrics())
    return ChannelDeps(state=state, http=build_transport(cfg), retry=fast_backoff(), **extra)


@contextlib.asynccontextmanager
async def running_channel(make: Callable[[Any, Any], Any], cfg: Any, state_dir: Any, *,
                          state: Any = None) -> AsyncIterator[Any]:
    """``make(cfg, deps)`` → a channel, started with its own StateStore (or ``state``)
    and transport; stopped, transport closed and store closed on exit."""
    from openclaw_connector.state import StateStore
    own_state = state is None
    if state is None:
        state = StateStore(str(state_dir))
        state.open()
    deps = channel_deps(cfg, state)
    channel = make(cfg, deps)
    await channel.start()
    try:
        yield channel
    finally:
        await channel.stop()
        deps.http.close()
        if own_state:
            state.close()


def outbox_for(*channels: Any, attempts: int = 6, state: Any = None,
               stopping: Optional[asyncio.Event] = None, card_interval: float = 0.05) -> Any:
    """An Outbox over ``channels`` (keyed by their ``platform``) with millisecond backoff
    and card throttle, for channel tests that exercise retries the way the daemon does."""
    from openclaw_connector.delivery import Outbox
    from openclaw_connector.metrics import Metrics
    return Outbox({c.platform: c for c in channels}, retry=fast_backoff(), attempts=attempts,
                  stopping=stopping or asyncio.Event(), state=state, metrics=Metrics(),
                  card_interval=card_interval)


# --------------------------------------------------------------------------- inbox

class Inbox:
    """A channel's ``on_inbound`` that records every Inbound.

    ``behaviour`` (an async callable) runs per Inbound after it is recorded (e.g. answer
    through the channel); ``gate`` (an Event) holds handlers until set.  ``items`` are
    the arrivals, ``finished`` those whose handler returned.
    """

    def __init__(self, behaviour: Optional[Callable[[Inbound], Awaitable[None]]] = None):
        self.items: list[Inbound] = []
        self.finished: list[Inbound] = []
        self.behaviour = behaviour
        self.gate: Optional[asyncio.Event] = None
        self._changed = asyncio.Event()

    async def __call__(self, inbound: Inbound) -> None:
        self.items.append(inbound)
        self._changed.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.behaviour is not None:
            await self.behaviour(inbound)
        self.finished.append(inbound)
        self._changed.set()

    async def _until(self, probe: Callable[[], Any], timeout: float) -> Any:
        async def _wait() -> Any:
            while True:
                found = probe()
                if found:
                    return found
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(_wait(), timeout)

    async def wait(self, count: int = 1, timeout: float = 5.0, *,
                   finished: bool = False) -> list[Inbound]:
        """Until ``count`` Inbounds arrived (or, ``finished``, were handled)."""
        await self._until(lambda: len(self.finished if finished else self.items) >= count,
                          timeout)
        return self.items

    async def wait_for_id(self, message_id: str, timeout: float = 5.0) -> Inbound:
        """Until the Inbound with this platform message id arrived."""
        return await self._until(lambda: next(
            (i for i in self.items if i.message_id == message_id), None), timeout)

    @property
    def texts(self) -> list[str]:
        return [i.text for i in self.items]


# --------------------------------------------------------------------------- logs

class LogWaiter(logging.Handler):
    """``await waiter.wait_for("event=x")`` until a record's message contains the text
    (re-checked on every record; no polling, no sleeps).  ``lines`` = ``messages``."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []
        self._changed = asyncio.Event()

    @property
    def lines(self) -> list[str]:
        return self.messages

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        self._changed.set()

    async def wait_for(self, needle: str, timeout: float = 5.0) -> str:
        async def _wait() -> str:
            while True:
                for message in self.messages:
                    if needle in message:
                        return message
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(_wait(), timeout)


@contextlib.contextmanager
def log_waiter(logger: str = "", level: Optional[int] = None) -> Iterator[LogWaiter]:
    """A LogWaiter on ``logger`` (root by default) for the block; ``level`` lowers the
    logger's level meanwhile (e.g. ``logging.DEBUG`` for debug events)."""
    waiter = LogWaiter()
    target = logging.getLogger(logger)
    old_level = target.level
    if level is not None:
        target.setLevel(level)
    target.addHandler(waiter)
    try:
        yield waiter
    finally:
        target.removeHandler(waiter)
        target.setLevel(old_level)


# --------------------------------------------------------------------------- waiting

async def until(predicate: Callable[[], bool], timeout: float = 5.0,
                what: str = "condition") -> None:
    """Yield to the loop (5 ms ticks) until ``predicate()`` holds; fail after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("%s not met within %.1f s" % (what, timeout))
        fut = loop.create_future()
        loop.call_later(0.005, lambda: fut.done() or fut.set_result(None))
        await fut


async def tick(seconds: float) -> None:
    """Let ``seconds`` of wall time pass on a timer — only where wall time *is* the fault
    or the measurement (an outage, a CPU window, traffic pacing), never to await an event."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    loop.call_later(seconds, lambda: future.done() or future.set_result(None))
    await future


async def eventually(predicate: Callable[[], bool], *, turns: int = 1000) -> None:
    """Let the loop run (``sleep(0)``) until ``predicate()`` holds; fail after ``turns``."""
    for _ in range(turns):
        if predicate():
            return
        await asyncio.sleep(0)
    assert predicate(), "condition never became true"


async def settle(turns: int = 5) -> None:
    """Let ``turns`` loop iterations run (callbacks already queued finish) before asserting
    that something did *not* happen; counted in turns, never in wall time."""
    for _ in range(turns):
        await asyncio.sleep(0)


def webhook_url(holder: Any, platform: str, path: Optional[str] = None) -> str:
    """The loopback URL of ``platform``'s webhook on a running daemon or stack (anything
    with ``.cfg`` and ``.web``), at its configured path or ``path``; port 0 resolved."""
    sub = getattr(holder.cfg, platform)
    port = holder.web.bound_port(sub.bind, sub.port)
    return "http://127.0.0.1:%d%s" % (port, path or sub.path)


def free_port() -> int:
    """A 127.0.0.1 port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
