"""Shared test helpers: configs in tmp dirs, a captured console, an in-process daemon.

Waiting is always on an event with a timeout, never a sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any, AsyncIterator, Optional

from openclaw_connector import config as configmod


def make_config(state_dir: str, env: Optional[dict] = None, **overrides: Any):
    """A Config from defaults + ``overrides`` (dotted keys), fast retries, no env leakage."""
    values = {"state_dir": str(state_dir), "retry.initial_sec": 0.01, "retry.max_sec": 0.05,
              "shutdown_grace_sec": 5}
    values.update({k.replace("__", "."): v for k, v in overrides.items()})
    return configmod.load(None, env=env or {}, overrides=values)


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


@contextlib.asynccontextmanager
async def running_daemon(cfg, *, console: bool = False) -> AsyncIterator[Any]:
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


def outbox_for(*channels: Any, attempts: int = 6, state: Any = None,
               stopping: Optional[asyncio.Event] = None, card_interval: float = 0.05) -> Any:
    """An Outbox over ``channels`` (keyed by their ``platform``) with millisecond backoff
    and card throttle, for channel tests that exercise retries the way the daemon does."""
    from openclaw_connector.backoff import BackoffPolicy
    from openclaw_connector.delivery import Outbox
    from openclaw_connector.metrics import Metrics
    return Outbox({c.platform: c for c in channels},
                  retry=BackoffPolicy(initial=0.01, factor=2.0, cap=0.05), attempts=attempts,
                  stopping=stopping or asyncio.Event(), state=state, metrics=Metrics(),
                  card_interval=card_interval)
