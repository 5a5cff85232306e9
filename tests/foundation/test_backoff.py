"""Backoff: grows, holds its cap after jitter, resets."""

from openclaw_connector.backoff import Backoff, BackoffPolicy


def test_growth_cap_and_reset():
    top = Backoff(BackoffPolicy(initial=1, factor=2, cap=10), rng=lambda: 1.0)
    assert [top.next() for _ in range(6)] == [1, 2, 4, 8, 10, 10]
    low = Backoff(BackoffPolicy(initial=1, factor=2, cap=10), rng=lambda: 0.0)
    assert all(low.next() == 0.5 for _ in range(5))
    top.reset()
    assert top.attempt == 0 and top.next() == 1
