"""Issue 15: /status shows OpenClaw's log counts, /trace works for chat-started jobs,
and every reply writes time one way (``YYYY-MM-DDTHH:MM:SSZ``)."""

from __future__ import annotations

import re

import pytest

from tests.commands.helpers import ALLOWED, stack
from tests.fakes.openclaw_model import FakeClock

T0 = 1770465600.0          # 2026-02-07T12:00:00Z
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@pytest.mark.gen_test(timeout=10)
async def test_status_shows_openclaw_log_and_error_counts(tmp_path):
    async with stack(tmp_path) as env:
        reply = await env.say("/status")
    assert "OpenClaw logs: 42 processed, 0 errors captured" in reply.splitlines()


@pytest.mark.gen_test(timeout=10)
async def test_trace_of_a_chat_job_shows_comfyui_execution_messages(tmp_path):
    """No OpenClaw trace record (every /run job): start, cached nodes and success, timed."""
    async with stack(tmp_path, fake={"clock": FakeClock(T0)}) as env:
        await env.say("/run portrait seed=1")
        pid = env.tracker.prompts[0][0]
        env.fake.finish_job(pid, images=["a.png"], duration=2.5, cached=["4", "7"])
        reply = await env.say("/trace %s" % pid)
    assert reply.splitlines() == [
        "Trace %s (ComfyUI execution messages; OpenClaw keeps no trace record of this job):"
        % pid,
        "2026-02-07T12:00:00Z started",
        "2026-02-07T12:00:00Z cached: 4, 7",
        "2026-02-07T12:00:02Z finished successfully"]


@pytest.mark.gen_test(timeout=10)
async def test_trace_names_the_failed_node_and_an_interrupt(tmp_path):
    async with stack(tmp_path, fake={"clock": FakeClock(T0)}) as env:
        failed = env.fake.submit()
        env.fake.fail_job(failed, node_type="KSampler", message="CUDA out of memory",
                          node_id="3", duration=4)
        stopped = env.fake.submit()
        env.fake.interrupt(stopped)
        running = env.fake.submit()
        waiting = env.fake.submit()
        fail_reply = await env.say("/trace %s" % failed)
        stop_reply = await env.say("/trace %s" % stopped)
        running_reply = await env.say("/trace %s" % running)
        waiting_reply = await env.say("/trace %s" % waiting)
    assert fail_reply.splitlines()[-1] == \
        "2026-02-07T12:00:04Z failed in KSampler (node 3): CUDA out of memory"
    assert stop_reply.splitlines()[-1] == "2026-02-07T12:00:00Z interrupted at KSampler (node 3)"
    assert running_reply.startswith("No trace for %s yet: it is running." % running)
    assert waiting_reply.startswith("No trace for %s yet: it is waiting in the queue." % waiting)


@pytest.mark.gen_test(timeout=10)
async def test_openclaw_trace_events_and_expiry_use_the_one_stamp_format(tmp_path):
    async with stack(tmp_path, fake={"clock": FakeClock(T0)}) as env:
        env.fake.add_trace("p2", "tr-9", events=["queued", "started"])
        traced = await env.say("/trace p2")
        requested = await env.say("/run portrait seed=2 --approval")
        forced = await env.say("/run portrait seed=3", ALLOWED)
        listed = await env.say("/approvals")
    for line in traced.splitlines()[1:]:
        assert STAMP.match(line), line
    expires = [ln for ln in requested.splitlines() if ln.startswith("Expires: ")]
    assert expires == ["Expires: 2026-02-07T13:00:00Z"]          # the server's 1 h TTL
    assert "Expires: 2026-02-07T13:00:00Z" in forced
    assert listed.count("expires 2026-02-07T13:00:00Z") == 2
    assert "UTC" not in listed
