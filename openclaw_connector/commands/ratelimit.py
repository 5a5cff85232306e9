"""Per-sender token bucket: N commands per minute with a burst (issue 3).

The first refused command gets one ``[Rate Limited]`` line; further refusals
stay silent until a token is back, so a flooding sender cannot make us flood
the chat in return.
"""

from __future__ import annotations

import time
from typing import Callable

RATE_LIMITED_TEXT = "[Rate Limited] Too many requests. Please wait a moment."


class SenderBuckets:
    """Token buckets keyed by sender; idle full buckets are forgotten."""

    def __init__(self, per_minute: float, burst: int, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, list] = {}   # sender -> [tokens, last_time, warned]

    def take(self, sender: str) -> str:
        """``"ok"``, ``"warn"`` (refused; say so once) or ``"silent"`` (refused, said already)."""
        now = self._clock()
        bucket = self._buckets.get(sender)
        if bucket is None:
            bucket = self._buckets[sender] = [self._burst, now, False]
        tokens = min(self._burst, bucket[0] + (now - bucket[1]) * self._rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0], bucket[2] = tokens - 1.0, False
            self._forget_idle(now)
            return "ok"
        bucket[0] = tokens
        if bucket[2]:
            return "silent"
        bucket[2] = True
        return "warn"

    def _forget_idle(self, now: float) -> None:
        if len(self._buckets) < 10_000:
            return
        full_after = self._burst / self._rate if self._rate else 0
        self._buckets = {k: b for k, b in self._buckets.items() if now - b[1] < full_after}
