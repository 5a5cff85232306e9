"""Discord drops every new session right after READY (faults.md §4 case 17, §2 item 9)."""

from __future__ import annotations

import re

import pytest

from tests.e2e.world import World

BUDGET = 20          # IdentifyBudget's default: 20 IDENTIFYs per hour per process


@pytest.mark.gen_test(timeout=90)
async def test_sessions_dropped_after_ready_stop_at_the_identify_budget(tmp_path):
    """Every session is closed right after READY and every RESUME refused: the daemon
    identifies at most its budget, then waits (logged), and the other platforms keep
    answering meanwhile."""
    async with World(tmp_path, channels=("telegram", "discord")) as w:
        dc = w.discord
        dc.resume_invalid = True
        await w.start_daemon(**{"discord.invalid_session_wait_sec": 0.02})
        for k in range(1, BUDGET + 1):
            await dc.wait_for(lambda: len(dc.identifies) >= k, 10, "identify %d" % k)
            await w.discord_live()
            dc.close(4000)
        line = await w.daemon.wait_line("event=identify_budget", timeout=10)
        item = await w.send("telegram", "/help")
        await w.wait_answers(item, "Commands:")
        # No observation window: the daemon says how long it holds off, and that is
        # most of the budget's hour, so no 21st IDENTIFY can be on its way.
        wait_s = float(re.search(r"wait_s=([0-9.]+)", line).group(1))
        assert wait_s > 3000, line
        assert len(dc.identifies) == BUDGET
        assert await w.daemon.stop() == 0
        assert w.answers(item, "Commands:") == 1
        assert w.daemon.count("event=identify_budget") == 1
        assert w.leaked() == []
