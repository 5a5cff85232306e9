"""Discord through the Outbox (issue 13): a 429's retry_after waited once, a permanent
400 not retried, a 5xx on the second message resumed there, and ``send`` → ``Sent`` →
``edit`` (PATCH on the fake)."""

from __future__ import annotations

import pytest

from openclaw_connector.delivery import DONE, FAILED
from openclaw_connector.messages import ChannelSendError, ChatRef, Reply, Sent
from tests.channels.discord.conftest import running_channel
from tests.fakes.discord import CHANNEL_ID, USER_ID, Response, rate_limited
from tests.harness import outbox_for


def chat(message_id: str = "1300000000000000999") -> ChatRef:
    return ChatRef("discord", CHANNEL_ID, USER_ID, message_id=message_id, is_group=True)


@pytest.mark.gen_test(timeout=10)
async def test_429_retry_after_is_honoured_once_not_multiplied(fake_discord, tmp_path):
    """retry_after 0.4: the resend comes after ≥ 0.4 s and well before 0.8 s (the channel
    does not wait it and then the Outbox again)."""
    fake = fake_discord
    fake.script_send(CHANNEL_ID, rate_limited(0.4))
    async with running_channel(fake, tmp_path) as (channel, _inbox):
        delivery = await outbox_for(channel).deliver(chat(), Reply("one"), key="k1")
    limited, ok = fake.sends
    assert delivery.status == DONE and delivery.attempts == 2
    assert limited.status == 429 and ok.status == 200
    assert 0.39 <= ok.at - limited.at < 0.7


@pytest.mark.gen_test(timeout=10)
async def test_permanent_400_is_not_retried(fake_discord, tmp_path):
    fake = fake_discord
    fake.script_send(CHANNEL_ID, Response(400, {"code": 50035, "message": "Invalid Form Body"}))
    async with running_channel(fake, tmp_path) as (channel, _inbox):
        delivery = await outbox_for(channel).deliver(chat(), Reply("one"), key="k2")
    assert delivery.status == FAILED and delivery.permanent and delivery.attempts == 1
    assert len(fake.sends) == 1


@pytest.mark.gen_test(timeout=10)
async def test_second_message_failing_twice_is_resumed_there(fake_discord, tmp_path):
    """A 2500-character reply (two messages): the first is posted once, the second
    after two 502s, with the same nonce each time."""
    fake = fake_discord
    fake.script_send(CHANNEL_ID, Response(200, {"id": "1300000000000000111",
                                                "channel_id": CHANNEL_ID}),
                     Response(502, "<html>bad gateway</html>"),
                     Response(502, "<html>bad gateway</html>"))
    async with running_channel(fake, tmp_path) as (channel, _inbox):
        delivery = await outbox_for(channel).deliver(chat(), Reply("a" * 1500 + "\n" +
                                                                   "b" * 999), key="k3")
    assert [(s.content[:1], s.status) for s in fake.sends] == [
        ("a", 200), ("b", 502), ("b", 502), ("b", 200)]
    assert len({s.payload["nonce"] for s in fake.sends[1:]}) == 1
    assert delivery.status == DONE and delivery.sent is not None
    assert delivery.sent.first_id == "1300000000000000111"


@pytest.mark.gen_test(timeout=10)
async def test_send_returns_sent_and_edit_patches_that_message(fake_discord, tmp_path):
    fake = fake_discord
    async with running_channel(fake, tmp_path) as (channel, _inbox):
        sent = await channel.send(chat(), Reply("[Queued] portrait"))
        assert channel.capabilities.edit
        edited = await channel.edit(Sent.from_json(sent.to_json()),
                                    Reply("[Running] portrait 40%"))
        with pytest.raises(ChannelSendError) as err:
            await channel.edit(Sent("discord", CHANNEL_ID, "1399999999999999999"), Reply("x"))
    (posted,) = [s for s in fake.sends if s.status == 200]
    (edit,) = fake.edits
    assert sent.platform == "discord" and sent.chat_id == CHANNEL_ID
    assert sent.first_id == sent.last_id and sent.first_id in fake.messages
    assert edit.channel_id == CHANNEL_ID and edit.message_id == sent.first_id
    assert edit.content == "[Running] portrait 40%" and edited == sent
    assert fake.messages[sent.first_id]["content"] == "[Running] portrait 40%"
    assert posted.content == "[Queued] portrait"
    assert err.value.permanent and "10008" in str(err.value)
