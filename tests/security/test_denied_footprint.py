"""A sender nobody allowed leaves no footprint that grows with what they send.

Anyone can write to a Telegram bot, so an unknown sender's flood must not grow
the daemon: not the ``/metrics`` series (one per distinct command word would be
unbounded, and the word is attacker text), not the log with their text (one ``sender_denied``
line per sender per ten minutes, issue 3; the per-message ``event=command
outcome=denied`` line names no unknown word, so no control characters reach a
terminal that tails the log), and nothing reaches ComfyUI.
"""

from __future__ import annotations

import logging

import pytest

from openclaw_connector import config as configmod
from tests.security.support import (CASTS, DRIVERS, all_fakes, config, free_port, http,
                                    oc_traffic, running)


@pytest.mark.gen_test(timeout=20)
async def test_unknown_sender_flood_adds_no_metric_series_and_one_log_line(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    stranger = CASTS["telegram"].unknown
    async with all_fakes() as fakes:
        cfg = config(tmp_path, fakes, ("telegram",))
        cfg = configmod.with_overrides(cfg, status={"port": free_port()})
        async with running(cfg, fakes) as run:
            driver = DRIVERS["telegram"](run)
            metrics_url = "http://127.0.0.1:%d/metrics" % cfg.status.port
            assert await driver.say(stranger, "/status") is None
            baseline = (await http(metrics_url)).body.decode()
            for i in range(40):
                word = "/x%d_%s" % (i, ("\u00e9\"}\\", "\x1b[2J\x07", "")[i % 3])
                assert await driver.say(stranger, word + " y") is None
            after = (await http(metrics_url)).body.decode()
            assert oc_traffic(fakes) == []
    series = [line for line in after.splitlines() if line.startswith(
        "openclaw_connector_commands_total")]
    base_series = [line for line in baseline.splitlines() if line.startswith(
        "openclaw_connector_commands_total")]
    assert len(base_series) == 1 and len(series) == 2, series   # status + "other"
    assert 'command="other",outcome="denied"' in after
    assert "x39" not in after
    mentions = [r.getMessage() for r in caplog.records
                if "user=%s" % stranger.user in r.getMessage()]
    denied = [m for m in mentions if "event=sender_denied" in m]
    assert len(denied) == 1, denied
    # The per-message command line stays (README: grep outcome=denied), without their text.
    assert all("outcome=denied" in m for m in mentions if m not in denied)
    assert not [m for m in mentions if "x39" in m or "\x1b" in m or "\x07" in m], mentions
