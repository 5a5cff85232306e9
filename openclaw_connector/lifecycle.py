"""Lifecycle as data: what a service is, the daemon's stop plan, and ``drain``.

A service has ``async start()`` and ``async stop()`` (DESIGN.md,
"Lifecycle"). The daemon keeps an ordered list of :class:`ServiceEntry`
and stops it by :func:`stop_plan`, in two named phases: first
``stop_accepting`` (the entries marked ``intake``: listeners that let new
work in, the OpenClaw client whose stop ends any submit waiting out a busy
server), then ``reverse_order`` (everything else, last started first, so the
StateStore, started first, closes last). No step tests a service's name.

:func:`drain` is the one way a service ends its own tasks at stop: wait a
bounded time for them to finish, then cancel the rest.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

STOP_ACCEPTING = "stop_accepting"
REVERSE_ORDER = "reverse_order"
CANCEL_GRACE_SEC = 1.0   # how long cancelled tasks get to run their cleanup


class Service(Protocol):
    """Anything the daemon starts and stops."""

    async def start(self) -> None:
        """Begin; return without waiting on the network."""

    async def stop(self) -> None:
        """Idempotent and bounded."""


@dataclass(frozen=True)
class ServiceEntry:
    """One service in the daemon's start order.

    ``required``: a failed start is a configuration problem (a listener that
    cannot bind, an unusable state directory) and stops the daemon; any other
    service that fails to start is logged and the rest run. ``intake``: stopped
    in the first phase, because it lets new work in or holds work waiting.
    """

    name: str
    service: Service
    required: bool = False
    intake: bool = False


def stop_plan(started: Sequence[ServiceEntry]) -> list[tuple[str, ServiceEntry]]:
    """``(phase, entry)`` in stop order: intake entries, then the rest, each last-first."""
    last_first = list(reversed(started))
    return [(STOP_ACCEPTING, e) for e in last_first if e.intake] + \
           [(REVERSE_ORDER, e) for e in last_first if not e.intake]


async def drain(tasks: Iterable["asyncio.Future[object]"], timeout: float) -> int:
    """Wait up to ``timeout`` seconds for ``tasks``; cancel the rest; return how many.

    A task's own failure is not raised here (its owner logs it). Cancelled
    tasks get :data:`CANCEL_GRACE_SEC` to unwind. If the caller is cancelled
    meanwhile (the daemon's grace ran out), the tasks are cancelled with it.
    """
    pending = {t for t in tasks if not t.done()}
    if not pending:
        return 0
    try:
        _done, left = await asyncio.wait(pending, timeout=max(0.0, timeout))
    except asyncio.CancelledError:
        for task in pending:
            task.cancel()
        raise
    for task in left:
        task.cancel()
    if left:
        await asyncio.wait(left, timeout=CANCEL_GRACE_SEC)
    return len(left)
