"""OpenClawClient against the fake ComfyUI + OpenClaw, through the socket."""

from __future__ import annotations

import asyncio
import json

import pytest
from tornado.websocket import websocket_connect

from openclaw_connector.openclaw.client import (
    AdminTokenRejected, BadResponse, ImageRef, NotFound, RateLimited, ServerError, Unreachable)
from tests.commands.helpers import TOKEN, stack


@pytest.mark.gen_test(timeout=10)
async def test_admin_token_header_is_sent_on_every_call(tmp_path):
    """Every request carries X-OpenClaw-Admin-Token, and no Origin when a token is set."""
    async with stack(tmp_path) as env:
        await env.client.health()
        await env.client.queue()
        await env.client.approvals()
        await env.client.schedules()
        assert len(env.fake.requests) == 4
        for rec in env.fake.requests:
            assert rec.headers["X-OpenClaw-Admin-Token"] == TOKEN
            assert "Origin" not in rec.headers


@pytest.mark.gen_test(timeout=10)
async def test_convenience_mode_sends_origin_and_is_accepted(tmp_path):
    """No token + loopback URL: we send Origin = the server's own origin, which passes S33."""
    async with stack(tmp_path, server_token=None, client_token=None) as env:
        approvals = await env.client.approvals()
        assert approvals == ()
        rec = env.fake.calls("/openclaw/approvals")[0]
        assert rec.headers["Origin"] == env.fake.url
        assert "X-OpenClaw-Admin-Token" not in rec.headers


@pytest.mark.gen_test(timeout=10)
async def test_wrong_token_gives_admin_token_hint(tmp_path):
    async with stack(tmp_path, client_token="not-the-right-one") as env:
        with pytest.raises(AdminTokenRejected) as info:
            await env.client.approvals()
        assert str(info.value) == ("HTTP 403 (Admin Token): set OPENCLAW_CONNECTOR_ADMIN_TOKEN "
                                   "to the server's OPENCLAW_ADMIN_TOKEN")
        assert info.value.server_message == "Invalid admin token."
        # /openclaw/jobs words its denial differently but means the same.
        env.fake.fail_next(1, 404, b"", path="/api/jobs")
        with pytest.raises(AdminTokenRejected):
            await env.client.jobs()


@pytest.mark.gen_test(timeout=10)
async def test_down_server_is_unreachable_with_the_exact_sentence(tmp_path):
    async with stack(tmp_path) as env:
        url = env.fake.url
        await env.fake.go_down()
        with pytest.raises(Unreachable) as info:
            await env.client.health()
        assert str(info.value) == "ComfyUI is not reachable at %s (connection refused)." % url
        assert env.client.last_reachable is False
        await env.fake.come_up()
        assert (await env.client.health()).version == "1.0.7"
        assert env.client.last_reachable is True


@pytest.mark.gen_test(timeout=10)
async def test_slow_server_times_out(tmp_path):
    async with stack(tmp_path, openclaw__timeout_sec=0.2) as env:
        env.fake.delay(2.0, path="/api/queue")
        with pytest.raises(Unreachable) as info:
            await env.client.queue()
        assert info.value.reason == "timed out"


@pytest.mark.gen_test(timeout=10)
async def test_429_carries_retry_after_and_500_carries_the_server_text(tmp_path):
    async with stack(tmp_path) as env:
        env.fake.fail_next(1, 429, {"ok": False, "error": "jobs_rate_limited"},
                           path="/api/system_stats", headers={"Retry-After": "7"})
        with pytest.raises(RateLimited) as info:
            await env.client.system_stats()
        assert info.value.retry_after == 7.0
        assert str(info.value) == "OpenClaw is busy, retry in 7 s"
        env.fake.fail_next(1, 500, {"error": "Template loading failed"}, path="/schedules")
        with pytest.raises(ServerError) as err:
            await env.client.schedules()
        assert (err.value.status, err.value.message) == (500, "Template loading failed")


@pytest.mark.gen_test(timeout=10)
async def test_non_json_answer_is_bad_response(tmp_path):
    async with stack(tmp_path) as env:
        env.fake.fail_next(1, 200, b"<html>proxy</html>", path="/api/queue")
        with pytest.raises(BadResponse):
            await env.client.queue()


@pytest.mark.gen_test(timeout=10)
async def test_history_maps_every_outcome(tmp_path):
    """success / error with message / interrupted / running / queued / unknown."""
    async with stack(tmp_path) as env:
        c, fake = env.client, env.fake
        first, second, third = fake.submit(), fake.submit(), fake.submit()
        assert (await c.history(first)).state == "running"
        queued = await c.history(second)
        assert (queued.state, queued.queued) == ("running", True)
        fake.finish_job(first, images=["a.png", ("b.png", "sub", "temp")],
                        outputs={"12": {"gifs": [{"filename": "x.gif", "subfolder": "",
                                                  "type": "output"}]}}, duration=4.5)
        done = await c.history(first)
        assert done.state == "success" and done.duration_sec == pytest.approx(4.5)
        assert done.images == (ImageRef("a.png"), ImageRef("b.png", "sub", "temp"))
        assert [(o.kind, o.count) for o in done.other_outputs] == [("gifs", 1)]
        fake.fail_job(second, node_type="VAEDecode", message="CUDA out of memory")
        failed = await c.history(second)
        assert (failed.state, failed.error_node_type, failed.error_message) == (
            "error", "VAEDecode", "CUDA out of memory")
        fake.interrupt(third)
        assert (await c.history(third)).state == "interrupted"
        assert (await c.history("no-such-id")).state == "unknown"
        fake.restart()
        assert (await c.history(first)).state == "unknown"


@pytest.mark.gen_test(timeout=10)
async def test_view_returns_bytes_and_enforces_max_bytes(tmp_path):
    async with stack(tmp_path) as env:
        env.fake.register_view("a.png", b"\x89PNG" + b"x" * 100)
        assert (await env.client.view("a.png")).startswith(b"\x89PNG")
        with pytest.raises(BadResponse):
            await env.client.view("a.png", max_bytes=10)
        with pytest.raises(NotFound):
            await env.client.view("missing.png")
        rec = env.fake.calls("/api/view")[0]
        assert rec.query["filename"] == ["a.png"] and rec.query["type"] == ["output"]


@pytest.mark.gen_test(timeout=10)
async def test_queue_interrupt_and_delete_semantics(tmp_path):
    async with stack(tmp_path) as env:
        c, fake = env.client, env.fake
        running, pending = fake.submit(), fake.submit()
        q = await c.queue()
        assert q.running_ids == (running,) and q.pending_ids == (pending,)
        await c.interrupt(pending)          # not running: a no-op, as ComfyUI does
        assert (await c.queue()).running_ids == (running,)
        await c.delete_queued([running])    # only pending items are removed
        assert (await c.queue()).running_ids == (running,)
        await c.delete_queued([pending])
        assert (await c.queue()).pending_ids == ()
        await c.interrupt()
        assert (await c.queue()).running_ids == ()
        assert (await c.history(running)).state == "interrupted"
        assert await c.queue_remaining() == 0


@pytest.mark.gen_test(timeout=10)
async def test_approval_lifecycle_and_expiry_on_the_fake_clock(tmp_path):
    async with stack(tmp_path) as env:
        c, fake = env.client, env.fake
        fired = await c.fire("portrait", {"seed": "3"}, trace_base="t-1", require_approval=True)
        assert fired.approval_id is not None and fired.expires_at
        got = await c.approval(fired.approval_id)
        assert got.status == "pending" and got.inputs == {"seed": "3"}
        result = await c.approve(fired.approval_id, actor="telegram:1001")
        assert result.executed and result.prompt_id
        assert (await c.approval(fired.approval_id)).executed_prompt_id == result.prompt_id
        late = await c.fire("portrait", {}, trace_base="t-2", require_approval=True)
        fake.clock.advance(3601)
        assert (await c.approval(late.approval_id)).status == "pending"   # GET runs no expiry
        assert await c.approvals() == ()                                  # list does
        assert (await c.approval(late.approval_id)).status == "expired"
        with pytest.raises(NotFound):
            await c.approval("apr_missing")


@pytest.mark.gen_test(timeout=10)
async def test_fire_retries_429_with_new_trace_ids_until_the_budget_frees(tmp_path):
    """One submit in flight: the second fire gets 429s, retries as -r1, -r2 ... and queues."""
    async with stack(tmp_path) as env:
        c, fake = env.client, env.fake
        gate = fake.hold_submits()
        first = asyncio.ensure_future(c.fire("portrait", {}, trace_base="msg-a"))
        await fake.wait_request("/triggers/fire", count=1)
        second = asyncio.ensure_future(c.fire("portrait", {}, trace_base="msg-b"))
        await fake.wait_request("/triggers/fire", count=3)   # b, b-r1 refused
        gate.set()
        a, b = await first, await second
        assert a.prompt_id and b.prompt_id and a.prompt_id != b.prompt_id
        traces = [r.json["trace_id"] for r in fake.calls("/triggers/fire")]
        b_traces = [t for t in traces if t.startswith("msg-b")]
        assert b_traces[0] == "msg-b"
        assert b_traces[1:] == ["msg-b-r%d" % i for i in range(1, len(b_traces))]
        assert len(set(traces)) == len(traces)
        assert b.trace_id == b_traces[-1] and b.attempts == len(b_traces)


@pytest.mark.gen_test(timeout=10)
async def test_fire_gives_up_busy_after_submit_retry_sec(tmp_path):
    async with stack(tmp_path, openclaw__submit_retry_sec=0.2,
                     fake={"retry_after": 0.05}) as env:
        gate = env.fake.hold_submits()
        first = asyncio.ensure_future(env.client.fire("portrait", {}, trace_base="a"))
        await env.fake.wait_request("/triggers/fire", count=1)
        with pytest.raises(RateLimited):
            await env.client.fire("portrait", {}, trace_base="b")
        gate.set()
        assert (await first).prompt_id


@pytest.mark.gen_test(timeout=10)
async def test_deduped_null_is_a_failed_attempt_and_redelivery_is_deduped(tmp_path):
    async with stack(tmp_path) as env:
        c, fake = env.client, env.fake
        fake.fail_submit_next(1)
        with pytest.raises(ServerError) as info:
            await c.fire("portrait", {}, trace_base="m-1")
        assert info.value.message == "Queue submission failed: 400"
        # The same message again: the server answers deduped/null for "m-1", we go on to -r1.
        ok = await c.fire("portrait", {}, trace_base="m-1")
        assert ok.prompt_id and ok.trace_id == "m-1-r1"
        # Redelivered after success: the server's dedup returns the same prompt, nothing new runs.
        fake.fail_submit_next(0)
        good = await c.fire("portrait", {}, trace_base="m-2")
        again = await c.fire("portrait", {}, trace_base="m-2")
        assert again.prompt_id == good.prompt_id and again.deduped
        assert [r.json["trace_id"] for r in fake.calls("/triggers/fire")] == [
            "m-1", "m-1", "m-1-r1", "m-2", "m-2"]
        assert fake.model.queue_remaining() == 2


@pytest.mark.gen_test(timeout=10)
async def test_fake_websocket_broadcasts_status_on_queue_change(tmp_path):
    async with stack(tmp_path) as env:
        ws = await websocket_connect(env.fake.url.replace("http", "ws") + "/ws?clientId=abc")
        first = json.loads(await ws.read_message())
        assert first["type"] == "status"
        assert first["data"]["status"]["exec_info"]["queue_remaining"] == 0
        pid = env.fake.submit()
        msg = json.loads(await ws.read_message())
        assert msg["data"]["status"]["exec_info"]["queue_remaining"] == 1
        env.fake.finish_job(pid)
        msg = json.loads(await ws.read_message())
        assert msg["data"]["status"]["exec_info"]["queue_remaining"] == 0
        ws.close()


@pytest.mark.gen_test(timeout=10)
async def test_fake_denies_header_less_admin_calls_in_convenience_mode(tmp_path):
    """The fake is strict like the server: no Origin, no token -> 403 S33 (api §2.1)."""
    from tornado.httpclient import AsyncHTTPClient, HTTPRequest
    async with stack(tmp_path, server_token=None, client_token=None) as env:
        http = AsyncHTTPClient(force_instance=True)
        try:
            resp = await http.fetch(HTTPRequest(env.fake.url + "/openclaw/approvals",
                                                request_timeout=5), raise_error=False)
            assert resp.code == 403
            assert "Cross-origin request denied (S33)" in json.loads(resp.body)["error"]
            resp = await http.fetch(HTTPRequest(env.fake.url + "/openclaw/health",
                                                request_timeout=5), raise_error=False)
            assert resp.code == 200
        finally:
            http.close()
