"""Exponential backoff with full jitter, and a stop-aware wait.

Every long-lived loop (polling, gateway, webhook replies, job watching) uses
one :class:`Backoff` per loop. The cap holds after jitter, the loop resets the
counter itself after a success, and a server's ``retry_after`` always wins
(``max(backoff.next(), retry_after)``). Delays come from config so fault tests
run in milliseconds.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Callable, Optional


@dataclass(frozen=True)
class BackoffPolicy:
    """initial delay, growth factor, cap (seconds)."""

    initial: float = 1.0
    factor: float = 2.0
    cap: float = 60.0


class Backoff:
    """Attempt counter that yields jittered delays: ``uniform(0, min(cap, initial*factor**n))``.

    Full jitter spreads reconnects of many daemons; the first delay is at
    least ``initial / 2`` so a failing peer is never hit in a tight loop.
    """

    def __init__(self, policy: BackoffPolicy, *,
                 rng: Optional[Callable[[], float]] = None) -> None:
        self.policy = policy
        self.attempt = 0
        self._rng = rng or random.random

    def next(self) -> float:
        """Count one failure and return how long to wait before the next try."""
        p = self.policy
        ceiling = min(p.cap, p.initial * (p.factor ** self.attempt))
        self.attempt += 1
        floor = min(ceiling, p.initial / 2)
        return floor + (ceiling - floor) * self._rng()

    def reset(self) -> None:
        """Forget past failures (call after a success)."""
        self.attempt = 0


async def wait_or_stop(stopping: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` or until ``stopping`` is set; return True if stopping.

    A ``stop()`` never has to wait out a backoff.
    """
    if seconds <= 0:
        return stopping.is_set()
    try:
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        return False
    return True
