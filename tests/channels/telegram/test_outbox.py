"""Telegram through the Outbox (issue 13): one attempt per part, a retry resumes after the
parts already delivered, permanent refusals are not retried, ``send`` returns a ``Sent``
whose ids ``edit`` targets (editMessageText on the fake), and a live card is sent once,
then edited (Outbox.update)."""

from __future__ import annotations

import asyncio
import time

import pytest

from openclaw_connector.delivery import DONE, FAILED
from openclaw_connector.messages import ChannelSendError, ChatRef, Image, Reply, Sent
from openclaw_connector.state import StateStore
from tests.fakes.telegram import FakeTelegram, bad_gateway, error, passthrough
from tests.harness import outbox_for
from tests.channels.telegram.support import Inbox, running_channel

ALICE = ChatRef(platform="telegram", chat_id="42", user_id="42", message_id="7")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


def server_error() -> object:
    return error(500, "Internal Server Error")


@pytest.mark.gen_test(timeout=10)
async def test_photo_upload_failing_500_three_times_sends_one_caption_and_one_photo(tmp_path):
    """The caption goes once; only the photo is retried, and it arrives once."""
    async with FakeTelegram() as tg:
        tg.script("sendPhoto", server_error(), server_error(), server_error())
        async with running_channel(tmp_path, tg, Inbox()) as ch:
            delivery = await outbox_for(ch).deliver(
                ALICE, Reply("[Done] portrait", images=(Image("out.png", PNG),)), key="r1")
        assert [r.key for r in tg.sent("42")] == ["sendmessage", "sendphoto"]
        assert tg.texts("42") == ["[Done] portrait"] and tg.count("sendMessage") == 1
        assert [c.status for c in tg.calls("sendPhoto")] == [500, 500, 500, 200]
        caption_id = tg.sent("42")[0].response["result"]["message_id"]
        photo_id = tg.sent("42")[1].response["result"]["message_id"]
    assert delivery.status == DONE and delivery.attempts == 4
    assert delivery.sent == Sent("telegram", "42", str(caption_id), str(photo_id))


@pytest.mark.gen_test(timeout=10)
async def test_three_part_text_whose_second_part_fails_twice_arrives_once_in_order(tmp_path):
    """Parts 1, 2, 3 each reach the chat exactly once, in order."""
    parts = [("%d" % n) * 4000 for n in (1, 2, 3)]
    async with FakeTelegram() as tg:
        tg.script("sendMessage", passthrough(), bad_gateway(), bad_gateway())
        async with running_channel(tmp_path, tg, Inbox()) as ch:
            delivery = await outbox_for(ch).deliver(ALICE, Reply("\n".join(parts)), key="r2")
        assert tg.texts("42") == parts
        assert [c.status for c in tg.calls("sendMessage")] == [200, 502, 502, 200, 200]
    assert delivery.status == DONE and delivery.attempts == 3


@pytest.mark.gen_test(timeout=10)
async def test_channel_reports_how_far_it_got_and_resumes_there(tmp_path):
    """A failed part raises ChannelSendError with ``sent_parts``; send(start_part=...)
    sends only what is left."""
    async with FakeTelegram() as tg:
        tg.script("sendMessage", passthrough(), bad_gateway())
        async with running_channel(tmp_path, tg, Inbox()) as ch:
            reply = Reply("first\n" + "x" * 4095 + "\nthird")
            with pytest.raises(ChannelSendError) as err:
                await ch.send(ALICE, reply)
            assert err.value.sent_parts == 1 and not err.value.permanent
            assert err.value.sent is not None and err.value.sent.first_id
            rest = await ch.send(ALICE, reply, start_part=err.value.sent_parts)
        assert tg.texts("42") == ["first", "x" * 4095, "third"]
    assert rest.first_id != err.value.sent.first_id


@pytest.mark.gen_test(timeout=10)
async def test_permanent_400_is_not_retried(tmp_path):
    """A 400 (chat not found) is final: one call, FAILED, permanent."""
    async with FakeTelegram() as tg:
        tg.script("sendMessage", error(400, "Bad Request: chat not found"))
        async with running_channel(tmp_path, tg, Inbox()) as ch:
            delivery = await outbox_for(ch).deliver(ALICE, Reply("hello"), key="r3")
        assert tg.count("sendMessage") == 1
    assert delivery.status == FAILED and delivery.permanent and delivery.attempts == 1


@pytest.mark.gen_test(timeout=10)
async def test_sent_handle_survives_a_restart_and_edit_targets_its_message(tmp_path):
    """send → Sent (stored as JSON); a new channel edits that message with
    editMessageText; the same text again ("message is not modified") is success."""
    async with FakeTelegram() as tg:
        async with running_channel(tmp_path, tg, Inbox()) as ch:
            sent = await ch.send(ALICE, Reply("[Queued] portrait"))
            assert ch.capabilities.edit
        stored = sent.to_json()
        async with running_channel(tmp_path, tg, Inbox()) as again:
            restored = Sent.from_json(stored)
            edited = await again.edit(restored, Reply("[Running] portrait 50%"))
            same = await again.edit(restored, Reply("[Running] portrait 50%"))
        (call, repeat) = tg.calls("editMessageText")
        assert tg.edits == [("42", int(sent.first_id), "[Running] portrait 50%")]
        assert tg.messages[("42", int(sent.first_id))]["text"] == "[Running] portrait 50%"
    assert restored == sent and edited == sent and same == sent
    assert call.params["message_id"] == int(sent.first_id) and call.status == 200
    assert repeat.status == 400


@pytest.mark.gen_test(timeout=10)
async def test_edit_of_a_message_telegram_does_not_know_is_a_permanent_error(tmp_path):
    async with FakeTelegram() as tg:
        async with running_channel(tmp_path, tg, Inbox()) as ch:
            with pytest.raises(ChannelSendError) as err:
                await ch.edit(Sent("telegram", "42", "999", "999"), Reply("x"))
    assert err.value.permanent and "not found" in str(err.value)


@pytest.mark.gen_test(timeout=10)
async def test_live_card_is_sent_once_then_edited_and_the_latest_state_wins(tmp_path):
    """Outbox.update: the first state is sent; three states that arrive within the
    throttle interval become one edit, showing the last of them."""
    async with FakeTelegram() as tg:
        async with running_channel(tmp_path, tg, Inbox()) as ch:
            outbox = outbox_for(ch, card_interval=0.3)
            await outbox.update("job1", ALICE, Reply("[Queued] portrait"))
            sent_at = time.monotonic()
            await asyncio.gather(*(outbox.update("job1", ALICE, Reply("[Running] %d%%" % p))
                                   for p in (10, 40, 70)))
            edited_at = time.monotonic()
        (card,) = tg.sent("42")
        card_id = card.response["result"]["message_id"]
        assert tg.edits == [("42", card_id, "[Running] 70%")]
    assert edited_at - sent_at >= 0.29


@pytest.mark.gen_test(timeout=10)
async def test_live_card_is_edited_after_a_restart_and_resent_when_deleted(tmp_path):
    """The card's Sent is kept in the StateStore: a new process edits the same message;
    a card deleted in the chat (edit: not found) is sent anew; end_card forgets it."""
    state = StateStore(str(tmp_path / "state"))
    state.open()
    try:
        async with FakeTelegram() as tg:
            async with running_channel(tmp_path, tg, Inbox(), state=state) as ch:
                await outbox_for(ch, state=state).update("job2", ALICE, Reply("[Queued]"))
            async with running_channel(tmp_path, tg, Inbox(), state=state) as ch:
                outbox = outbox_for(ch, state=state)
                await outbox.update("job2", ALICE, Reply("[Running] 50%"))
                first_id = tg.sent("42")[0].response["result"]["message_id"]
                del tg.messages[("42", first_id)]          # the user deleted the card
                await outbox.update("job2", ALICE, Reply("[Running] 90%"))
                outbox.end_card("job2")
                await outbox.update("job2", ALICE, Reply("[Queued] next"))
            assert tg.edits == [("42", first_id, "[Running] 50%")]
            assert tg.texts("42") == ["[Queued]", "[Running] 90%", "[Queued] next"]
    finally:
        state.close()
