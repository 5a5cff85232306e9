"""Approvals: the requester hears [Approved] (+ the result), [Rejected] or [Expired],
whether the decision is made in chat or in the OpenClaw web UI (openclaw-api.md §4.3)."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from tests.fakes.openclaw import FakeOpenClaw
from tests.jobs.support import PNG, TOKEN, job_env, until


async def _web_ui(fake, approval_id: str, action: str, actor: str = "webui") -> dict:
    """Decide an approval the way the OpenClaw web UI does: the HTTP endpoint."""
    http = AsyncHTTPClient(force_instance=True)
    try:
        resp = await http.fetch(HTTPRequest(
            "%s/openclaw/approvals/%s/%s" % (fake.url, approval_id, action), method="POST",
            body=json.dumps({"actor": actor}), headers={"X-OpenClaw-Admin-Token": TOKEN},
            connect_timeout=2, request_timeout=2))
    finally:
        http.close()
    return json.loads(resp.body)


async def _request_approval(fake, daemon) -> str:
    daemon.pipe.send("/run portrait --approval")
    await daemon.out.wait_for("[Approval Requested]")
    (approval_id,) = fake.model.approvals
    assert any(w.ref_id == approval_id for w in daemon.jobs.introspect().pending)
    return approval_id


@pytest.mark.gen_test(timeout=10)
async def test_approved_in_the_web_ui_tells_the_requester_then_delivers(tmp_path):
    async with job_env(tmp_path) as (fake, daemon):
        aid = await _request_approval(fake, daemon)
        body = await _web_ui(fake, aid, "approve")
        pid = body["prompt_id"]
        text = await daemon.out.wait_for("Executed: %s" % pid)
        assert "[Approved] %s · portrait by webui. Executed: %s" % (aid, pid) in text
        fake.register_view("a.png", PNG)
        fake.finish_job(pid, images=["a.png"])
        text = await daemon.out.wait_for("[image] a.png")
    assert text.index("[Approved] %s" % aid) < text.index("[Done] portrait · %s" % pid[:8])
    assert text.count("[Done]") == 1


@pytest.mark.gen_test(timeout=10)
async def test_approved_in_chat_result_reaches_the_admin_chat_once(tmp_path):
    """/approve in the requester's own chat: one [Approved] reply, one result."""
    async with job_env(tmp_path) as (fake, daemon):
        aid = await _request_approval(fake, daemon)
        daemon.pipe.send("/approve %s" % aid)
        text = await daemon.out.wait_for("Executed: ")
        pid = fake.model.approvals[aid]["metadata"]["executed_prompt_id"]
        fake.register_view("a.png", PNG)
        fake.finish_job(pid, images=["a.png"])
        await daemon.out.wait_for("[image] a.png")
        await until(lambda: daemon.jobs.introspect().pending == [])
    text = daemon.out.text
    assert text.count("[Done] portrait · %s" % pid[:8]) == 1
    assert text.count("Executed: %s" % pid) == 1


@pytest.mark.gen_test(timeout=10)
async def test_rejected_in_the_web_ui(tmp_path):
    async with job_env(tmp_path) as (fake, daemon):
        aid = await _request_approval(fake, daemon)
        await _web_ui(fake, aid, "reject", actor="alice")
        text = await daemon.out.wait_for("[Rejected]")
    assert "[Rejected] %s · portrait by alice" % aid in text
    assert daemon.jobs.introspect().pending == []


@pytest.mark.gen_test(timeout=10)
async def test_rejected_in_chat(tmp_path):
    async with job_env(tmp_path) as (fake, daemon):
        aid = await _request_approval(fake, daemon)
        daemon.pipe.send("/reject %s not today" % aid)
        text = await daemon.out.wait_for("[Rejected] %s · portrait" % aid)
    assert "[Rejected] %s" % aid in text


@pytest.mark.gen_test(timeout=10)
async def test_expired_on_the_server_is_reported(tmp_path):
    async with job_env(tmp_path) as (fake, daemon):
        aid = await _request_approval(fake, daemon)
        fake.clock.advance(3601)
        fake.model.expire_due()           # what listing approvals does on the server
        text = await daemon.out.wait_for("[Expired]")
    assert "[Expired] %s · portrait" % aid in text


@pytest.mark.gen_test(timeout=10)
async def test_still_pending_past_expires_at_plus_grace_is_expired(tmp_path):
    """GET approvals/{id} never runs expiry; past expires_at + 60 s we say it ourselves."""
    fake = await FakeOpenClaw(admin_token=TOKEN, approval_ttl_sec=-61).start()
    try:
        async with job_env(tmp_path, fake=fake) as (_fake, daemon):
            aid = await _request_approval(fake, daemon)
            text = await daemon.out.wait_for("[Expired]")
            assert fake.model.approvals[aid]["status"] == "pending"
    finally:
        await fake.stop()
    assert "[Expired] %s" % aid in text


@pytest.mark.gen_test(timeout=10)
async def test_approved_but_never_executed_is_said_after_expiry(tmp_path):
    fake = await FakeOpenClaw(admin_token=TOKEN, approval_ttl_sec=-61).start()
    try:
        async with job_env(tmp_path, fake=fake) as (_fake, daemon):
            daemon.pipe.send("/run portrait --approval")
            await daemon.out.wait_for("[Approval Requested]")
            (aid,) = fake.model.approvals
            fake.model.approvals[aid]["status"] = "approved"   # submit failed: no prompt id
            text = await daemon.out.wait_for("did not start the job")
    finally:
        await fake.stop()
    assert "[Approved] %s · portrait" % aid in text


@pytest.mark.gen_test(timeout=15)
async def test_approval_decided_while_the_daemon_was_down_is_reported_after_start(tmp_path):
    fake = await FakeOpenClaw(admin_token=TOKEN).start()
    try:
        async with job_env(tmp_path, fake=fake) as (_fake, daemon):
            aid = await _request_approval(fake, daemon)
        body = await _web_ui(fake, aid, "approve")
        fake.finish_job(body["prompt_id"])
        async with job_env(tmp_path, fake=fake) as (_fake, again):
            text = await again.out.wait_for("[Done]")
    finally:
        await fake.stop()
    assert "[Approved] %s · portrait by webui. Executed: %s" % (aid, body["prompt_id"]) in text
    assert text.index("[Approved]") < text.index("[Done] portrait · %s · 1.0 s · no outputs"
                                                 % body["prompt_id"][:8])
