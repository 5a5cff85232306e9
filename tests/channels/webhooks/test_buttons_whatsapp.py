"""One-tap buttons on WhatsApp (issue 17): interactive reply buttons out, button replies
in, through the whole daemon against the fake Graph API and OpenClaw."""

from __future__ import annotations

import pytest

from tests.channels.webhooks.support import ADMIN_TOKEN, ALICE_WA, WA_TOKEN, post_wa, \
    webhook_config
from tests.channels.webhooks.test_daemon_webhooks import daemon_url
from tests.fakes import whatsapp as fwa
from tests.fakes.openclaw import FakeOpenClaw
from tests.jobs.support import PNG
from tests.support import running_daemon

BOB_WA = "15557654321"


def config(tmp_path, fw, oc):
    return webhook_config(tmp_path, wa=fw, **{
        "openclaw.url": oc.url, "admin_users": ["whatsapp:%s" % ALICE_WA],
        "whatsapp.allowed_users": [ALICE_WA, BOB_WA], "results.poll_min_sec": 0.02,
        "results.poll_max_sec": 0.1, "results.approval_poll_sec": 0.05})


async def say(daemon, wa_id, text):
    resp = await post_wa(daemon_url(daemon, "whatsapp"),
                         fwa.notification(messages=(fwa.text_message(wa_id, text),)))
    assert resp.code == 200


async def tap(daemon, wa_id, button, *, wamid=""):
    message = fwa.button_reply(wa_id, button["id"], title=button["title"], wamid=wamid)
    resp = await post_wa(daemon_url(daemon, "whatsapp"), fwa.notification(messages=(message,)))
    assert resp.code == 200
    return message


def buttons_to(fw, wa_id, needle):
    return next(fwa.reply_buttons(b) for b in fw.sent if b["to"] == wa_id and
                b.get("type") == "interactive" and needle in b["interactive"]["body"]["text"])


@pytest.mark.gen_test(timeout=15)
async def test_whatsapp_reply_buttons_approve_once_as_the_tapper(tmp_path):
    """Bob's request carries Approve/Reject; his own tap is denied. Alice approves from
    /approvals with one tap (a redelivered tap runs nothing, a second is told it was
    done), Bob hears [Approved] and gets the result once."""
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fw, \
            FakeOpenClaw(admin_token=ADMIN_TOKEN) as oc:
        async with running_daemon(config(tmp_path, fw, oc)) as daemon:
            await say(daemon, BOB_WA, "/run portrait a red fox")
            await fw.wait_until(lambda: any("[Approval Requested]" in t for t in fw.texts()),
                                what="request")
            (aid,) = oc.model.approvals
            approve, reject = buttons_to(fw, BOB_WA, "[Approval Requested]")
            assert (approve["title"], reject["title"]) == ("Approve", "Reject")
            assert aid not in approve["id"]
            await tap(daemon, BOB_WA, approve)
            await fw.wait_until(lambda: any("Access denied" in t for t in fw.texts()),
                                what="denied")
            assert oc.calls("/approve") == []
            await say(daemon, ALICE_WA, "/approvals")
            await fw.wait_until(lambda: any("Pending approvals" in t for t in fw.texts()),
                                what="list")
            listed = buttons_to(fw, ALICE_WA, "Pending approvals")
            assert [b["title"] for b in listed] == ["Approve %s" % aid[-6:],
                                                    "Reject %s" % aid[-6:]]
            first = await tap(daemon, ALICE_WA, listed[0])
            await fw.wait_until(lambda: any(t.startswith("[Approved]") for t in fw.texts()),
                                what="approved")
            await tap(daemon, ALICE_WA, listed[0], wamid=first["id"])      # redelivery
            await tap(daemon, BOB_WA, approve)
            await fw.wait_until(lambda: any("Already done" in t for t in fw.texts()),
                                what="already done")
            pid = oc.model.approvals[aid]["metadata"]["executed_prompt_id"]
            oc.register_view("a.png", PNG)
            oc.finish_job(pid, images=["a.png"])
            await fw.wait_until(lambda: any(b.get("type") == "image" for b in fw.sent),
                                what="result")
        assert len(oc.calls("/approve", "POST")) == 1
        results = [b for b in fw.sent if b["to"] == BOB_WA and b.get("type") == "interactive"
                   and "[Done]" in b["interactive"]["body"]["text"]]
        assert len(results) == 1            # the caption with Again/Details, once
        assert [b["title"] for b in fwa.reply_buttons(results[0])] == ["Again", "Details"]
        assert sum(b.get("type") == "image" and b["to"] == BOB_WA for b in fw.sent) == 1


@pytest.mark.gen_test(timeout=15)
async def test_more_than_three_actions_go_out_as_typed_commands(tmp_path):
    """Two pending requests make four actions: over WhatsApp's three, so /approvals
    lists the commands as text; a forged button id is refused."""
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fw, \
            FakeOpenClaw(admin_token=ADMIN_TOKEN) as oc:
        async with running_daemon(config(tmp_path, fw, oc)) as daemon:
            for n in range(2):
                await say(daemon, BOB_WA, "/run portrait fox %d" % n)
                await fw.wait_until(lambda: len(oc.model.approvals) == n + 1, what="request")
            await say(daemon, ALICE_WA, "/approvals")
            await fw.wait_until(lambda: any("Pending approvals" in t for t in fw.texts()),
                                what="list")
            await tap(daemon, ALICE_WA, {"id": "approve-" + next(iter(oc.model.approvals)),
                                         "title": "Approve"})
            await fw.wait_until(lambda: any("expired" in t for t in fw.texts()),
                                what="refusal")
        to_alice = [b for b in fw.sent if b["to"] == ALICE_WA]
        assert not any(b.get("type") == "interactive" for b in to_alice)
        commands = [t for t in fw.texts() if t.startswith("Approve ")]
        assert len(commands) == 1
        assert all("/approve %s" % aid in commands[0] and "/reject %s" % aid in commands[0]
                   for aid in oc.model.approvals)
        assert oc.calls("/approve") == []
