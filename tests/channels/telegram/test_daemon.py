"""The Telegram channel inside the real Daemon (router, permissions, dispatch),
started from config with ``telegram.api_base`` pointing at the fake."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys

import pytest

from openclaw_connector.state import StateStore
from tests.fakes.openclaw import FakeOpenClaw
from tests.fakes.telegram import TOKEN, FakeTelegram, passthrough, stall
from tests.harness import running_daemon
from tests.channels.telegram.support import eventually, telegram_config
from tests.harness import until

ALLOWED = 42
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def config(tmp_path, tg, **overrides):
    values = {"telegram.allowed_users": [str(ALLOWED)]}
    values.update(overrides)
    return telegram_config(tmp_path, tg, **values)


@pytest.mark.gen_test(timeout=10)
async def test_status_from_allowed_user_gets_the_reply_in_the_same_chat(tmp_path):
    """/status asks the (fake) ComfyUI + OpenClaw and answers in the chat it came from."""
    async with FakeOpenClaw() as oc, FakeTelegram() as tg:
        tg.queue_message("/status", user_id=ALLOWED)
        async with running_daemon(config(tmp_path, tg, **{"openclaw.url": oc.url})):
            sent = await tg.next_answered("sendMessage")
        assert oc.calls("/openclaw/health")
    assert sent.status == 200 and sent.chat_id == str(ALLOWED)
    assert "ComfyUI: reachable" in sent.params["text"]
    assert "Queue: 0 running, 0 pending" in sent.params["text"]


@pytest.mark.gen_test(timeout=10)
async def test_help_from_allowed_user_gets_the_reply_in_the_same_chat(tmp_path):
    """A private /help is answered in that chat, without threading."""
    async with FakeTelegram() as tg:
        tg.queue_message("/help", user_id=ALLOWED)
        async with running_daemon(config(tmp_path, tg)):
            sent = await tg.next_answered("sendMessage")
        assert sent.status == 200 and sent.chat_id == str(ALLOWED)
        assert "Commands:" in sent.params["text"] and "/help" in sent.params["text"]
        assert "reply_to_message_id" not in sent.params


@pytest.mark.gen_test(timeout=10)
async def test_command_for_our_bot_runs_and_for_another_bot_is_ignored(tmp_path):
    """In a group, /help@otherbot gets nothing and /help@ourbot a threaded reply."""
    group = -1001234567890
    async with FakeTelegram() as tg:
        other = tg.queue_message("/help@otherbot", user_id=ALLOWED, chat_id=group,
                                 chat_type="supergroup")
        ours = tg.queue_message("/help@OurBot", user_id=ALLOWED, chat_id=group,
                                chat_type="supergroup")
        async with running_daemon(config(tmp_path, tg)) as daemon:
            channel = daemon.channels["telegram"]
            await channel.wait_handled(other, 5)
            await channel.wait_handled(ours, 5)
        sent = tg.sent(group)
    assert len(sent) == 1
    assert sent[0].params["reply_to_message_id"] == 2     # the second message in the chat
    assert "Commands:" in sent[0].params["text"]


@pytest.mark.gen_test(timeout=10)
async def test_unknown_sender_gets_nothing(tmp_path):
    """A user no allowlist names is silently denied; the allowed user still gets answers."""
    async with FakeTelegram() as tg:
        stranger = tg.queue_message("/help", user_id=777, username="mallory")
        friend = tg.queue_message("/help", user_id=ALLOWED)
        async with running_daemon(config(tmp_path, tg)) as daemon:
            channel = daemon.channels["telegram"]
            await channel.wait_handled(stranger, 5)
            await channel.wait_handled(friend, 5)
            await tg.wait_until(lambda: len(tg.sent()) >= 1)
        assert tg.sent(777) == [] and len(tg.sent(ALLOWED)) == 1
        assert tg.count("sendMessage") == 1


@pytest.mark.gen_test(timeout=10)
async def test_allowed_group_chat_lets_any_member_run_commands(tmp_path):
    """telegram.allowed_chats (negative id) admits everyone in that group."""
    group = -100999
    async with FakeTelegram() as tg:
        tg.queue_message("/help@ourbot", user_id=555, chat_id=group, chat_type="group")
        async with running_daemon(config(tmp_path, tg, **{
                "telegram.allowed_users": [], "telegram.allowed_chats": [str(group)]})):
            sent = await tg.next_answered("sendMessage")
        assert sent.chat_id == str(group) and sent.status == 200


@pytest.mark.gen_test(timeout=10)
async def test_bad_token_is_fatal_while_the_console_still_answers(tmp_path, caplog):
    """401 from getMe stops only Telegram; the console channel in the same daemon answers
    and no log line carries the token."""
    caplog.set_level(logging.DEBUG, logger="openclaw_connector")
    wrong = "987654321:AAwrongwrongwrongwrongwrongwrong12"
    async with FakeTelegram() as tg:
        cfg = config(tmp_path, tg, **{"telegram.token": wrong})
        async with running_daemon(cfg, console=True) as daemon:
            await tg.next_answered("getMe")
            daemon.pipe.send("/help")
            await daemon.out.wait_for("Commands:")
            telegram = daemon.channels["telegram"]
            await eventually(lambda: telegram.health.state == "fatal")
            status, body = daemon.health()
            assert body["channels"]["console"]["state"] == "ok"
            assert body["channels"]["telegram"]["state"] == "fatal"
        assert tg.count("getUpdates") == 0
    assert all(wrong not in r.getMessage() and "AAwrong" not in r.getMessage()
               for r in caplog.records)
    assert any("channel_stopped" in r.getMessage() and "987654321:***" in r.getMessage()
               for r in caplog.records)


@pytest.mark.gen_test(timeout=10)
async def test_unreachable_api_logs_retries_without_the_token(tmp_path, caplog):
    """Connection refused: backoff and retry, health backoff, token never logged."""
    caplog.set_level(logging.DEBUG, logger="openclaw_connector")
    async with FakeTelegram() as tg:
        url = tg.url
    cfg = telegram_config(tmp_path, tg, **{"telegram.api_base": url})
    async with running_daemon(cfg) as daemon:
        telegram = daemon.channels["telegram"]
        await eventually(lambda: sum("poll_failed" in r.getMessage()
                                     for r in caplog.records) >= 2, turns=100000)
        assert telegram.health.state == "backoff"
    assert all(TOKEN not in r.getMessage() and TOKEN.split(":")[1] not in r.getMessage()
               for r in caplog.records)


@pytest.mark.gen_test(timeout=15)
async def test_daemon_restart_before_confirm_loses_and_repeats_nothing(tmp_path):
    """Stop the daemon after it fetched [A, B, C] but before Telegram saw the confirming
    poll, while B's reply is still on its way: after a restart B is answered once, and
    the redelivered A and C are not answered again."""
    async with FakeTelegram() as tg:
        a = tg.queue_message("/help", user_id=ALLOWED, chat_id=-1, chat_type="group")
        b = tg.queue_message("/help", user_id=ALLOWED, chat_id=-2, chat_type="group")
        c = tg.queue_message("/help", user_id=ALLOWED, chat_id=-3, chat_type="group")
        tg.script("getUpdates", passthrough(), stall())
        tg.stall_chat(-2)
        cfg = config(tmp_path, tg, shutdown_grace_sec=0.5)
        async with running_daemon(cfg) as daemon:
            channel = daemon.channels["telegram"]
            await channel.wait_handled(a, 5)
            await channel.wait_handled(c, 5)
            await tg.wait_until(lambda: tg.count("getUpdates") == 2
                                and any(r.chat_id == "-2" for r in tg.calls("sendMessage")))
        assert tg.confirmed == 0
        state = StateStore(str(tmp_path))
        state.open()
        assert int(state.get("telegram.offset")) == b      # never past the unfinished B
        state.close()
        tg.stalled_chats.clear()
        async with running_daemon(cfg) as daemon:
            channel = daemon.channels["telegram"]
            await channel.wait_handled(b, 5)
            await tg.wait_until(lambda: tg.confirmed == c + 1)
            await tg.wait_until(lambda: len(tg.sent(-2)) == 1)
        assert [len(tg.sent(chat)) for chat in (-1, -2, -3)] == [1, 1, 1]
        assert tg.handouts[a] == 1 and tg.handouts[c] == 2


@pytest.mark.gen_test(timeout=20)
@pytest.mark.parametrize("confirmed", [False, True], ids=["unconfirmed", "confirmed"])
async def test_daemon_killed_mid_batch_loses_and_repeats_nothing(tmp_path, confirmed):
    """SIGKILL (no clean stop) after the daemon fetched [A, B, C] and answered A and C
    while B's reply hangs. Unconfirmed: Telegram never saw the confirming poll, so it
    redelivers; confirmed: it did, so only the daemon's pending record has B. Either way
    after a restart B is answered once and A and C are not answered again."""
    async with FakeTelegram() as tg:
        a = tg.queue_message("/help", user_id=ALLOWED, chat_id=-1, chat_type="group")
        b = tg.queue_message("/help", user_id=ALLOWED, chat_id=-2, chat_type="group")
        c = tg.queue_message("/help", user_id=ALLOWED, chat_id=-3, chat_type="group")
        if not confirmed:
            tg.script("getUpdates", passthrough(), stall())
        tg.stall_chat(-2)
        path = tmp_path / "openclaw.yaml"
        path.write_text("state_dir: %s\nlog:\n  level: warning\ntelegram:\n  token: '%s'\n"
                        "  api_base: %s\n  poll_timeout_sec: 1\n  allowed_users: [%d]\n"
                        % (tmp_path, TOKEN, tg.url, ALLOWED))
        os.chmod(path, 0o600)
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_CONNECTOR_")}
        env["PYTHONPATH"] = ROOT
        proc = subprocess.Popen([sys.executable, "-m", "openclaw_connector", "-c", str(path)],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            await tg.wait_until(lambda: len(tg.sent(-1)) == 1 and len(tg.sent(-3)) == 1
                                and tg.count("getUpdates") >= 2
                                and tg.confirmed == (c + 1 if confirmed else 0)
                                and any(r.chat_id == "-2" for r in tg.calls("sendMessage")),
                                10)
            # The replies reached Telegram; wait until the daemon also recorded them.
            db = sqlite3.connect(str(tmp_path / "connector.db"), timeout=2)
            await until(lambda: db.execute(
                "SELECT COUNT(*) FROM seen WHERE namespace = 'telegram' AND "
                "id IN (?, ?)", (str(a), str(c))).fetchone()[0] >= 2, 5, "A/C recorded")
            db.close()
        finally:
            proc.kill()
            _, err = proc.communicate(timeout=10)
        assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
        tg.stalled_chats.clear()
        async with running_daemon(config(tmp_path, tg)) as daemon:
            channel = daemon.channels["telegram"]
            await channel.wait_handled(b, 5)
            await tg.wait_until(lambda: tg.confirmed == c + 1)
            await tg.wait_until(lambda: len(tg.sent(-2)) == 1)
        assert [len(tg.sent(chat)) for chat in (-1, -2, -3)] == [1, 1, 1]
        assert tg.handouts[a] == 1 and tg.handouts[b] == 1
        assert tg.handouts[c] == (1 if confirmed else 2)


@pytest.mark.gen_test(timeout=10)
async def test_a_failed_reply_never_reruns_the_command(tmp_path, caplog):
    """The user blocked the bot: the 403 is logged once, the update counts as handled and
    is confirmed; nothing is retried or run again."""
    caplog.set_level(logging.INFO, logger="openclaw_connector")
    async with FakeTelegram() as tg:
        tg.block_chat(ALLOWED)
        uid = tg.queue_message("/help", user_id=ALLOWED)
        async with running_daemon(config(tmp_path, tg)) as daemon:
            await daemon.channels["telegram"].wait_handled(uid, 5)
            await tg.wait_until(lambda: tg.confirmed == uid + 1)
        assert tg.count("sendMessage") == 1 and tg.calls("sendMessage")[0].status == 403
        assert tg.handouts[uid] == 1
    failed = [r.getMessage() for r in caplog.records if "reply_failed" in r.getMessage()]
    assert len(failed) == 1 and "permanent=True" in failed[0]
