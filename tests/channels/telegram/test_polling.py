"""The getUpdates loop against the fake: faults from faults.md §4 (Telegram cases),
offset confirmation, dedup across a restart, poison updates."""

from __future__ import annotations

import asyncio
import logging

import pytest

from openclaw_connector.messages import ChatRef, Reply
from openclaw_connector.state import StateStore
from tests.fakes.telegram import (
    TOKEN, FakeTelegram, bad_gateway, conflict, drop, error, passthrough, stall, too_many)
from tests.channels.telegram.support import Inbox, eventually, running_channel


ALICE_CHAT = ChatRef(platform="telegram", chat_id="42", user_id="42")


@pytest.mark.gen_test(timeout=10)
async def test_startup_calls_getme_then_deletewebhook_then_polls_with_long_timeout(tmp_path):
    """getMe and deleteWebhook come first; polls ask for messages with the configured timeout."""
    async with FakeTelegram() as tg:
        async with running_channel(tmp_path, tg, Inbox()) as ch:
            poll = await tg.next_request("getUpdates")
            assert [r.key for r in tg.requests[:3]] == ["getme", "deletewebhook", "getupdates"]
            assert poll.params["timeout"] == 1
            assert poll.params["allowed_updates"] == ["message"]
            assert ch.bot.username == "ourbot" and ch.health.state == "ok"


@pytest.mark.gen_test(timeout=10)
async def test_502_three_times_then_ok_handles_each_update_once_and_confirms(tmp_path):
    """502 (HTML) ×3 then a batch: backoff, each update handled once, next offset = max+1."""
    async with FakeTelegram() as tg:
        tg.script("getUpdates", bad_gateway(), bad_gateway(), bad_gateway())
        ids = [tg.queue_message("/help %d" % i, user_id=42) for i in range(3)]
        inbox = Inbox()
        async with running_channel(tmp_path, tg, inbox):
            await inbox.wait(3)
            after = await tg.next_request("getUpdates")
            while after.params.get("offset") is None or tg.count("getUpdates") < 5:
                after = await tg.next_request("getUpdates")
            assert after.params["offset"] == ids[-1] + 1
            await tg.wait_until(lambda: tg.confirmed == ids[-1] + 1)
        assert inbox.texts == ["/help 0", "/help 1", "/help 2"]
        polls = tg.calls("getUpdates")
        assert [p.status for p in polls[:4]] == [502, 502, 502, 200]
        gaps = [b.at - a.answered_at for a, b in zip(polls[:3], polls[1:4])]
        assert all(gap >= 0.004 for gap in gaps), gaps     # backed off, no busy loop
        assert max(tg.handouts.values()) == 1


@pytest.mark.gen_test(timeout=10)
async def test_429_on_getupdates_waits_exactly_retry_after(tmp_path):
    """A fractional retry_after is waited out before the next poll (backoff is 10-50 ms)."""
    async with FakeTelegram() as tg:
        tg.script("getUpdates", too_many(0.3))
        tg.queue_message("/help", user_id=42)
        inbox = Inbox()
        async with running_channel(tmp_path, tg, inbox):
            await inbox.wait(1)
        first, second = tg.calls("getUpdates")[:2]
        assert first.status == 429 and second.status == 200
        assert second.at - first.answered_at >= 0.3
        assert second.at - first.answered_at < 0.3 + 0.5


@pytest.mark.gen_test(timeout=10)
async def test_429_with_zero_retry_after_retries_at_once(tmp_path):
    """retry_after 0 is honoured as "now" (the code path stays real, not a special case)."""
    async with FakeTelegram() as tg:
        tg.script("getUpdates", too_many(0, header=False), too_many(0, header=False))
        tg.queue_message("/help", user_id=42)
        inbox = Inbox()
        async with running_channel(tmp_path, tg, inbox) as ch:
            await inbox.wait(1)
            assert ch.health.state == "ok"
        assert [p.status for p in tg.calls("getUpdates")[:3]] == [429, 429, 200]


@pytest.mark.gen_test(timeout=10)
async def test_409_streak_then_ok_logs_once_and_recovers(tmp_path, caplog):
    """Four 409s: health shows conflict, one log line for the streak, then ok and delivery."""
    caplog.set_level(logging.INFO, logger="openclaw_connector")
    async with FakeTelegram() as tg:
        tg.script("getUpdates", *[conflict()] * 4)
        inbox = Inbox()
        async with running_channel(tmp_path, tg, inbox) as ch:
            await tg.next_answered("getUpdates")
            assert ch.health.state == "conflict"
            tg.queue_message("/help", user_id=42)
            await inbox.wait(1)
            assert ch.health.state == "ok"
        assert [p.status for p in tg.calls("getUpdates")[:4]] == [409] * 4
    lines = [r.getMessage() for r in caplog.records if "poll_conflict" in r.getMessage()]
    assert len(lines) == 1 and "only one bot instance" in lines[0]
    states = [r.getMessage() for r in caplog.records if "channel_state" in r.getMessage()]
    assert any("state=conflict" in s for s in states)
    assert any("state=ok previous=conflict" in s for s in states)


@pytest.mark.gen_test(timeout=10)
async def test_webhook_set_409_is_cleared_by_deletewebhook(tmp_path):
    """A webhook set while polling 409s getUpdates until the channel calls deleteWebhook."""
    async with FakeTelegram() as tg:
        inbox = Inbox()
        async with running_channel(tmp_path, tg, inbox):
            await tg.next_request("getUpdates")
            deletes = tg.count("deleteWebhook")
            tg.set_webhook()                     # aborts the parked poll with 409
            tg.queue_message("/help", user_id=42)
            await inbox.wait(1)
            assert tg.count("deleteWebhook") == deletes + 1
            assert tg.webhook_url == ""
        assert any(p.status == 409 for p in tg.calls("getUpdates"))


@pytest.mark.gen_test(timeout=10)
async def test_webhook_is_active_409_triggers_one_deletewebhook_then_polling_works(tmp_path):
    """"can't use getUpdates method while webhook is active": deleteWebhook once, then the
    next poll gets the queued command."""
    async with FakeTelegram() as tg:
        inbox = Inbox()
        async with running_channel(tmp_path, tg, inbox):
            await tg.next_request("getUpdates")
            deletes = tg.count("deleteWebhook")
            tg.webhook_url = "https://hooks.example.invalid/tg"   # set without aborting
            tg.queue_message("/one", user_id=42)                  # the parked poll gets it
            await inbox.wait(1)
            refused = await tg.next_answered("getUpdates")
            while refused.status != 409:
                refused = await tg.next_answered("getUpdates")
            tg.queue_message("/two", user_id=42)
            await inbox.wait(2)
            assert tg.count("deleteWebhook") == deletes + 1
        assert "webhook is active" in refused.response["description"]
        assert inbox.texts == ["/one", "/two"]


@pytest.mark.gen_test(timeout=10)
async def test_webhook_set_before_start_is_deleted_at_startup(tmp_path):
    """deleteWebhook at startup means the first poll already works."""
    async with FakeTelegram() as tg:
        tg.set_webhook()
        tg.queue_message("/help", user_id=42)
        inbox = Inbox()
        async with running_channel(tmp_path, tg, inbox):
            await inbox.wait(1)
        assert tg.calls("getUpdates")[0].status == 200


@pytest.mark.gen_test(timeout=10)
@pytest.mark.parametrize("status", [401, 404])
async def test_bad_token_is_fatal_after_one_attempt_and_token_is_masked(tmp_path, caplog,
                                                                        status):
    """401/404 from getMe: fatal state, one clear error line with the token masked, no polls."""
    caplog.set_level(logging.INFO, logger="openclaw_connector")
    async with FakeTelegram() as tg:
        if status == 404:
            tg.script("getMe", error(404, "Not Found"))
            token = TOKEN
        else:
            token = "123456789:AAwrongwrongwrongwrongwrongwrong12"
        async with running_channel(tmp_path, tg, Inbox(), telegram__token=token) as ch:
            await tg.next_answered("getMe")
            await eventually(lambda: ch.health.state == "fatal")
        assert tg.count("getMe") == 1 and tg.count("getUpdates") == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "channel_stopped" in errors[0]
    assert "123456789:***" in errors[0] and "telegram.token" in errors[0]
    assert all(token not in r.getMessage() for r in caplog.records)


@pytest.mark.gen_test(timeout=10)
async def test_token_revoked_while_polling_stops_the_channel(tmp_path):
    """A 401 from getUpdates after a good start is fatal too: no further polls."""
    async with FakeTelegram() as tg:
        tg.script("getUpdates", passthrough(), error(401, "Unauthorized"))
        tg.queue_message("/help", user_id=42)
        inbox = Inbox()
        async with running_channel(tmp_path, tg, inbox) as ch:
            await inbox.wait(1)
            await eventually(lambda: ch.health.state == "fatal", turns=100000)
            polls = tg.count("getUpdates")
            tg.queue_message("/help again", user_id=42)
            await ch.send(ALICE_CHAT, Reply("still can send"))   # the loop ended, not I/O
        assert polls == 2 and tg.count("getUpdates") == 2 and inbox.texts == ["/help"]


@pytest.mark.gen_test(timeout=10)
async def test_poison_updates_are_skipped_and_offset_moves_past_them(tmp_path, caplog):
    """Unknown payload type and a message without chat: warned, skipped, good one handled."""
    caplog.set_level(logging.INFO, logger="openclaw_connector")
    async with FakeTelegram() as tg:
        bad1 = tg.queue_update({"my_chat_member": {"chat": {"id": 1}}})
        bad2 = tg.queue_update({"message": {"message_id": 1, "text": "/help"}})
        good = tg.queue_message("/help", user_id=42)
        inbox = Inbox()
        async with running_channel(tmp_path, tg, inbox) as ch:
            await inbox.wait(1)
            await ch.wait_handled(good, 5)
            await tg.wait_until(lambda: tg.confirmed == good + 1)
            assert ch.introspect().offset == good + 1
        assert inbox.texts == ["/help"]
    skipped = [r.getMessage() for r in caplog.records if "update_skipped" in r.getMessage()]
    assert len(skipped) == 2
    assert "update_id=%d" % bad1 in skipped[0] and "my_chat_member" in skipped[0]
    assert "update_id=%d" % bad2 in skipped[1]


@pytest.mark.gen_test(timeout=10)
async def test_connection_drop_mid_poll_repolls_same_offset_without_duplicates(tmp_path):
    """A reset getUpdates is retried with the same offset; nothing runs twice."""
    async with FakeTelegram() as tg:
        first = tg.queue_message("/help 1", user_id=42)
        inbox = Inbox()
        async with running_channel(tmp_path, tg, inbox):
            await inbox.wait(1)
            tg.script("getUpdates", drop())
            dropped = await tg.next_request("getUpdates")
            while dropped.status != 0:
                dropped = await tg.next_answered("getUpdates")
            tg.queue_message("/help 2", user_id=42)
            await inbox.wait(2)
            retry = tg.calls("getUpdates")[tg.calls("getUpdates").index(dropped) + 1]
            assert retry.params["offset"] == dropped.params["offset"] == first + 1
        assert inbox.texts == ["/help 1", "/help 2"]


@pytest.mark.gen_test(timeout=10)
async def test_slow_command_does_not_hold_up_polling_or_other_chats(tmp_path):
    """A command that hangs runs in its own task; later updates are handled meanwhile,
    and the saved offset stays at the unfinished update."""
    gate = asyncio.Event()

    async def behaviour(inbound):
        if inbound.text == "/slow":
            await gate.wait()
    async with FakeTelegram() as tg:
        slow = tg.queue_message("/slow", user_id=42)
        inbox = Inbox(behaviour)
        state = StateStore(str(tmp_path / "state"))
        state.open()
        async with running_channel(tmp_path, tg, inbox, state=state) as ch:
            await inbox.wait(1)
            fast = tg.queue_message("/fast", user_id=43)
            await ch.wait_handled(fast, 5)
            assert state.get("telegram.offset") == str(slow)
            await tg.wait_until(lambda: tg.confirmed > fast)    # confirmed at Telegram
            gate.set()
            await ch.wait_handled(slow, 5)
            assert state.get("telegram.offset") == str(fast + 1)
        state.close()


@pytest.mark.gen_test(timeout=15)
async def test_restart_between_fetch_and_confirm_loses_nothing_and_repeats_nothing(tmp_path):
    """Batch [A, B, C]; A and C finish, B is still running and Telegram never got the
    confirming poll when the process stops. After a restart B runs again (it never
    finished), and the redelivered A/C are recognised and not run again."""
    gate = asyncio.Event()

    async def behaviour(inbound):
        if inbound.text == "/b":
            await gate.wait()
    async with FakeTelegram() as tg:
        a = tg.queue_message("/a", user_id=42)
        b = tg.queue_message("/b", user_id=43)
        c = tg.queue_message("/c", user_id=44)
        tg.script("getUpdates", passthrough(), stall())   # the confirming poll never lands
        first = Inbox(behaviour)
        async with running_channel(tmp_path, tg, first) as ch:
            await first.wait(2, finished=True)            # A and C done, B hanging
            await ch.wait_handled(c, 5)
            await tg.next_request("getUpdates")
            await tg.next_request("getUpdates")           # the stalled one arrived
        assert tg.confirmed == 0 and tg.handouts[a] == 1
        assert sorted(first.texts) == ["/a", "/b", "/c"]
        assert sorted(i.text for i in first.finished) == ["/a", "/c"]

        second = Inbox()
        async with running_channel(tmp_path, tg, second) as ch:
            await second.wait(1)
            await ch.wait_handled(b, 5)
            await tg.wait_until(lambda: tg.confirmed == c + 1)
        assert second.texts == ["/b"]
        assert tg.handouts[c] == 2                        # really redelivered, then deduped


@pytest.mark.gen_test(timeout=10)
async def test_pending_from_a_crash_survives_a_run_that_never_connected(tmp_path):
    """An update a crashed run had fetched (and Telegram had confirmed) is kept through a
    run that never got past getMe, and handled by the next run that does."""
    state = StateStore(str(tmp_path / "state"))
    state.open()
    update = {"update_id": 900, "message": {
        "message_id": 5, "date": 1, "chat": {"id": 42, "type": "private"},
        "from": {"id": 42, "is_bot": False}, "text": "/left over"}}
    state.set_json("telegram.pending", {"900": update})
    state.set("telegram.offset", "900")
    state.close()
    async with FakeTelegram(first_update_id=901) as tg:
        tg.script("getMe", *[bad_gateway()] * 3)
        async with running_channel(tmp_path, tg, Inbox()):
            await tg.next_answered("getMe")
        inbox = Inbox()
        tg.queue_message("/new", user_id=42)
        async with running_channel(tmp_path, tg, inbox) as ch:
            await inbox.wait(2)
            await ch.wait_handled(900, 5)
        assert inbox.texts == ["/left over", "/new"]
        assert tg.calls("getUpdates")[0].params["offset"] == 901


@pytest.mark.gen_test(timeout=10)
async def test_hung_long_poll_times_out_at_poll_timeout_plus_margin_and_repolls(tmp_path):
    """A getUpdates the network swallows (no answer) is given up after poll timeout +
    margin and repeated with the same offset; the update it never delivered comes next."""
    async with FakeTelegram() as tg:
        inbox = Inbox()
        async with running_channel(tmp_path, tg, inbox, telegram__poll_margin_sec=0.3,
                                   telegram__poll_timeout_sec=0) as ch:
            await tg.next_request("getUpdates")
            tg.script("getUpdates", stall())
            hung = await tg.next_request("getUpdates")
            while hung.status is not None:
                hung = await tg.next_request("getUpdates")
            retry = await tg.next_request("getUpdates")
            assert retry.at - hung.at >= 0.3
            assert retry.params.get("offset") == hung.params.get("offset")
            uid = tg.queue_message("/help", user_id=42)
            await ch.wait_handled(uid, 5)
        assert inbox.texts == ["/help"] and ch.health.state == "stopped"


@pytest.mark.gen_test(timeout=10)
async def test_polling_pauses_while_max_inflight_commands_run(tmp_path):
    """Backpressure: with 2 commands hanging no further getUpdates is made; when one
    finishes polling resumes and the third command is fetched."""
    gate = asyncio.Event()

    async def behaviour(inbound):
        if inbound.text != "/third":
            await gate.wait()
    async with FakeTelegram() as tg:
        tg.queue_message("/one", user_id=42)
        tg.queue_message("/two", user_id=43)
        inbox = Inbox(behaviour)
        async with running_channel(tmp_path, tg, inbox, telegram__max_inflight=2):
            await inbox.wait(2)
            polls = tg.count("getUpdates")
            third = tg.queue_message("/third", user_id=44)
            with pytest.raises(asyncio.TimeoutError):      # no poll while both hang
                await tg.wait_until(lambda: tg.count("getUpdates") > polls, 0.3)
            assert third not in tg.handed_out
            gate.set()
            await inbox.wait(3, finished=True)
        assert sorted(inbox.texts) == ["/one", "/third", "/two"]
