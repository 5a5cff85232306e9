"""One-tap buttons on LINE (issue 17): a buttons template of postback actions out,
postback events in, through the whole daemon against the fake LINE and OpenClaw."""

from __future__ import annotations

import pytest

from tests.channels.webhooks.support import ADMIN_TOKEN, ALICE_LINE, BOB_LINE, GROUP, \
    LINE_TOKEN, post_line, webhook_config
from tests.channels.webhooks.test_daemon_webhooks import daemon_url
from tests.fakes import line as fline
from tests.fakes.openclaw import FakeOpenClaw
from tests.jobs.support import PNG
from tests.support import running_daemon


def config(tmp_path, fl, oc):
    return webhook_config(tmp_path, line=fl, **{
        "openclaw.url": oc.url, "admin_users": ["line:%s" % ALICE_LINE],
        "results.poll_min_sec": 0.02, "results.poll_max_sec": 0.1,
        "results.approval_poll_sec": 0.05})


async def tap(daemon, data, user, *, group=GROUP, event_id=""):
    event = fline.postback_event(data, user_id=user, group_id=group, event_id=event_id)
    resp = await post_line(daemon_url(daemon, "line"), fline.body_of(event))
    assert resp.code == 200
    return event


@pytest.mark.gen_test(timeout=15)
async def test_line_postback_approves_once_and_permissions_are_the_tappers(tmp_path):
    """Bob (not an admin) asks in the group: a template with Approve/Reject arrives.
    Bob's tap is denied, Alice's approves once (a redelivered tap runs nothing), a
    second tap is told it was done, a forged postback is refused; the job's result
    arrives once."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fl, \
            FakeOpenClaw(admin_token=ADMIN_TOKEN) as oc:
        async with running_daemon(config(tmp_path, fl, oc)) as daemon:
            await post_line(daemon_url(daemon, "line"), fline.body_of(fline.text_event(
                "/run portrait a red fox", user_id=BOB_LINE, group_id=GROUP)))
            await fl.wait_until(lambda: fline.postbacks(fl.delivered), what="template")
            (aid,) = oc.model.approvals
            approve, reject = fline.postbacks(fl.delivered)
            assert (approve["label"], reject["label"]) == ("Approve", "Reject")
            assert aid not in approve["data"] and "displayText" not in approve
            await tap(daemon, approve["data"], BOB_LINE)
            await fl.wait_until(lambda: any("Access denied" in t for t in fl.texts()),
                                what="denied")
            assert oc.calls("/approve") == []
            first = await tap(daemon, approve["data"], ALICE_LINE)
            await fl.wait_until(lambda: any(t.startswith("[Approved]") for t in fl.texts()),
                                what="approved")
            await tap(daemon, approve["data"], ALICE_LINE, event_id=first["webhookEventId"])
            await tap(daemon, reject["data"], ALICE_LINE)
            await fl.wait_until(lambda: any("Already done" in t for t in fl.texts()),
                                what="already done")
            await tap(daemon, "approve:" + aid, ALICE_LINE)
            await fl.wait_until(lambda: any("expired" in t for t in fl.texts()),
                                what="forged refused")
            pid = oc.model.approvals[aid]["metadata"]["executed_prompt_id"]
            oc.register_view("a.png", PNG)
            oc.finish_job(pid, images=["a.png"])
            await fl.wait_until(lambda: any("[Done]" in t for t in fl.texts()), what="result")
        assert len(oc.calls("/approve", "POST")) == 1 and oc.calls("/reject") == []
        assert sum("[Done]" in t for t in fl.texts()) == 1


@pytest.mark.gen_test(timeout=15)
async def test_line_button_from_another_chat_is_refused(tmp_path):
    """A token shown in the group does nothing when tapped in a private chat."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fl, \
            FakeOpenClaw(admin_token=ADMIN_TOKEN) as oc:
        async with running_daemon(config(tmp_path, fl, oc)) as daemon:
            await post_line(daemon_url(daemon, "line"), fline.body_of(fline.text_event(
                "/run portrait a red fox", user_id=BOB_LINE, group_id=GROUP)))
            await fl.wait_until(lambda: fline.postbacks(fl.delivered), what="template")
            approve = fline.postbacks(fl.delivered)[0]
            await tap(daemon, approve["data"], ALICE_LINE, group="")
            await fl.wait_until(lambda: any("another chat" in t for t in fl.texts()),
                                what="refusal")
        assert oc.calls("/approve") == []
