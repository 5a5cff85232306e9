"""Randomised restarts: whatever the moment a run stops (commands running or hanging,
the confirming poll landed or not), every command finishes exactly once overall."""

from __future__ import annotations

import asyncio
import collections
import os
import random

import pytest

from tests.fakes.telegram import FakeTelegram, passthrough, stall
from tests.channels.telegram.support import Inbox, running_channel

SEED = int(os.environ.get("TELEGRAM_RESTART_SEED", random.randrange(1 << 30)))


@pytest.mark.gen_test(timeout=30)
async def test_random_stops_and_restarts_finish_every_command_exactly_once(tmp_path):
    """Seeded (TELEGRAM_RESTART_SEED replays): 6 runs over one state_dir; each run queues a
    burst, lets a random number of commands finish (some hang and are cancelled at stop),
    sometimes swallows the confirming poll; a last run finishes the rest."""
    rng = random.Random(SEED)
    print("TELEGRAM_RESTART_SEED=%d" % SEED)
    started: collections.Counter = collections.Counter()
    finished: collections.Counter = collections.Counter()
    progress = asyncio.Event()
    hang = asyncio.Event()                 # never set: hanging commands wait for the stop
    hangs: set[str] = set()                # decided per run, before it starts

    async def behaviour(inbound):
        started[inbound.text] += 1
        for _ in range(rng.randint(0, 5)):
            await asyncio.sleep(0)
        if inbound.text in hangs:
            await hang.wait()
        finished[inbound.text] += 1
        progress.set()

    async def wait_finished(count: int) -> None:
        while sum(finished.values()) < count:
            progress.clear()
            await asyncio.wait_for(progress.wait(), 5)

    texts: list[str] = []
    async with FakeTelegram() as tg:
        for run in range(6):
            last = run == 5
            for _ in range(0 if last else rng.randint(1, 8)):
                text = "/cmd %d" % len(texts)
                texts.append(text)
                tg.queue_message(text, user_id=rng.choice([41, 42, 43]))
            unfinished = [t for t in texts if not finished[t]]
            hangs = set() if last else {t for t in unfinished if rng.random() < 0.3}
            if not last and rng.random() < 0.5:
                tg.script("getUpdates", passthrough(), stall())
            # A swallowed poll is given up after 1 s + 0.2 s margin and repeated.
            async with running_channel(tmp_path, tg, Inbox(behaviour),
                                       telegram__stop_drain_sec=0,
                                       telegram__poll_margin_sec=0.2):
                # Every unfinished command runs again in this run; stop after a random
                # number of the ones that will not hang have finished.
                can_finish = len(unfinished) - len(hangs)
                goal = sum(finished.values()) + (can_finish if last else
                                                 rng.randint(0, can_finish))
                await wait_finished(goal)
            tg.unscript()      # a stall the run did not reach must not hit the next one
            tg.release()
    assert {t: finished[t] for t in texts} == {t: 1 for t in texts}, SEED
    assert all(started[t] >= 1 for t in texts)
