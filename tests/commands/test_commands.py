"""What each command answers, and each error path, through Router.handle and the fake."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import pytest

from openclaw_connector.metrics import Metrics
from tests.commands.helpers import ADMIN, ALLOWED, RecordingTracker, msg, stack

UNREACHABLE = "ComfyUI is not reachable at %s (connection refused)."
HINT = ("HTTP 403 (Admin Token): set OPENCLAW_CONNECTOR_ADMIN_TOKEN to the server's "
        "OPENCLAW_ADMIN_TOKEN")


# --------------------------------------------------------------------------- /status

@pytest.mark.gen_test(timeout=10)
async def test_status_reports_every_part(tmp_path):
    async with stack(tmp_path) as env:
        env.fake.submit()
        env.fake.submit()
        reply = await env.say("/status")
        assert reply.splitlines() == [
            "ComfyUI: reachable at %s (version 0.8.0)" % env.fake.url,
            "OpenClaw: ComfyUI-OpenClaw 1.0.7, ready",
            "OpenClaw logs: 42 processed, 0 errors captured",
            "Queue: 1 running, 1 pending",
            "Device: cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync, VRAM 20.0 GiB free of "
            "24.0 GiB",
            "RAM: 16.0 GiB free of 32.0 GiB"]


@pytest.mark.gen_test(timeout=10)
async def test_status_is_partial_when_one_call_fails(tmp_path):
    async with stack(tmp_path) as env:
        env.fake.fail_next(1, 500, {"error": "boom"}, path="/system_stats")
        env.fake.ready = False
        reply = await env.say("/status")
        assert "ComfyUI: reachable at %s" % env.fake.url in reply
        assert "OpenClaw: ComfyUI-OpenClaw 1.0.7, starting (not ready yet)" in reply
        assert "Queue: 0 running, 0 pending" in reply
        assert "System stats: OpenClaw answered HTTP 500: boom" in reply


@pytest.mark.gen_test(timeout=10)
async def test_status_says_pack_not_loaded(tmp_path):
    async with stack(tmp_path, fake={"pack_loaded": False}) as env:
        reply = await env.say("/status")
        assert "OpenClaw: pack not loaded (/openclaw/health answers 404)" in reply
        assert "Queue: 0 running, 0 pending" in reply


@pytest.mark.gen_test(timeout=10)
async def test_every_command_says_unreachable_when_comfyui_is_down(tmp_path):
    async with stack(tmp_path) as env:
        url = env.fake.url
        await env.fake.go_down()
        for text in ("/status", "/jobs", "/history x", "/run portrait", "/stop", "/approvals",
                     "/approve apr_1", "/reject apr_1", "/schedules", "/schedule run s",
                     "/trace x"):
            assert await env.say(text) == UNREACHABLE % url, text


@pytest.mark.gen_test(timeout=10)
async def test_admin_endpoints_answer_the_token_hint_on_403(tmp_path):
    async with stack(tmp_path, client_token="wrong-token-value") as env:
        for text in ("/approvals", "/approve apr_1", "/reject apr_1", "/schedules",
                     "/schedule run s", "/trace x", "/run portrait"):
            assert await env.say(text) == HINT, text


# --------------------------------------------------------------------------- /jobs, /history

@pytest.mark.gen_test(timeout=10)
async def test_jobs_empty_queue_says_so(tmp_path):
    async with stack(tmp_path) as env:
        assert await env.say("/jobs", ALLOWED) == "The queue is empty."


@pytest.mark.gen_test(timeout=10)
async def test_jobs_lists_running_pending_and_recent(tmp_path):
    async with stack(tmp_path) as env:
        done = env.fake.submit()
        env.fake.finish_job(done, images=["a.png", "b.png"], duration=3)
        failed = env.fake.submit()
        env.fake.fail_job(failed)
        running, pending = env.fake.submit(), env.fake.submit()
        reply = await env.say("/jobs")
        assert "Running: %s (queued" % running in reply
        assert "Pending: 1\n  %s (queued" % pending in reply
        assert "  %s completed, 2 outputs, took 3.0 s" % done in reply
        assert "  %s failed" % failed in reply


@pytest.mark.gen_test(timeout=10)
async def test_history_outcomes_in_words(tmp_path):
    async with stack(tmp_path) as env:
        ok, bad, stopped = env.fake.submit(), env.fake.submit(), env.fake.submit()
        waiting = env.fake.submit()
        assert await env.say("/history %s" % ok) == "Job %s: still running." % ok
        assert await env.say("/history %s" % waiting) == "Job %s: waiting in the queue." % waiting
        env.fake.finish_job(ok, images=["portrait_00001_.png"], duration=4.2)
        assert await env.say("/history %s" % ok, ALLOWED) == (
            "Job %s: success\nDuration: 4.2 s\nImages: 1 (portrait_00001_.png)" % ok)
        env.fake.fail_job(bad, node_type="KSampler", message="CUDA out of memory")
        assert (await env.say("/history %s" % bad)).startswith(
            "Job %s: error in KSampler (node 3): CUDA out of memory" % bad)
        env.fake.interrupt(stopped)
        assert (await env.say("/history %s" % stopped)).startswith(
            "Job %s: interrupted" % stopped)
        assert await env.say("/history nope") == (
            "Job nope: ComfyUI has no job with this id in its queue or its history; the ids "
            "of recent jobs are in /jobs.")
        assert (await env.say("/history")).startswith("Usage: /history <prompt id>")


# --------------------------------------------------------------------------- /run

@pytest.mark.gen_test(timeout=10)
async def test_admin_run_queues_and_tracker_is_told_first(tmp_path):
    async with stack(tmp_path) as env:
        inbound = msg('/run portrait positive_prompt="a cat\'s hat" seed=7', ADMIN,
                      message_id="55")
        reply = (await env.router.handle(inbound)).text
        pid = env.fake.model.running.prompt_id
        assert reply == "[Queued] portrait\nPrompt: %s" % pid
        assert env.tracker.prompts == [(pid, "portrait", inbound.chat)]
        body = env.fake.calls("/triggers/fire")[0].json
        assert body == {"template_id": "portrait", "require_approval": False,
                        "inputs": {"positive_prompt": "a cat's hat", "seed": 7},
                        "trace_id": "telegram-%s-55" % ADMIN}
        graph = env.fake.model.running.graph
        assert graph["6"]["inputs"]["text"] == "a cat's hat"


@pytest.mark.gen_test(timeout=10)
async def test_admin_run_with_approval_flag_gives_the_approval_block(tmp_path):
    async with stack(tmp_path) as env:
        reply = await env.say("/run --approval portrait seed=1")
        aid = env.fake.calls("/triggers/fire")[0]
        approval = next(iter(env.fake.model.approvals.values()))
        expires = dt.datetime.fromisoformat(approval["expires_at"]).astimezone(dt.timezone.utc)
        assert reply == "[Approval Requested]\nID: %s\nTrace: %s\nExpires: %s" % (
            approval["approval_id"], approval["trace_id"],
            expires.strftime("%Y-%m-%dT%H:%M:%SZ"))   # the seed's one format
        assert aid.json["require_approval"] is True
        assert env.tracker.approvals[0][:2] == (approval["approval_id"], "portrait")
        assert env.tracker.approvals[0][3] == approval["expires_at"]


@pytest.mark.gen_test(timeout=10)
async def test_non_admin_run_always_goes_through_approval(tmp_path):
    async with stack(tmp_path) as env:
        reply = await env.say("/run portrait seed=1", ALLOWED)
        assert reply.startswith("[Approval Requested]\nID: apr_")
        assert "need an admin's /approve" in reply
        assert env.fake.calls("/triggers/fire")[0].json["require_approval"] is True
        assert env.fake.model.queue_remaining() == 0
        assert len(env.tracker.approvals) == 1 and env.tracker.prompts == []


@pytest.mark.gen_test(timeout=10)
async def test_unknown_template_lists_available_ones(tmp_path):
    async with stack(tmp_path) as env:
        reply = await env.say("/run nosuch")
        assert reply == "Unknown template 'nosuch'.\nAvailable templates: portrait, upscale"
        usage = await env.say("/run")
        assert usage.startswith("Usage: /run <template>") and "portrait, upscale" in usage


@pytest.mark.gen_test(timeout=10)
async def test_run_rejects_loose_words_and_unknown_options(tmp_path):
    async with stack(tmp_path) as env:
        assert (await env.say("/run upscale a cat")).startswith(
            "Template upscale takes no free text")
        assert (await env.say("/run portrait --fast")).startswith("Unknown option --fast")
        assert env.fake.calls("/triggers/fire") == []


@pytest.mark.gen_test(timeout=10)
async def test_two_simultaneous_runs_both_get_queued(tmp_path):
    """The server admits one trigger submit at a time; the 429 loser retries and queues."""
    async with stack(tmp_path) as env:
        gate = env.fake.hold_submits()
        first = asyncio.ensure_future(env.say("/run portrait seed=1", ADMIN))
        await env.fake.wait_request("/triggers/fire", count=1)
        second = asyncio.ensure_future(env.say("/run portrait seed=2", ADMIN))
        await env.fake.wait_request("/triggers/fire", count=2)
        gate.set()
        a, b = await first, await second
        assert a.startswith("[Queued] portrait") and b.startswith("[Queued] portrait")
        assert env.fake.model.queue_remaining() == 2
        assert any(r.status == 429 for r in env.fake.calls("/triggers/fire"))


@pytest.mark.gen_test(timeout=10)
async def test_run_answers_busy_after_the_retry_window(tmp_path):
    async with stack(tmp_path, openclaw__submit_retry_sec=0.1,
                     fake={"retry_after": 3}) as env:
        gate = env.fake.hold_submits()
        first = asyncio.ensure_future(env.say("/run portrait", ADMIN))
        await env.fake.wait_request("/triggers/fire", count=1)
        assert await env.say("/run portrait", ADMIN) == "OpenClaw is busy, retry in 3 s"
        gate.set()
        assert (await first).startswith("[Queued]")


@pytest.mark.gen_test(timeout=10)
async def test_redelivered_message_is_not_run_twice(tmp_path):
    async with stack(tmp_path) as env:
        first = await env.router.handle(msg("/run portrait", ADMIN, message_id="9"))
        again = await env.router.handle(msg("/run portrait", ADMIN, message_id="9"))
        assert first.text == again.text
        assert env.fake.model.queue_remaining() == 1


@pytest.mark.gen_test(timeout=10)
async def test_failed_submit_says_why_and_a_redelivery_uses_a_new_trace_id(tmp_path):
    async with stack(tmp_path) as env:
        env.fake.fail_submit_next(1)
        failed = await env.router.handle(msg("/run portrait", ADMIN, message_id="10"))
        assert failed.text == "OpenClaw answered HTTP 500: Queue submission failed: 400"
        retried = await env.router.handle(msg("/run portrait", ADMIN, message_id="10"))
        assert retried.text.startswith("[Queued] portrait")
        base = "telegram-%s-10" % ADMIN
        assert [r.json["trace_id"] for r in env.fake.calls("/triggers/fire")] == [
            base, base, base + "-r1"]


@pytest.mark.gen_test(timeout=10)
async def test_a_broken_tracker_does_not_lose_the_reply(tmp_path, caplog):
    async with stack(tmp_path, tracker=RecordingTracker(fail=True)) as env:
        assert (await env.say("/run portrait")).startswith("[Queued] portrait")
    assert any("event=track_failed" in r.getMessage() for r in caplog.records)


@pytest.mark.gen_test(timeout=10)
async def test_run_without_a_tracker_still_queues(tmp_path):
    async with stack(tmp_path) as env:
        env.router.jobs = None
        assert (await env.say("/run portrait")).startswith("[Queued] portrait")


# --------------------------------------------------------------------------- /stop

@pytest.mark.gen_test(timeout=10)
async def test_stop_tells_truthfully_what_happened(tmp_path):
    async with stack(tmp_path) as env:
        assert await env.say("/stop") == "Nothing is running."
        running, pending = env.fake.submit(), env.fake.submit()
        assert await env.say("/stop %s" % pending) == (
            "[Removed] Pending job %s was removed from the queue." % pending)
        assert env.fake.calls("/api/queue", "POST")[0].json == {"delete": [pending]}
        assert await env.say("/stop nope") == (
            "Job nope is neither running nor pending; nothing to stop (see /history nope).")
        reply = await env.say("/stop %s" % running)
        assert reply.startswith("[Stopped] Interrupt sent for running job %s" % running)
        assert env.fake.calls("/api/interrupt")[0].json == {"prompt_id": running}
        assert env.fake.model.history[running]["status"]["status_str"] == "error"
        again = env.fake.submit()
        assert (await env.say("/stop")).startswith("[Stopped] Interrupt sent for %s" % again)
        assert env.fake.calls("/api/interrupt")[1].json == {}


# --------------------------------------------------------------------------- /trace

@pytest.mark.gen_test(timeout=10)
async def test_trace_404_points_to_history_and_events_are_listed(tmp_path):
    async with stack(tmp_path) as env:
        reply = await env.say("/trace p1")
        assert reply == ("No trace for p1: OpenClaw has no trace record and ComfyUI's history "
                         "has no job with this id (see /jobs for ids).")
        env.fake.add_trace("p2", "tr-9", events=["queued", "started"])
        listed = await env.say("/trace p2")
        assert listed.splitlines()[0] == "Trace p2 (trace id tr-9):"
        assert "queued source=webhook" in listed and "started" in listed


# --------------------------------------------------------------------------- approvals

@pytest.mark.gen_test(timeout=10)
async def test_approvals_list_and_approve_executes_and_tracks(tmp_path):
    async with stack(tmp_path) as env:
        assert await env.say("/approvals") == "No pending approvals."
        await env.say('/run portrait positive_prompt="red fox" seed=3', ALLOWED)
        aid = next(iter(env.fake.model.approvals))
        listing = await env.say("/approvals")
        assert listing.splitlines()[0] == "Pending approvals: 1"
        assert aid in listing and "portrait" in listing
        assert "positive_prompt=red fox, seed=3" in listing and "expires " in listing
        admin_msg = msg("/approve %s" % aid, ADMIN)
        reply = (await env.router.handle(admin_msg)).text
        pid = env.fake.model.running.prompt_id
        assert reply == "[Approved] %s\nExecuted: %s" % (aid, pid)
        assert env.fake.calls("/approve")[0].json == {"actor": "telegram:%s" % ADMIN,
                                                       "auto_execute": True}
        assert env.fake.model.approvals[aid]["decision_by"] == "telegram:%s" % ADMIN
        assert env.tracker.prompts == [(pid, "portrait", admin_msg.chat)]
        again = await env.say("/approve %s" % aid)
        assert again == "Cannot approve %s: Cannot approve request in status: approved" % aid


@pytest.mark.gen_test(timeout=10)
async def test_approve_not_executed_says_why(tmp_path):
    async with stack(tmp_path) as env:
        await env.say("/run portrait --approval")
        aid = next(iter(env.fake.model.approvals))
        env.fake.fail_submit_next(1)
        reply = await env.say("/approve %s" % aid)
        assert reply.splitlines()[:2] == ["[Approved] %s (Not Executed)" % aid,
                                          "Reason: Queue submission failed: 400"]
        assert env.tracker.prompts == []


@pytest.mark.gen_test(timeout=10)
async def test_approve_expired_and_unknown(tmp_path):
    async with stack(tmp_path) as env:
        await env.say("/run portrait --approval")
        aid = next(iter(env.fake.model.approvals))
        env.fake.clock.advance(3601)
        assert await env.say("/approve %s" % aid) == (
            "Cannot approve %s: Approval request has expired: %s" % (aid, aid))
        assert await env.say("/approve apr_nope") == "Approval request not found: apr_nope"
        assert (await env.say("/approve")).startswith("Usage: /approve")


@pytest.mark.gen_test(timeout=10)
async def test_reject_keeps_the_reason_in_our_log_only(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    async with stack(tmp_path) as env:
        await env.say("/run portrait --approval")
        aid = next(iter(env.fake.model.approvals))
        reply = await env.say('/reject %s "too dark" really' % aid)
        assert reply == "[Rejected] %s\nReason: \"too dark\" really" % aid
        sent = env.fake.calls("/reject")[0].json
        assert sent == {"actor": "telegram:%s" % ADMIN}
        assert env.fake.model.approvals[aid]["status"] == "rejected"
        assert await env.say("/reject %s" % aid) == (
            "Cannot reject %s: Cannot reject request in status: rejected" % aid)
    logged = [r.getMessage() for r in caplog.records if "event=rejected" in r.getMessage()]
    assert len(logged) == 1 and "too dark" in logged[0] and aid in logged[0]


# --------------------------------------------------------------------------- schedules

@pytest.mark.gen_test(timeout=10)
async def test_schedules_list_and_run(tmp_path):
    async with stack(tmp_path) as env:
        assert await env.say("/schedules") == "No schedules."
        env.fake.add_schedule("sched_a", name="hourly", cron_expr="0 * * * *")
        env.fake.add_schedule("sched_b", name="often", interval_sec=600, enabled=False)
        assert (await env.say("/schedules")).splitlines() == [
            "Schedules: 2",
            "sched_a  hourly  template=portrait  cron 0 * * * *  enabled",
            "sched_b  often  template=portrait  every 600 s  disabled"]
        reply = await env.say("/schedule run sched_a")
        assert reply == ("[Triggered] schedule sched_a (template portrait)\nThe server returns "
                         "no prompt id for schedule runs; follow it with /jobs.")
        assert env.fake.model.queue_remaining() == 1
        assert await env.say("/schedule run nope") == "Schedule not found: nope (see /schedules)"
        assert (await env.say("/schedule sched_a")).startswith("Usage: /schedule run")


@pytest.mark.gen_test(timeout=10)
async def test_schedule_run_allows_a_long_call_and_words_a_timeout(tmp_path):
    async with stack(tmp_path, openclaw__timeout_sec=0.05,
                     openclaw__schedule_run_timeout_sec=0.5) as env:
        env.fake.add_schedule("slow")
        env.fake.delay(0.2, path="/schedules/slow/run")     # longer than timeout_sec
        assert (await env.say("/schedule run slow")).startswith("[Triggered] schedule slow")
        env.fake.delay(2.0, path="/schedules/slow/run")
        assert await env.say("/schedule run slow") == (
            "The run of schedule slow was sent, but the server did not answer in time; check "
            "/jobs to see whether it started.")


@pytest.mark.gen_test(timeout=10)
async def test_jobs_falls_back_to_openclaw_jobs_when_comfyui_has_no_api_jobs(tmp_path):
    async with stack(tmp_path) as env:
        done = env.fake.submit()
        env.fake.finish_job(done)
        env.fake.fail_next(1, 405, b"405: Method Not Allowed", path="/api/jobs")
        reply = await env.say("/jobs")
        assert "  %s completed" % done in reply
        rec = env.fake.calls("/openclaw/jobs")[0]
        assert rec.status == 200 and set(rec.query) <= {"limit", "sort_order"}


@pytest.mark.gen_test(timeout=10)
async def test_run_says_pack_not_loaded_when_openclaw_routes_are_missing(tmp_path):
    async with stack(tmp_path, fake={"pack_loaded": False}) as env:
        reply = await env.say("/run portrait")
        assert reply == ("OpenClaw pack not loaded: %s answers 404 for triggers/fire."
                         % env.fake.url)


@pytest.mark.gen_test(timeout=10)
async def test_console_runs_after_a_restart_are_not_deduplicated(tmp_path):
    """Console message ids restart at 1 per process; a new router must not reuse trace ids."""
    from openclaw_connector.commands import Router
    async with stack(tmp_path) as env:
        first = await env.router.handle(msg("/run portrait", "console", platform="console",
                                            message_id="1", local_operator=True))
        restarted = Router(env.cfg, openclaw=env.client, jobs=None, metrics=Metrics(),
                           instance_tag=env.router.context.instance_tag + "x")
        second = await restarted.handle(msg("/run portrait", "console", platform="console",
                                            message_id="1", local_operator=True))
        assert first.text != second.text and second.text.startswith("[Queued]")
        assert env.fake.model.queue_remaining() == 2
