"""The gateway client through a real websocket to the fake (platforms.md §2, faults.md §4)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from openclaw_connector.state import StateStore
from tests.channels.discord.conftest import Inbox, ready, running_channel, settle
from tests.fakes.discord import BOT_ID, BOT_NAME, GUILD_ID, TOKEN


async def task_done(channel) -> None:
    await asyncio.wait_for(asyncio.shield(channel._task), 5)


@pytest.mark.gen_test(timeout=10)
async def test_identify_ready_then_heartbeats_with_seq(fake_discord, tmp_path):
    """IDENTIFY carries the token and intents 37377; beats carry the last seq; health ok."""
    fake = fake_discord
    async with running_channel(fake, tmp_path) as (channel, _inbox):
        await fake.wait_for(lambda: len(fake.heartbeats) >= 3, what="3 heartbeats")
        assert fake.identifies[0].data["token"] == TOKEN
        assert fake.identifies[0].data["intents"] == 1 | 512 | 4096 | 32768
        assert fake.identifies[0].path == "gateway" and fake.gateway_bot_calls
        assert fake.heartbeats[-1].data == 1          # READY was s=1
        assert channel.health.state == "ok"
        assert "discord_heartbeat_latency_seconds_count" in channel._deps.metrics.render()


@pytest.mark.gen_test(timeout=10)
async def test_only_human_messages_addressed_to_us_are_passed_on(fake_discord, tmp_path):
    """Bots, ourselves and guild chatter are dropped; guild /cmd, mentions and DMs pass."""
    fake = fake_discord
    async with running_channel(fake, tmp_path) as (_channel, inbox):
        await ready(fake)
        fake.message_create("/help", bot=True, author_id="999999999")
        fake.message_create("/help", author_id=BOT_ID)
        fake.message_create("just chatting", guild_id=GUILD_ID)
        slash = fake.message_create("/help", guild_id=GUILD_ID)
        mention = fake.message_create("<@%s> /status now" % BOT_ID, guild_id=GUILD_ID,
                                      mentions=(BOT_ID,))
        dm = fake.message_create("hello")
        await settle(fake, inbox)
        got = inbox.items[:-1]
    assert [i.message_id for i in got] == [slash["id"], mention["id"], dm["id"]]
    assert got[0].is_direct is False and got[0].chat.is_group and not got[0].mentioned
    assert got[1].text == "/status now" and got[1].mentioned and got[1].bot_name == BOT_NAME
    assert got[2].is_direct and got[2].chat.message_id == dm["id"]
    assert got[2].chat_id == dm["channel_id"] and got[2].user_id == dm["author"]["id"]


@pytest.mark.gen_test(timeout=10)
async def test_empty_guild_content_logs_the_intent_hint_once(fake_discord, tmp_path, caplog):
    """Guild messages without content (no MESSAGE_CONTENT) log one hint, then stay quiet."""
    caplog.set_level(logging.INFO)
    fake = fake_discord
    async with running_channel(fake, tmp_path) as (_channel, inbox):
        await ready(fake)
        fake.message_create("", guild_id=GUILD_ID)
        fake.message_create("", guild_id=GUILD_ID)
        await settle(fake, inbox)
    hints = [r for r in caplog.records if "discord_empty_content" in r.getMessage()]
    assert len(hints) == 1 and "Message Content intent" in hints[0].getMessage()
    assert len(inbox.items) == 1


@pytest.mark.gen_test(timeout=10)
async def test_missing_ack_resumes_and_replayed_message_runs_once(fake_discord, tmp_path):
    """Zombie: close non-1000, RESUME on resume_gateway_url, replay handled once each."""
    fake = fake_discord
    fake.replay_all = True                  # the replay repeats what we already handled
    async with running_channel(fake, tmp_path) as (_channel, inbox):
        await ready(fake)
        first = fake.message_create("/one")
        await inbox.wait(1)
        fake.zombie()                       # no more ACKs, dispatches lost
        missed = fake.message_create("/two")
        await fake.wait_for(lambda: fake.resumes, what="resume")
        await inbox.wait(2)
        await settle(fake, inbox)
        ids = [i.message_id for i in inbox.items[:-1]]
    assert ids == [first["id"], missed["id"]]
    assert len(fake.identifies) == 1
    resume = fake.resumes[0]
    assert resume.path == "resume" and resume.data["seq"] == 2   # READY 1, /one 2
    assert fake.client_closes[0] not in (1000, 1001, None)


@pytest.mark.gen_test(timeout=10)
async def test_op7_reconnect_resumes(fake_discord, tmp_path):
    fake = fake_discord
    async with running_channel(fake, tmp_path) as (channel, inbox):
        await ready(fake)
        fake.send_op(7)
        await fake.wait_for(lambda: fake.resumes, what="resume")
        await settle(fake, inbox)
        assert len(fake.identifies) == 1 and fake.resumes[0].path == "resume"
        assert fake.client_closes[0] == 4900 and channel.health.state == "ok"


@pytest.mark.gen_test(timeout=10)
async def test_op9_resumable_resumes(fake_discord, tmp_path):
    fake = fake_discord
    async with running_channel(fake, tmp_path) as (_channel, inbox):
        await ready(fake)
        fake.send_op(9, True)
        await fake.wait_for(lambda: fake.resumes, what="resume")
        await settle(fake, inbox)
        assert len(fake.identifies) == 1 and len(fake.resumes) == 1


@pytest.mark.gen_test(timeout=10)
async def test_op9_not_resumable_identifies_once_after_a_wait(fake_discord, tmp_path):
    """Resume refused with op 9 d=false: one new IDENTIFY on the gateway URL, no loop."""
    fake = fake_discord
    async with running_channel(fake, tmp_path) as (_channel, inbox):
        await ready(fake)
        fake.resume_invalid = True
        fake.close(4000)
        await fake.wait_for(lambda: len(fake.identifies) == 2, what="second identify")
        await settle(fake, inbox)
        assert len(fake.resumes) == 1 and len(fake.identifies) == 2
        assert fake.identifies[1].path == "gateway"
        # invalid_session_wait_sec=0.05 -> waited 10..50 ms before the fresh connection
        assert fake.connections[2][0] - fake.resumes[0].at >= 0.009


@pytest.mark.parametrize("code,words", [
    (4004, "the bot token is wrong or was reset"),
    (4014, "enable the Message Content intent in the Developer Portal"),
])
@pytest.mark.gen_test(timeout=10)
async def test_fatal_close_stops_channel_with_one_clear_line(fake_discord, tmp_path, caplog,
                                                             code, words):
    """4004/4014: channel fatal, one error line saying what to fix, no reconnect."""
    caplog.set_level(logging.INFO)
    fake = fake_discord
    fake.reject_identify_code = code
    async with running_channel(fake, tmp_path) as (channel, _inbox):
        await task_done(channel)
        assert channel.health.state == "fatal" and words in channel.health.reason
        assert len(fake.connections) == 1 and len(fake.identifies) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and words in errors[0] and "close_code=%d" % code in errors[0]
    assert not any(TOKEN in r.getMessage() for r in caplog.records)


@pytest.mark.gen_test(timeout=10)
async def test_rejected_token_at_gateway_bot_is_fatal_before_connecting(fake_discord,
                                                                        tmp_path, caplog):
    caplog.set_level(logging.INFO)
    fake = fake_discord
    fake.token = "another-token-entirely"
    async with running_channel(fake, tmp_path, discord__token=TOKEN) as (channel, _inbox):
        await task_done(channel)
    assert channel.health.state in ("fatal", "stopped") and not fake.connections
    assert any("401" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)


@pytest.mark.gen_test(timeout=10)
async def test_close_4000_resumes(fake_discord, tmp_path):
    fake = fake_discord
    async with running_channel(fake, tmp_path) as (_channel, inbox):
        await ready(fake)
        fake.close(4000)
        await fake.wait_for(lambda: fake.resumes, what="resume")
        await settle(fake, inbox)
        assert len(fake.identifies) == 1 and fake.resumes[0].path == "resume"


@pytest.mark.gen_test(timeout=10)
async def test_network_drop_resumes(fake_discord, tmp_path):
    fake = fake_discord
    async with running_channel(fake, tmp_path) as (_channel, inbox):
        await ready(fake)
        fake.live.ws_connection.stream.close()          # TCP gone, no close frame
        await fake.wait_for(lambda: fake.resumes, what="resume")
        await settle(fake, inbox)
        assert len(fake.identifies) == 1


@pytest.mark.gen_test(timeout=10)
async def test_close_4009_identifies_anew(fake_discord, tmp_path):
    fake = fake_discord
    async with running_channel(fake, tmp_path) as (_channel, inbox):
        await ready(fake)
        fake.close(4009)
        await fake.wait_for(lambda: len(fake.identifies) == 2, what="second identify")
        await settle(fake, inbox)
        assert not fake.resumes and fake.identifies[1].path == "gateway"


@pytest.mark.gen_test(timeout=10)
async def test_session_start_limit_exhausted_waits_for_reset(fake_discord, tmp_path):
    """remaining=0: no IDENTIFY until reset_after has passed."""
    fake = fake_discord
    fake.limit_remaining, fake.limit_reset_after_ms = 0, 300
    started = time.monotonic()
    async with running_channel(fake, tmp_path) as (_channel, _inbox):
        await fake.wait_for(lambda: fake.identifies, what="identify")
        assert fake.identifies[0].at - started >= 0.29
        assert len(fake.gateway_bot_calls) >= 2 and len(fake.connections) == 1


@pytest.mark.gen_test(timeout=10)
async def test_heartbeat_keeps_schedule_while_a_command_is_slow(fake_discord, tmp_path):
    """A handler stuck in a slow call does not delay beats (faults.md §2 item 3)."""
    fake = fake_discord
    inbox = Inbox()
    inbox.gate = asyncio.Event()
    async with running_channel(fake, tmp_path, inbox=inbox) as (_channel, _):
        await ready(fake)
        fake.message_create("/slow")
        await inbox.wait(1)
        n0 = max(1, len(fake.heartbeats))
        await fake.wait_for(lambda: len(fake.heartbeats) >= n0 + 8, what="8 more beats")
        beats = [b.at for b in fake.heartbeats[n0:]]
        inbox.gate.set()
    gaps = [b - a for a, b in zip(beats, beats[1:])]
    assert max(gaps) < 0.05 * 2.5, gaps
    assert len(fake.connections) == 1


@pytest.mark.gen_test(timeout=10)
async def test_shutdown_closes_1000_and_forgets_the_session(fake_discord, tmp_path):
    fake = fake_discord
    state = StateStore(str(tmp_path / "st"))
    state.open()
    async with running_channel(fake, tmp_path, state=state) as (_channel, inbox):
        await ready(fake)
        await settle(fake, inbox)
        saved = state.kv("discord").get_json("session")
        assert saved["session_id"] == fake.session.id and saved["seq"] in (1, 2)
        assert saved["resume_url"] == fake.resume_url
    await fake.wait_for(lambda: fake.client_closes, what="client close")
    assert fake.client_closes == [1000]
    assert state.kv("discord").get("session") is None
    state.close()


@pytest.mark.gen_test(timeout=10)
async def test_quick_restart_resumes_the_persisted_session(fake_discord, tmp_path):
    """A recent persisted session RESUMEs (no IDENTIFY), gets what it missed, and a
    message the previous process already handled is not handled again."""
    fake = fake_discord
    fake.replay_all = True                  # the replay also repeats /first
    session = fake.open_session()
    first = fake.message_create("/first")
    missed = fake.message_create("/second")
    state = StateStore(str(tmp_path / "st"))
    state.open()
    state.mark_seen("discord", first["id"], 3600)   # the previous process handled /first
    state.kv("discord").set_json("session", {"session_id": session.id, "seq": 1,
                               "resume_url": fake.resume_url, "user_id": BOT_ID,
                               "username": BOT_NAME, "saved_at": time.time()})
    async with running_channel(fake, tmp_path, state=state) as (_channel, inbox):
        await inbox.wait(1)
        await settle(fake, inbox)
        assert inbox.items[0].message_id == missed["id"] and len(inbox.items) == 2
        assert not fake.identifies and fake.resumes[0].data["seq"] == 1
        assert fake.resumes[0].data["session_id"] == session.id
    state.close()


@pytest.mark.gen_test(timeout=10)
async def test_stale_persisted_session_identifies(fake_discord, tmp_path):
    fake = fake_discord
    session = fake.open_session()
    state = StateStore(str(tmp_path / "st"))
    state.open()
    state.kv("discord").set_json("session", {"session_id": session.id, "seq": 1,
                               "resume_url": fake.resume_url, "user_id": BOT_ID,
                               "username": BOT_NAME, "saved_at": time.time() - 3600})
    async with running_channel(fake, tmp_path, state=state) as (_channel, _inbox):
        await ready(fake)
        assert len(fake.identifies) == 1 and not fake.resumes
    state.close()


@pytest.mark.gen_test(timeout=10)
async def test_non_json_frame_and_unknown_op_are_ignored(fake_discord, tmp_path):
    fake = fake_discord
    async with running_channel(fake, tmp_path) as (_channel, inbox):
        await ready(fake)
        fake.live.write_message("this is not json")
        fake.send_op(42, {"x": 1})
        await settle(fake, inbox)
        assert len(fake.connections) == 1 and len(inbox.items) == 1


@pytest.mark.gen_test(timeout=10)
async def test_unreachable_resume_host_falls_back_to_identify(fake_discord, tmp_path):
    """A persisted resume URL that refuses connections is tried a few times, then IDENTIFY."""
    fake = fake_discord
    state = StateStore(str(tmp_path / "st"))
    state.open()
    state.kv("discord").set_json("session", {"session_id": "gone", "seq": 3,
                               "resume_url": "ws://127.0.0.1:1/resume", "user_id": BOT_ID,
                               "username": BOT_NAME, "saved_at": time.time()})
    async with running_channel(fake, tmp_path, state=state) as (channel, inbox):
        await ready(fake)
        await settle(fake, inbox)
        assert len(fake.identifies) == 1 and not fake.resumes
        assert channel.health.state == "ok"
    state.close()


@pytest.mark.gen_test(timeout=10)
async def test_repeated_drops_after_ready_resume_without_new_identifies(fake_discord,
                                                                        tmp_path):
    """A server that keeps closing (4000) costs resumes, never identifies (faults.md P1 17)."""
    fake = fake_discord
    async with running_channel(fake, tmp_path) as (_channel, inbox):
        for n in range(1, 4):
            await ready(fake, n)
            fake.close(4000)
            await fake.wait_for(lambda: len(fake.resumes) >= n, what="resume %d" % n)
        await settle(fake, inbox)
        assert len(fake.identifies) == 1 and len(fake.resumes) == 3


@pytest.mark.gen_test(timeout=10)
async def test_configured_gateway_url_wins_and_limit_is_still_checked(fake_discord, tmp_path):
    fake = fake_discord
    configured = "ws://127.0.0.1:%d/resume" % fake.port    # any path the fake serves
    async with running_channel(fake, tmp_path, discord__gateway_url=configured) as (_c, _i):
        await fake.wait_for(lambda: fake.identifies, what="identify")
        assert fake.identifies[0].path == "resume" and fake.gateway_bot_calls


@pytest.mark.gen_test(timeout=10)
async def test_frozen_zombie_is_dropped_at_once_and_resumed(fake_discord, tmp_path):
    """No ACK, and the peer answers no close handshake either: the client drops the
    socket itself (not after Tornado's 5 s close wait) and resumes."""
    fake = fake_discord
    async with running_channel(fake, tmp_path) as (_channel, inbox):
        await ready(fake)
        fake.zombie(frozen=True)
        frozen_at = time.monotonic()
        await fake.wait_for(lambda: fake.resumes, what="resume")
        resumed_after = time.monotonic() - frozen_at
        await settle(fake, inbox)
    assert len(fake.identifies) == 1
    assert resumed_after < 2.0, resumed_after      # heartbeat 50 ms + backoff, not 5 s
