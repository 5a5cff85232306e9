"""Telegram: the command menu is published at start, and a plain message in a private
chat runs ``default_template`` (never in a group) — through the fake Bot API."""

from __future__ import annotations

import pytest

from tests.fakes.openclaw import FakeOpenClaw
from tests.fakes.telegram import FakeTelegram, error
from tests.harness import running_daemon
from tests.channels.telegram.support import telegram_config

ADMIN, USER, GROUP = 1001, 42, -1001234567890


def config(tmp_path, tg, oc, **overrides):
    values = {"telegram.allowed_users": [str(USER)], "admin_users": ["telegram:%d" % ADMIN,
                                                                     "discord:123456789"],
              "openclaw.url": oc.url, "openclaw.submit_backoff_sec": 0.001}
    values.update(overrides)
    return telegram_config(tmp_path, tg, **values)


@pytest.mark.gen_test(timeout=10)
async def test_set_my_commands_default_scope_and_admin_chat_scope(tmp_path):
    async with FakeOpenClaw() as oc, FakeTelegram() as tg:
        async with running_daemon(config(tmp_path, tg, oc)):
            await tg.wait_until(lambda: len(tg.my_commands) == 2)
    general = tg.my_commands["default"]
    admin = tg.my_commands["chat:%d" % ADMIN]
    assert {"help", "status", "jobs", "history", "run", "templates"} <= set(general)
    assert "approve" not in general and "stop" not in general
    assert set(general) < set(admin) and {"approve", "reject", "stop", "trace"} <= set(admin)
    calls = tg.calls("setMyCommands")
    assert calls[0].params["commands"][0] == {"command": "help",
                                              "description": "show the commands you may use"}


@pytest.mark.gen_test(timeout=10)
async def test_set_my_commands_failure_does_not_stop_the_channel(tmp_path):
    async with FakeOpenClaw() as oc, FakeTelegram() as tg:
        tg.script("setMyCommands", error(400, "Bad Request: BOT_COMMAND_INVALID"))
        tg.queue_message("/help", user_id=USER)
        async with running_daemon(config(tmp_path, tg, oc)):
            sent = await tg.next_answered("sendMessage")
            await tg.wait_until(lambda: tg.count("setMyCommands") == 2)
    assert "Commands:" in sent.params["text"]
    # The default scope was refused; the admin's chat scope was still published.
    assert list(tg.my_commands) == ["chat:%d" % ADMIN]


@pytest.mark.gen_test(timeout=10)
async def test_plain_text_in_private_runs_default_template_group_ignored(tmp_path):
    async with FakeOpenClaw() as oc, FakeTelegram() as tg:
        cfg = config(tmp_path, tg, oc, default_template="portrait",
                     **{"telegram.allowed_chats": [str(GROUP)]})
        async with running_daemon(cfg) as daemon:
            channel = daemon.channels["telegram"]
            group_update = tg.queue_message("a fox in the group", user_id=USER, chat_id=GROUP,
                                            chat_type="supergroup")
            await channel.wait_handled(group_update, 5)
            tg.queue_message("a red fox at dusk", user_id=ADMIN)
            queued = await tg.next_answered("sendMessage")
            tg.queue_message("a small boat", user_id=USER)
            gated = await tg.next_answered("sendMessage")
    assert queued.params["text"].startswith("[Queued] portrait")
    assert gated.chat_id == str(USER) and gated.params["text"].startswith("[Approval Requested]")
    bodies = [r.json for r in oc.calls("/triggers/fire")]
    assert [b["inputs"] for b in bodies] == [{"prompt": "a red fox at dusk"},
                                             {"prompt": "a small boat"}]
    assert [b["require_approval"] for b in bodies] == [False, True]
    assert all(s.chat_id != str(GROUP) for s in tg.calls("sendMessage"))


@pytest.mark.gen_test(timeout=10)
async def test_plain_text_without_default_template_gets_the_help_hint(tmp_path):
    async with FakeOpenClaw() as oc, FakeTelegram() as tg:
        tg.queue_message("a red fox", user_id=USER)
        async with running_daemon(config(tmp_path, tg, oc)):
            sent = await tg.next_answered("sendMessage")
    assert sent.params["text"] == "Commands start with /. Send /help for the list."
    assert oc.calls("/triggers/fire") == []
