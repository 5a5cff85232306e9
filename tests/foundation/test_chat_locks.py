"""Per-chat send state does not grow with the number of chats ever answered."""

import asyncio

import pytest

from openclaw_connector.channels.base import ChatLocks
from openclaw_connector.channels.discord.rest import RateLimits


@pytest.mark.gen_test(timeout=10)
async def test_chat_locks_keep_order_and_forget_quiet_chats():
    locks = ChatLocks()
    order = []
    gate = asyncio.Event()

    async def first():
        order.append("a-start")
        await gate.wait()
        order.append("a-end")

    async def second():
        order.append("b")

    one = asyncio.ensure_future(locks("chat", first))
    two = asyncio.ensure_future(locks("chat", second))
    await asyncio.sleep(0)
    assert len(locks) == 1 and order == ["a-start"]
    gate.set()
    await asyncio.gather(one, two)
    assert order == ["a-start", "a-end", "b"]
    for n in range(500):
        await locks("chat-%d" % n, second)
    assert len(locks) == 0


def test_rate_limit_buckets_are_pruned_once_their_window_passed():
    now = [1000.0]
    limits = RateLimits(clock=lambda: now[0])
    for n in range(1000):
        limits.update("POST /channels/{id}/messages", str(n),
                      {"X-RateLimit-Remaining": "4", "X-RateLimit-Reset-After": "1"})
        now[0] += 0.01
    assert len(limits._buckets) < 300
    assert limits.wait_time("POST /channels/{id}/messages", "999") == 0.0
