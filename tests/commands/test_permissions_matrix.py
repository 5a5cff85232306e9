"""Every command for an admin, an allowed non-admin and an unknown sender (router entry)."""

from __future__ import annotations

import logging

import pytest

from tests.commands.helpers import ADMIN, ALLOWED, STRANGER, stack

ADMIN_ONLY = ["/stop", "/stop abc", "/trace abc", "/approvals", "/approve apr_x",
              "/reject apr_x because", "/schedules", "/schedule run sched_1"]
GENERAL = ["/help", "/status", "/jobs", "/history abc", "/run portrait seed=1"]


def _word(text: str) -> str:
    return text.split()[0][1:]


@pytest.mark.gen_test(timeout=10)
@pytest.mark.parametrize("text", GENERAL + ADMIN_ONLY)
async def test_admin_runs_every_command(tmp_path, text):
    async with stack(tmp_path) as env:
        env.fake.add_schedule("sched_1")
        reply = await env.say(text, ADMIN)
        assert reply and not reply.startswith("Access denied")
        assert "Something went wrong" not in reply


@pytest.mark.gen_test(timeout=10)
@pytest.mark.parametrize("text", GENERAL)
async def test_allowed_non_admin_runs_general_commands(tmp_path, text):
    async with stack(tmp_path) as env:
        reply = await env.say(text, ALLOWED)
        assert reply and not reply.startswith("Access denied")
        assert "Something went wrong" not in reply


@pytest.mark.gen_test(timeout=10)
@pytest.mark.parametrize("text", ADMIN_ONLY)
async def test_allowed_non_admin_is_denied_admin_commands_and_nothing_is_called(tmp_path, text):
    async with stack(tmp_path) as env:
        reply = await env.say(text, ALLOWED)
        assert reply == "Access denied: /%s is for admins. Your id: telegram:%s." % (
            _word(text), ALLOWED)
        assert env.fake.requests == []


@pytest.mark.gen_test(timeout=10)
@pytest.mark.parametrize("text", GENERAL + ADMIN_ONLY + ["hello", '/run x "open'])
async def test_unknown_sender_gets_silence_and_nothing_runs(tmp_path, text):
    async with stack(tmp_path) as env:
        assert await env.say(text, STRANGER) is None
        assert env.fake.requests == []


@pytest.mark.gen_test(timeout=10)
async def test_exact_access_denied_sentence_for_approve(tmp_path):
    async with stack(tmp_path, admin_users=["telegram:1001"],
                     telegram__allowed_users=["123456"]) as env:
        reply = await env.say("/approve apr_1", "123456")
        assert reply == "Access denied: /approve is for admins. Your id: telegram:123456."


@pytest.mark.gen_test(timeout=10)
async def test_help_shows_admin_section_only_to_admins(tmp_path):
    async with stack(tmp_path) as env:
        admin = await env.say("/help", ADMIN)
        user = await env.say("/help", ALLOWED)
        assert "Admin:" in admin and "/approve <id>" in admin
        assert "Admin:" not in user and "/approve" not in user and "/stop" not in user
        assert "/run <template>" in user and "/history <id>" in user


@pytest.mark.gen_test(timeout=10)
async def test_bare_admin_id_is_admin_only_where_an_allowlist_names_it(tmp_path):
    """A bare admin id counts on the platform whose allowlist names it, nowhere else;
    a prefixed one only on its own platform (issue 20)."""
    async with stack(tmp_path, admin_users=["77777", "discord:88888"],
                     discord__allowed_users=["77777"]) as env:
        assert (await env.say("/approvals", "77777", platform="discord")).startswith("No pending")
        assert (await env.say("/approvals", "88888", platform="discord")).startswith("No pending")
        assert await env.say("/approvals", "77777", platform="telegram") is None   # not allowed
        assert await env.say("/approvals", "88888", platform="telegram") is None   # not allowed


@pytest.mark.gen_test(timeout=10)
async def test_allowed_chat_admits_its_members_as_non_admins(tmp_path):
    async with stack(tmp_path, telegram__allowed_chats=["-100500"]) as env:
        reply = await env.say("/status", "4242", chat="-100500", is_direct=False)
        assert reply.startswith("ComfyUI: reachable")
        denied = await env.say("/schedules", "4242", chat="-100500", is_direct=False)
        assert denied.startswith("Access denied: /schedules")


@pytest.mark.gen_test(timeout=10)
async def test_denied_sender_is_logged_once_per_ten_minutes(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    async with stack(tmp_path) as env:
        for _ in range(3):
            await env.say("/status", STRANGER)
    lines = [r.getMessage() for r in caplog.records if "event=sender_denied" in r.getMessage()]
    assert len(lines) == 1
    assert "user=%s" % STRANGER in lines[0] and "command=status" in lines[0]


@pytest.mark.gen_test(timeout=10)
async def test_rate_limit_answers_once_then_stays_silent(tmp_path):
    async with stack(tmp_path, rate_limit__burst=3, rate_limit__per_minute=1) as env:
        replies = [await env.say("/help", ALLOWED) for _ in range(6)]
        assert all(r.startswith("Commands:") for r in replies[:3])
        assert replies[3] == "[Rate Limited] Too many requests. Please wait a moment."
        assert replies[4:] == [None, None]
        assert (await env.say("/help", ADMIN)).startswith("Commands:")   # per sender
