"""Discord slash commands (``discord.slash_commands: true``): registered for the guild of
an allowed channel, answered through the router with a deferred response (interactive.md
§1.2, §5.2) — the whole daemon against the fake Discord and the fake OpenClaw."""

from __future__ import annotations

import pytest

from openclaw_connector.channels.discord.slash import parse_interaction
from tests.channels.discord.conftest import discord_config, ready
from tests.fakes.discord import BOT_ID, CHANNEL_ID, GUILD_ID, USER_ID
from tests.fakes.openclaw import FakeOpenClaw
from tests.harness import running_daemon

OTHER_GUILD = "1100000000000000999"
STRANGER = "1000000000000000666"


def _cfg(fake, tmp_path, oc, **extra):
    values = {"openclaw__url": oc.url, "discord__allowed_channels": [CHANNEL_ID],
              "discord__slash_commands": True, "admin_users": ["discord:%s" % USER_ID],
              "openclaw__submit_backoff_sec": 0.001}
    values.update(extra)
    return discord_config(fake, tmp_path / "state", **values)


@pytest.mark.gen_test(timeout=15)
async def test_commands_registered_for_the_allowed_channels_guild_only(fake_discord, tmp_path):
    fake = fake_discord
    async with FakeOpenClaw() as oc:
        async with running_daemon(_cfg(fake, tmp_path, oc)):
            await ready(fake)
            fake.guild_create(OTHER_GUILD, channel_ids=("1200000000000000555",))
            fake.guild_create(GUILD_ID)
            await fake.wait_for(lambda: GUILD_ID in fake.guild_commands, what="PUT commands")
    assert [(a, g, p) for a, g, _b, p in fake.command_puts] == [(BOT_ID, GUILD_ID, None)]
    names = [c["name"] for c in fake.guild_commands[GUILD_ID]]
    assert {"help", "status", "run", "templates", "history", "approve"} <= set(names)
    run = next(c for c in fake.guild_commands[GUILD_ID] if c["name"] == "run")
    assert run["options"][0]["name"] == "text" and run["options"][0]["type"] == 3


@pytest.mark.gen_test(timeout=15)
async def test_slash_run_is_deferred_then_answered_by_editing_the_original(fake_discord,
                                                                          tmp_path):
    fake = fake_discord
    async with FakeOpenClaw() as oc:
        async with running_daemon(_cfg(fake, tmp_path, oc)):
            await ready(fake)
            item = fake.interaction_create("run", "portrait a red fox steps=30")
            await fake.wait_for(lambda: item.original is not None, what="edit @original")
    assert item.callback == {"type": 5}
    assert item.callback_at - item.created < 3.0
    assert item.original["content"].startswith("[Queued] portrait")
    (fired,) = [r.json for r in oc.calls("/triggers/fire")]
    assert fired["inputs"] == {"prompt": "a red fox", "steps": 30}
    assert fired["require_approval"] is False
    assert fake.sends == []            # the answer was the edit, not a new message


@pytest.mark.gen_test(timeout=15)
async def test_slash_from_a_stranger_gets_its_thinking_message_deleted(fake_discord,
                                                                      tmp_path):
    fake = fake_discord
    async with FakeOpenClaw() as oc:
        async with running_daemon(_cfg(fake, tmp_path, oc, admin_users=[],
                                       discord__allowed_channels=["1200000000000000555"])):
            await ready(fake)
            item = fake.interaction_create("status", user_id=STRANGER)
            await fake.wait_for(lambda: item.deleted, what="delete @original")
    assert item.callback == {"type": 5} and item.original is None
    assert oc.calls("/openclaw/health") == []


@pytest.mark.gen_test(timeout=15)
async def test_slash_commands_off_by_default(fake_discord, tmp_path):
    fake = fake_discord
    async with FakeOpenClaw() as oc:
        cfg = discord_config(fake, tmp_path / "state", openclaw__url=oc.url,
                             discord__allowed_channels=[CHANNEL_ID])
        async with running_daemon(cfg):
            await ready(fake)
            fake.guild_create(GUILD_ID)
            fake.message_create("/help", guild_id=GUILD_ID)
            await fake.next_send()
    assert fake.command_puts == []


def test_interaction_becomes_the_command_line_a_person_would_type():
    d = {"id": "77", "type": 2, "token": "tok", "channel_id": "5", "guild_id": "9",
         "member": {"user": {"id": "42"}},
         "data": {"name": "history", "options": [{"name": "text", "type": 3,
                                                  "value": "1b2c3d4e"}]}}
    inbound = parse_interaction(d, "openclaw")
    assert (inbound.text, inbound.user_id, inbound.chat_id) == ("/history 1b2c3d4e", "42", "5")
    assert inbound.chat.reply_token == "tok" and inbound.chat.message_id == ""
    assert not inbound.is_direct and inbound.message_id == "i77"
    assert parse_interaction(dict(d, type=3), "openclaw") is None       # a button press
    dm = dict(d, guild_id=None, member=None, user={"id": "43"}, data={"name": "status"})
    assert parse_interaction(dm, "x").text == "/status" and parse_interaction(dm, "x").is_direct


def _rows(state_dir, sql: str) -> list:
    import os
    import sqlite3
    db = sqlite3.connect(os.path.join(str(state_dir), "connector.db"))
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


@pytest.mark.gen_test(timeout=15)
async def test_slash_command_is_durable_before_the_defer(fake_discord, tmp_path):
    """The dedup mark and the pending command are one transaction, committed before
    Discord sees the deferral (a crash after it replays the command), and the row is
    gone once the command was answered (issue 14)."""
    fake = fake_discord
    async with FakeOpenClaw() as oc:
        hung = oc.hold("/triggers/fire")
        async with running_daemon(_cfg(fake, tmp_path, oc)):
            await ready(fake)
            item = fake.interaction_create("run", "portrait a red fox")
            await fake.wait_for(lambda: item.callback is not None, what="the deferral")
            seen = _rows(tmp_path / "state", "SELECT id FROM seen WHERE namespace = 'discord'")
            held = _rows(tmp_path / "state", "SELECT key FROM pending_inbound")
            hung.set()
            await fake.wait_for(lambda: item.original is not None, what="edit @original")
        left = _rows(tmp_path / "state", "SELECT key FROM pending_inbound")
    assert seen == [("i" + item.id,)]
    assert held == [("inbound:discord:i" + item.id,)] and left == []
