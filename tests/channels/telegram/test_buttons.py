"""One-tap buttons on Telegram (issue 17): inline keyboards out, callback queries in,
through the real daemon (router, permissions, JobWatcher) against the fakes."""

from __future__ import annotations

import pytest

from tests.fakes.openclaw import FakeOpenClaw
from tests.fakes.telegram import FakeTelegram
from tests.channels.telegram.support import telegram_config
from tests.jobs.support import PNG, TOKEN, until
from tests.support import running_daemon

ADMIN, MEMBER, STRANGER = 42, 43, 44
GROUP = -1001234567890


def config(tmp_path, tg, oc, **overrides):
    values = {"telegram.allowed_users": [str(ADMIN), str(MEMBER)],
              "admin_users": ["telegram:%d" % ADMIN], "openclaw.url": oc.url,
              "openclaw.admin_token": TOKEN, "results.poll_min_sec": 0.02,
              "results.poll_max_sec": 0.1, "results.approval_poll_sec": 0.05}
    values.update(overrides)
    return telegram_config(tmp_path, tg, **values)


def keyboard_message(tg, chat, needle):
    """The (message id, buttons) of the bot's message in ``chat`` whose text has ``needle``."""
    for (chat_id, mid), message in sorted(tg.messages.items()):
        if chat_id == str(chat) and needle in (message.get("text") or ""):
            return mid, tg.buttons(chat, mid)
    raise AssertionError("no message with %r in %s" % (needle, chat))


async def request_approval(tg, oc):
    """MEMBER (not an admin) asks for a run in the group: it needs an approval."""
    tg.queue_message("/run portrait a red fox", user_id=MEMBER, chat_id=GROUP,
                     chat_type="supergroup")
    await tg.wait_until(lambda: any("[Approval Requested]" in t for t in tg.texts(GROUP)))
    (aid,) = oc.model.approvals
    mid, buttons = keyboard_message(tg, GROUP, "[Approval Requested]")
    return aid, mid, buttons


async def answer_of(tg, query_id):
    await tg.wait_until(lambda: query_id in tg.callback_answers)
    return tg.callback_answers[query_id]


@pytest.mark.gen_test(timeout=15)
async def test_admin_tap_on_approve_runs_once_and_removes_the_buttons(tmp_path):
    """The request carries Approve/Reject; the admin's tap approves, the job's result
    arrives once, a second tap is told it was done, and the keyboard goes away."""
    async with FakeOpenClaw(admin_token=TOKEN) as oc, FakeTelegram() as tg:
        async with running_daemon(config(tmp_path, tg, oc)):
            aid, mid, buttons = await request_approval(tg, oc)
            assert [b["text"] for b in buttons] == ["Approve", "Reject"]
            assert all(aid not in b["callback_data"] for b in buttons)   # opaque tokens
            assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)
            first = tg.queue_callback(buttons[0]["callback_data"], message_id=mid,
                                      user_id=ADMIN, chat_id=GROUP, chat_type="supergroup")
            assert "text" not in await answer_of(tg, first)
            await tg.wait_until(lambda: any("[Approved]" in t for t in tg.texts(GROUP)))
            await tg.wait_until(lambda: tg.markup(GROUP, mid) is None)
            assert (str(GROUP), mid, None) in tg.markup_edits
            second = tg.queue_callback(buttons[0]["callback_data"], message_id=mid,
                                       user_id=ADMIN, chat_id=GROUP, chat_type="supergroup")
            assert "already done" in (await answer_of(tg, second))["text"].lower()
            pid = oc.model.approvals[aid]["metadata"]["executed_prompt_id"]
            oc.register_view("a.png", PNG)
            oc.finish_job(pid, images=["a.png"])
            await tg.wait_until(lambda: tg.count("sendPhoto") >= 1)
            await tg.wait_until(lambda: any("[Done]" in t for t in tg.texts(GROUP)))
        assert len(oc.calls("/approve", "POST")) == 1
        assert tg.count("sendPhoto") == 1
        assert sum("[Done]" in t for t in tg.texts(GROUP)) == 1


@pytest.mark.gen_test(timeout=15)
async def test_member_tap_on_approve_is_denied_and_reaches_nothing(tmp_path):
    """Permissions are the tapper's: a non-admin's Approve is 'Access denied', exactly as
    typed, OpenClaw sees no approve, and the buttons still work for the admin."""
    async with FakeOpenClaw(admin_token=TOKEN) as oc, FakeTelegram() as tg:
        async with running_daemon(config(tmp_path, tg, oc)):
            aid, mid, buttons = await request_approval(tg, oc)
            tap = tg.queue_callback(buttons[0]["callback_data"], message_id=mid,
                                    user_id=MEMBER, chat_id=GROUP, chat_type="supergroup")
            await answer_of(tg, tap)
            await tg.wait_until(lambda: any("Access denied" in t for t in tg.texts(GROUP)))
            assert oc.calls("/approve") == []
            assert tg.markup(GROUP, mid) is not None
            stranger = tg.queue_callback(buttons[1]["callback_data"], message_id=mid,
                                         user_id=STRANGER, chat_id=GROUP,
                                         chat_type="supergroup")
            await answer_of(tg, stranger)
            reject = tg.queue_callback(buttons[1]["callback_data"], message_id=mid,
                                       user_id=ADMIN, chat_id=GROUP, chat_type="supergroup")
            await answer_of(tg, reject)
            await tg.wait_until(lambda: any(t.startswith("[Rejected]") for t in tg.texts(GROUP)))
            await tg.wait_until(lambda: tg.markup(GROUP, mid) is None)
        assert len(oc.calls("/reject", "POST")) == 1 and oc.calls("/approve") == []
        assert oc.model.approvals[aid]["status"] == "rejected"


@pytest.mark.gen_test(timeout=15)
async def test_forged_expired_and_foreign_tokens_are_refused_without_effect(tmp_path):
    """Unknown data, an expired token and a button tapped in another chat get a short
    answerCallbackQuery text and no command."""
    async with FakeOpenClaw(admin_token=TOKEN) as oc, FakeTelegram() as tg:
        async with running_daemon(config(tmp_path, tg, oc)):
            aid, mid, buttons = await request_approval(tg, oc)
            forged = tg.queue_callback("/approve %s" % aid, message_id=mid, user_id=ADMIN,
                                       chat_id=GROUP, chat_type="supergroup")
            assert "expired" in (await answer_of(tg, forged))["text"]
            foreign = tg.queue_callback(buttons[0]["callback_data"], message_id=mid,
                                        user_id=ADMIN)   # the admin's private chat
            assert "another chat" in (await answer_of(tg, foreign))["text"]
        assert oc.calls("/approve") == [] and oc.model.approvals[aid]["status"] == "pending"
    async with FakeOpenClaw(admin_token=TOKEN) as oc, FakeTelegram() as tg:
        async with running_daemon(config(tmp_path / "short", tg, oc,
                                         **{"buttons.token_ttl_sec": 0.001})):
            aid, mid, buttons = await request_approval(tg, oc)
            late = tg.queue_callback(buttons[0]["callback_data"], message_id=mid,
                                     user_id=ADMIN, chat_id=GROUP, chat_type="supergroup")
            assert "expired" in (await answer_of(tg, late))["text"]
        assert oc.calls("/approve") == []


@pytest.mark.gen_test(timeout=15)
async def test_tap_is_answered_before_a_slow_openclaw_answers(tmp_path):
    """answerCallbackQuery goes out first, while the approve call is still held; a double
    tap meanwhile is told it is in progress and approves nothing more."""
    async with FakeOpenClaw(admin_token=TOKEN) as oc, FakeTelegram() as tg:
        async with running_daemon(config(tmp_path, tg, oc)):
            aid, mid, buttons = await request_approval(tg, oc)
            gate = oc.hold("/approve")
            tap = tg.queue_callback(buttons[0]["callback_data"], message_id=mid,
                                    user_id=ADMIN, chat_id=GROUP, chat_type="supergroup")
            await answer_of(tg, tap)
            await oc.wait_request("/approve", "POST")
            assert oc.model.approvals[aid]["status"] == "pending"    # still held
            double = tg.queue_callback(buttons[0]["callback_data"], message_id=mid,
                                       user_id=ADMIN, chat_id=GROUP, chat_type="supergroup")
            assert "in progress" in (await answer_of(tg, double))["text"]
            gate.set()
            await tg.wait_until(lambda: any("[Approved]" in t for t in tg.texts(GROUP)))
        assert len(oc.calls("/approve", "POST")) == 1


@pytest.mark.gen_test(timeout=15)
async def test_again_reruns_the_same_inputs_with_a_new_seed_and_details_shows_history(tmp_path):
    """A result carries Again and Details; each tap on Again fires the same prompt with
    a seed of its own (the button says seed=random, not a seed fixed at send time)."""
    async with FakeOpenClaw(admin_token=TOKEN) as oc, FakeTelegram() as tg:
        async with running_daemon(config(tmp_path, tg, oc)):
            tg.queue_message("/run portrait a red fox steps=30 seed=7", user_id=ADMIN)
            fire = await oc.wait_request("/triggers/fire", "POST")
            await tg.wait_until(lambda: any("[Queued]" in t for t in tg.texts(ADMIN)))
            pid = oc.finish_job(images=[])
            await tg.wait_until(lambda: any("[Done]" in t for t in tg.texts(ADMIN)))
            mid, buttons = keyboard_message(tg, ADMIN, "[Done]")
            assert [b["text"] for b in buttons] == ["Again", "Details"]
            refires = []
            for count in (2, 3):
                again = tg.queue_callback(buttons[0]["callback_data"], message_id=mid,
                                          user_id=ADMIN)
                assert "text" not in await answer_of(tg, again)     # granted, not refused
                refires.append(await oc.wait_request("/triggers/fire", "POST", count=count))
                await tg.wait_until(lambda: sum("[Queued]" in t for t in tg.texts(ADMIN))
                                    == count)
            details = tg.queue_callback(buttons[1]["callback_data"], message_id=mid,
                                        user_id=ADMIN)
            await answer_of(tg, details)
            await tg.wait_until(lambda: any(pid in t and "[Done]" not in t
                                            for t in tg.texts(ADMIN)[2:]))
    first, second, third = fire.json["inputs"], refires[0].json["inputs"], \
        refires[1].json["inputs"]
    assert first["prompt"] == second["prompt"] == third["prompt"] == "a red fox"
    assert first["steps"] == second["steps"] == third["steps"] == 30
    assert first["seed"] == 7
    assert all(isinstance(i["seed"], int) for i in (second, third))
    assert len({first["seed"], second["seed"], third["seed"]}) == 3
    assert fire.json["trace_id"] != refires[0].json["trace_id"] != refires[1].json["trace_id"]


@pytest.mark.gen_test(timeout=15)
async def test_buttons_go_when_the_request_is_decided_elsewhere(tmp_path):
    """Whoever decides (here the OpenClaw web UI), the keyboard is removed and a late tap
    on it is told the request was done."""
    from tests.jobs.test_approvals import _web_ui
    async with FakeOpenClaw(admin_token=TOKEN) as oc, FakeTelegram() as tg:
        async with running_daemon(config(tmp_path, tg, oc)):
            aid, mid, buttons = await request_approval(tg, oc)
            await _web_ui(oc, aid, "reject", actor="webui")
            await tg.wait_until(lambda: tg.markup(GROUP, mid) is None)
            late = tg.queue_callback(buttons[0]["callback_data"], message_id=mid,
                                     user_id=ADMIN, chat_id=GROUP, chat_type="supergroup")
            assert "already done" in (await answer_of(tg, late))["text"].lower()
        assert oc.calls("/approve") == []
