"""One-tap buttons on Discord (issue 17): an action row out, MESSAGE_COMPONENT
interactions in, through the real daemon against the fake Discord and OpenClaw."""

from __future__ import annotations

import pytest

from tests.channels.discord.conftest import discord_config, ready
from tests.fakes.discord import CHANNEL_ID, GUILD_ID, USER_ID
from tests.fakes.discord_interactions import ACK_DEADLINE
from tests.fakes.openclaw import FakeOpenClaw
from tests.jobs.support import PNG, TOKEN
from tests.support import running_daemon

ADMIN = "1000000000000000042"
MEMBER = USER_ID
OTHER_CHANNEL = "1200000000000000777"


def config(fake, oc, tmp_path, **overrides):
    values = {"openclaw__url": oc.url, "openclaw__admin_token": TOKEN,
              "discord__allowed_channels": [CHANNEL_ID, OTHER_CHANNEL],
              "admin_users": ["discord:%s" % ADMIN], "results__poll_min_sec": 0.02,
              "results__poll_max_sec": 0.1, "results__approval_poll_sec": 0.05}
    values.update(overrides)
    return discord_config(fake, tmp_path / "state", **values)


def with_text(fake, needle):
    return [s for s in fake.sends if needle in s.content and s.status == 200]


async def request_approval(fake, oc):
    fake.message_create("/run portrait a red fox", guild_id=GUILD_ID, author_id=MEMBER)
    await fake.wait_for(lambda: with_text(fake, "[Approval Requested]"), what="request")
    (aid,) = oc.model.approvals
    message = next(m for m in fake.messages.values() if "[Approval Requested]" in m["content"])
    return aid, message["id"]


@pytest.mark.gen_test(timeout=15)
async def test_admin_press_on_approve_acks_type_6_runs_once_and_removes_buttons(
        fake_discord, tmp_path):
    """Two buttons; the admin's press is acked (type 6) within 3 s even while OpenClaw is
    slow, approves once, the result arrives once, a second press is refused."""
    fake = fake_discord
    async with FakeOpenClaw(admin_token=TOKEN) as oc:
        async with running_daemon(config(fake, oc, tmp_path)):
            await ready(fake)
            aid, mid = await request_approval(fake, oc)
            buttons = fake.buttons(mid)
            assert [(b["label"], b["style"]) for b in buttons] == [("Approve", 3),
                                                                  ("Reject", 4)]
            assert all(aid not in b["custom_id"] for b in buttons)
            gate = oc.hold("/approve")
            press = fake.component_click(mid, buttons[0]["custom_id"], user_id=ADMIN)
            await fake.wait_for(lambda: press.callback is not None, what="ack")
            assert press.callback == {"type": 6}
            assert press.callback_at - press.created < ACK_DEADLINE
            assert oc.model.approvals[aid]["status"] == "pending"    # OpenClaw still held
            gate.set()
            await fake.wait_for(lambda: with_text(fake, "[Approved]"), what="approved")
            await fake.wait_for(lambda: fake.buttons(mid) == [], what="buttons removed")
            again = fake.component_click(mid, buttons[0]["custom_id"], user_id=ADMIN)
            await fake.wait_for(lambda: again.callback is not None, what="second ack")
            assert again.callback["type"] == 4 and again.callback["data"]["flags"] == 64
            assert "already done" in again.callback["data"]["content"].lower()
            pid = oc.model.approvals[aid]["metadata"]["executed_prompt_id"]
            oc.register_view("a.png", PNG)
            oc.finish_job(pid, images=["a.png"])
            await fake.wait_for(lambda: with_text(fake, "[Done]"), what="result")
        assert len(oc.calls("/approve", "POST")) == 1
        assert len(with_text(fake, "[Done]")) == 1


@pytest.mark.gen_test(timeout=15)
async def test_member_press_is_denied_and_foreign_or_forged_presses_are_refused(
        fake_discord, tmp_path):
    """A non-admin's Approve is 'Access denied' (as typed); a forged custom_id and a
    button pressed in another channel get an ephemeral refusal; OpenClaw sees nothing."""
    fake = fake_discord
    async with FakeOpenClaw(admin_token=TOKEN) as oc:
        async with running_daemon(config(fake, oc, tmp_path)):
            await ready(fake)
            aid, mid = await request_approval(fake, oc)
            token = fake.buttons(mid)[0]["custom_id"]
            denied = fake.component_click(mid, token, user_id=MEMBER)
            await fake.wait_for(lambda: with_text(fake, "Access denied"), what="denied")
            assert denied.callback == {"type": 6}
            forged = fake.component_click(mid, "approve:" + aid, user_id=ADMIN)
            foreign = fake.component_click(mid, token, user_id=ADMIN,
                                           channel_id=OTHER_CHANNEL)
            await fake.wait_for(lambda: forged.callback is not None and
                                foreign.callback is not None, what="refusals")
            assert "expired" in forged.callback["data"]["content"]
            assert "another chat" in foreign.callback["data"]["content"]
            assert fake.buttons(mid) != []
        assert oc.calls("/approve") == [] and oc.model.approvals[aid]["status"] == "pending"


@pytest.mark.gen_test(timeout=15)
async def test_again_on_a_result_reruns_with_a_new_seed(fake_discord, tmp_path):
    """The result's Again press fires the same inputs with another seed."""
    fake = fake_discord
    async with FakeOpenClaw(admin_token=TOKEN) as oc:
        async with running_daemon(config(fake, oc, tmp_path)):
            await ready(fake)
            fake.message_create("/run portrait a red fox seed=7", guild_id=GUILD_ID,
                                author_id=ADMIN)
            fire = await oc.wait_request("/triggers/fire", "POST")
            await fake.wait_for(lambda: with_text(fake, "[Queued]"), what="queued")
            oc.finish_job(images=[])
            await fake.wait_for(lambda: with_text(fake, "[Done]"), what="done")
            message = next(m for m in fake.messages.values() if "[Done]" in m["content"])
            labels = [b["label"] for b in fake.buttons(message["id"])]
            assert labels == ["Again", "Details"]
            fake.component_click(message["id"], fake.buttons(message["id"])[0]["custom_id"],
                                 user_id=ADMIN)
            refire = await oc.wait_request("/triggers/fire", "POST", count=2)
    assert refire.json["inputs"]["prompt"] == fire.json["inputs"]["prompt"] == "a red fox"
    assert fire.json["inputs"]["seed"] == 7 and refire.json["inputs"]["seed"] != 7


@pytest.mark.gen_test(timeout=15)
async def test_a_replayed_press_runs_once(fake_discord, tmp_path):
    """The same INTERACTION_CREATE delivered twice (a gateway replay) is answered once and
    its command runs once."""
    fake = fake_discord
    async with FakeOpenClaw(admin_token=TOKEN) as oc:
        async with running_daemon(config(fake, oc, tmp_path)):
            await ready(fake)
            aid, mid = await request_approval(fake, oc)
            press = fake.component_click(mid, fake.buttons(mid)[0]["custom_id"], user_id=ADMIN)
            fake.emit("INTERACTION_CREATE", press.d)                    # the replay
            await fake.wait_for(lambda: with_text(fake, "[Approved]"), what="approved")
            fake.message_create("/help", guild_id=GUILD_ID, author_id=ADMIN)   # a barrier
            await fake.wait_for(lambda: with_text(fake, "Commands:"), what="barrier")
        assert press.callback == {"type": 6}
        assert len(oc.calls("/approve", "POST")) == 1
        assert len(with_text(fake, "[Approved] %s\n" % aid)) == 1


@pytest.mark.gen_test(timeout=15)
async def test_slash_reply_with_buttons_is_a_message_and_the_thinking_answer_goes(
        fake_discord, tmp_path):
    """A slash /approvals answer with buttons is posted as a normal message (one the bot
    token can clear later, unlike the 15-minute interaction answer) and "thinking…" is
    deleted."""
    fake = fake_discord
    async with FakeOpenClaw(admin_token=TOKEN) as oc:
        async with running_daemon(config(fake, oc, tmp_path,
                                         discord__slash_commands=True)):
            await ready(fake)
            aid, _mid = await request_approval(fake, oc)
            item = fake.interaction_create("approvals", user_id=ADMIN)
            await fake.wait_for(lambda: item.deleted, what="thinking deleted")
            listed = next(m for m in fake.messages.values()
                          if m["content"].startswith("Pending approvals"))
        assert item.callback == {"type": 5} and item.original is None
        assert [b["label"] for b in fake.buttons(listed["id"])] == [
            "Approve %s" % aid[-6:], "Reject %s" % aid[-6:]]
