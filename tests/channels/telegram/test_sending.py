"""Replies through the fake: chunking, photos and documents as multipart uploads,
outbound 429 / migrate / 403, group threading and per-chat order."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import pytest

from openclaw_connector.messages import ChannelSendError, ChatRef, Image, Reply
from tests.fakes.telegram import FakeTelegram, bad_gateway, too_many
from tests.harness import outbox_for
from tests.channels.telegram.support import Inbox, running_channel

ALICE = ChatRef(platform="telegram", chat_id="42", user_id="42", message_id="7")
GROUP = ChatRef(platform="telegram", chat_id="-100200300", user_id="42", message_id="9",
                is_group=True)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


@pytest.mark.gen_test(timeout=10)
async def test_5000_char_reply_is_split_in_order_on_line_boundaries(tmp_path):
    """A 5000-character reply arrives as two messages, ≤4096 each, lines intact, in order."""
    lines = ["%04d %s" % (i, "é" * 44) for i in range(100)]
    text = "\n".join(lines)
    assert len(text) == 5000 - 1
    async with FakeTelegram() as tg:
        async with running_channel(tmp_path, tg, Inbox()) as ch:
            await ch.send(ALICE, Reply(text=text + "!"))
        texts = tg.texts("42")
    assert len(texts) == 2 and all(len(t) <= 4096 for t in texts)
    assert "\n".join(texts) == text + "!"


@pytest.mark.gen_test(timeout=10)
async def test_image_goes_as_multipart_sendphoto_with_the_exact_bytes(tmp_path):
    """Text first, then the image uploaded as ``photo`` with its filename and type."""
    async with FakeTelegram() as tg:
        async with running_channel(tmp_path, tg, Inbox()) as ch:
            await ch.send(ALICE, Reply(text="Done", images=(Image("out_0001.png", PNG),)))
        sent = tg.sent("42")
    assert [r.key for r in sent] == ["sendmessage", "sendphoto"]
    upload = sent[1].files["photo"]
    assert upload.data == PNG and upload.filename == "out_0001.png"
    assert upload.content_type == "image/png" and sent[1].params["chat_id"] == "42"


@pytest.mark.gen_test(timeout=10)
async def test_image_over_10mb_goes_as_document(tmp_path):
    """Telegram takes photo uploads up to 10 MB; bigger files go via sendDocument."""
    big = PNG + b"\0" * 10_000_001
    async with FakeTelegram() as tg:
        async with running_channel(tmp_path, tg, Inbox()) as ch:
            await ch.send(ALICE, Reply(images=(Image("huge.png", big),)))
        sent = tg.sent("42")
    assert [r.key for r in sent] == ["senddocument"]
    assert sent[0].files["document"].data == big
    assert tg.count("sendPhoto") == 0


@pytest.mark.gen_test(timeout=10)
async def test_photo_refused_by_telegram_is_resent_as_document(tmp_path):
    """A 400 on sendPhoto (bad dimensions/format) falls back to sendDocument once."""
    async with FakeTelegram() as tg:
        async with running_channel(tmp_path, tg, Inbox()) as ch:
            await ch.send(ALICE, Reply(images=(Image("odd.png", b"not really a png"),)))
        assert tg.calls("sendPhoto")[0].status == 400
        assert [r.key for r in tg.sent("42")] == ["senddocument"]


@pytest.mark.gen_test(timeout=10)
async def test_sendmessage_429_waits_retry_after_and_resends_the_same_message(tmp_path):
    """Outbound 429 with retry_after 0.25: the same text is sent again after ≥0.25 s,
    waited once (the channel raises it, the Outbox waits it)."""
    async with FakeTelegram() as tg:
        tg.script("sendMessage", too_many(0.25))
        async with running_channel(tmp_path, tg, Inbox()) as ch:
            delivery = await outbox_for(ch).deliver(ALICE, Reply(text="hello"), key="k")
        first, second = tg.calls("sendMessage")
    assert first.status == 429 and second.status == 200 and delivery.attempts == 2
    assert first.params == second.params
    assert 0.25 <= second.at - first.answered_at < 0.45


@pytest.mark.gen_test(timeout=10)
async def test_group_migrated_to_supergroup_resends_once_and_remembers(tmp_path):
    """400 migrate_to_chat_id: resent to the new id; the next send goes there directly."""
    async with FakeTelegram() as tg:
        tg.migrate_chat("-100200300", -1009876543210)
        async with running_channel(tmp_path, tg, Inbox()) as ch:
            await ch.send(GROUP, Reply(text="one"))
            await ch.send(GROUP, Reply(text="two"))
        calls = tg.calls("sendMessage")
    assert [(c.chat_id, c.status) for c in calls] == [
        ("-100200300", 400), ("-1009876543210", 200), ("-1009876543210", 200)]
    assert tg.texts("-1009876543210") == ["one", "two"]


@pytest.mark.gen_test(timeout=10)
async def test_blocked_by_user_raises_permanent_send_error_after_logging(tmp_path, caplog):
    """403 is permanent: one attempt, ChannelSendError(permanent=True), a warning line."""
    caplog.set_level(logging.INFO, logger="openclaw_connector")
    async with FakeTelegram() as tg:
        tg.block_chat(42)
        async with running_channel(tmp_path, tg, Inbox()) as ch:
            with pytest.raises(ChannelSendError) as err:
                await ch.send(ALICE, Reply(text="hi"))
        assert tg.count("sendMessage") == 1
    assert err.value.permanent
    assert any("send_failed" in r.getMessage() and "status=403" in r.getMessage()
               for r in caplog.records)


@pytest.mark.gen_test(timeout=10)
async def test_5xx_is_reported_after_one_attempt_not_swallowed(tmp_path):
    """A server error is one attempt (the Outbox retries): the caller gets a
    non-permanent error saying how far the reply got."""
    async with FakeTelegram() as tg:
        tg.script("sendMessage", bad_gateway())
        async with running_channel(tmp_path, tg, Inbox()) as ch:
            with pytest.raises(ChannelSendError) as err:
                await ch.send(ALICE, Reply(text="hi"))
            assert not err.value.permanent and err.value.sent_parts == 0
            await ch.send(ALICE, Reply(text="again"))
        assert [c.status for c in tg.calls("sendMessage")] == [502, 200]


@pytest.mark.gen_test(timeout=10)
async def test_group_reply_threads_to_the_command_message(tmp_path):
    """In groups the first part replies to the command; private chats don't thread."""
    async with FakeTelegram() as tg:
        async with running_channel(tmp_path, tg, Inbox()) as ch:
            await ch.send(GROUP, Reply(text="a\n" + "b" * 4096))
            await ch.send(ALICE, Reply(text="c"))
        group = tg.calls("sendMessage")[:2]
        assert group[0].params["reply_to_message_id"] == 9
        assert "reply_to_message_id" not in group[1].params
        assert "reply_to_message_id" not in tg.calls("sendMessage")[2].params


@pytest.mark.gen_test(timeout=10)
async def test_sends_to_one_chat_stay_in_order_while_other_chats_proceed(tmp_path):
    """Concurrent sends to a chat arrive in call order; a stalled chat doesn't block others."""
    async with FakeTelegram() as tg:
        async with running_channel(tmp_path, tg, Inbox()) as ch:
            tg.stall_chat(43)
            stuck = asyncio.ensure_future(ch.send(replace(ALICE, chat_id="43"), Reply("x")))
            await tg.next_request("sendMessage")
            sends = [asyncio.ensure_future(ch.send(ALICE, Reply(text="m%d" % i)))
                     for i in range(10)]
            await asyncio.gather(*sends)
            assert tg.texts("42") == ["m%d" % i for i in range(10)]
            assert not stuck.done()
            tg.release()
            await stuck
