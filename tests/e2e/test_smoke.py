"""The harness itself: one daemon subprocess, four platforms, one command each."""

from __future__ import annotations

import pytest

from tests.e2e.world import PLATFORMS, World


@pytest.mark.gen_test(timeout=60)
async def test_help_on_every_platform_is_answered_once(tmp_path):
    """/help on Telegram, Discord, LINE and WhatsApp at once: one answer each, no secret logged."""
    async with World(tmp_path) as w:
        await w.start_daemon()
        items = [await w.send(p, "/help") for p in PLATFORMS]
        for item in items:
            await w.wait_answers(item, "Commands:")
        assert await w.daemon.stop() == 0
        assert [w.answers(i, "Commands:") for i in items] == [1, 1, 1, 1]
        assert w.leaked() == []
