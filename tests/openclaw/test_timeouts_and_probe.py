"""openclaw.request_timeout_sec bounds each call; OpenClawClient.probe() is --check's view."""

from __future__ import annotations

import time

import pytest

from openclaw_connector.openclaw.client import Unreachable
from tests.commands.helpers import stack


@pytest.mark.gen_test(timeout=10)
async def test_request_timeout_sec_wins_over_timeout_sec(tmp_path):
    """timeout_sec 30 but request_timeout_sec 0.2: a 2 s answer is a timeout at ~0.2 s."""
    async with stack(tmp_path, openclaw__timeout_sec=30,
                     openclaw__request_timeout_sec=0.2) as env:
        env.fake.delay(2.0, path="/api/queue")
        began = time.monotonic()
        with pytest.raises(Unreachable) as info:
            await env.client.queue()
        took = time.monotonic() - began
    assert info.value.reason == "timed out"
    assert took < 1.5


@pytest.mark.gen_test(timeout=10)
async def test_probe_reports_health_and_the_admin_token(tmp_path):
    """Two lines, as --check prints them: the pack's version, and the token accepted."""
    async with stack(tmp_path) as env:
        results = await env.client.probe(2.0)
        paths = [r.path for r in env.fake.requests]
    assert [r.line() for r in results] == [
        "OK   comfyui: OpenClaw 1.0.7 at %s" % env.fake.url,
        "OK   comfyui admin token: accepted (0 pending approvals)"]
    assert paths == ["/openclaw/health", "/openclaw/approvals"]


@pytest.mark.gen_test(timeout=10)
async def test_probe_of_a_down_server_fails_and_skips_the_token(tmp_path):
    """Refused: FAIL with the fix, and the token check is skipped rather than failed."""
    async with stack(tmp_path) as env:
        await env.fake.go_down()
        results = await env.client.probe(2.0)
    assert [r.status for r in results] == ["FAIL", "SKIP"]
    assert "start ComfyUI, or set openclaw.url" in results[0].detail
