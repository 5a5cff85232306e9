"""The command set through the console channel of an in-process Daemon, against the fake."""

from __future__ import annotations

import logging
import re

import pytest

from tests.commands.helpers import TOKEN, config
from tests.fakes.openclaw import FakeOpenClaw
from tests.harness import running_daemon


async def _ask(daemon, line: str, needle: str) -> str:
    """Send one console line; return the new output once ``needle`` shows up in it."""
    start = len(daemon.out.text)
    daemon.pipe.send(line)
    count = daemon.out.text.count(needle) + 1
    await daemon.out.wait_for(needle, timeout=5, count=count)
    return daemon.out.text[start:]


@pytest.mark.gen_test(timeout=15)
async def test_console_session_runs_every_command(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    async with FakeOpenClaw(admin_token=TOKEN) as fake:
        fake.add_schedule("sched_1", name="hourly", cron_expr="0 * * * *")
        cfg = config(tmp_path, fake.url)
        async with running_daemon(cfg, console=True) as daemon:
            out = await _ask(daemon, "/status", "RAM:")
            assert "OpenClaw: ComfyUI-OpenClaw 1.0.7, ready" in out
            out = await _ask(daemon, '/run portrait positive_prompt="a cat\'s hat"', "Prompt:")
            pid = re.search(r"Prompt: (\S+)", out).group(1)
            assert "[Queued] portrait" in out
            out = await _ask(daemon, "/jobs", "Running:")
            assert pid in out
            out = await _ask(daemon, "/run portrait seed=2 --approval", "Expires:")
            aid = re.search(r"ID: (apr_\w+)", out).group(1)
            out = await _ask(daemon, "/approvals", "Pending approvals:")
            assert aid in out
            out = await _ask(daemon, "/approve %s" % aid, "Executed:")
            assert "[Approved] %s" % aid in out
            fake.finish_job(pid, images=["portrait_00001_.png"], duration=2)
            out = await _ask(daemon, "/history %s" % pid, "Images:")
            assert "Job %s: success" % pid in out and "portrait_00001_.png" in out
            out = await _ask(daemon, "/stop", "[Stopped]")
            out = await _ask(daemon, "/trace %s" % pid, "finished successfully")
            assert "ComfyUI execution messages" in out
            out = await _ask(daemon, "/schedules", "sched_1")
            out = await _ask(daemon, "/schedule run sched_1", "[Triggered]")
            await _ask(daemon, "/run portrait --approval", "Expires:")
            aid2 = list(fake.model.approvals)[-1]
            out = await _ask(daemon, "/reject %s not today" % aid2, "[Rejected]")
            out = await _ask(daemon, "/help", "Admin:")
            text = daemon.out.text
        assert fake.calls("/approve")[0].json["actor"] == "console:console"
    assert "Traceback" not in text and "Something went wrong" not in text
    assert TOKEN not in text
    assert not any(TOKEN in r.getMessage() for r in caplog.records)


@pytest.mark.gen_test(timeout=15)
async def test_console_says_unreachable_and_token_hint(tmp_path):
    async with FakeOpenClaw(admin_token=TOKEN) as fake:
        cfg = config(tmp_path, fake.url, token="a-wrong-token-xyz")
        async with running_daemon(cfg, console=True) as daemon:
            out = await _ask(daemon, "/approvals", "HTTP 403")
            assert ("HTTP 403 (Admin Token): set OPENCLAW_CONNECTOR_ADMIN_TOKEN to the server's "
                    "OPENCLAW_ADMIN_TOKEN") in out
            url = fake.url
            await fake.go_down()
            out = await _ask(daemon, "/status", "not reachable")
            assert "ComfyUI is not reachable at %s (connection refused)." % url in out
            assert "a-wrong-token-xyz" not in daemon.out.text
