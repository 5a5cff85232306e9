"""Replies through REST to the fake: splitting, uploads, nonces, rate limits (platforms.md §2)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket

import pytest
from tornado.httpclient import AsyncHTTPClient

from openclaw_connector.channels.discord.rest import DiscordRest
from openclaw_connector.config import DiscordConfig
from openclaw_connector.messages import ChannelSendError, ChatRef, Image, Reply
from openclaw_connector.metrics import Metrics
from tests.channels.discord.conftest import running_channel
from tests.harness import outbox_for
from tests.fakes.discord import CHANNEL_ID, USER_ID, Response, cloudflare_ban, rate_limited

OTHER_CHANNEL = "1200000000000000777"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64


def chat(channel_id: str = CHANNEL_ID, message_id: str = "1300000000000000999") -> ChatRef:
    return ChatRef("discord", channel_id, USER_ID, message_id=message_id, is_group=True)


@pytest.mark.gen_test(timeout=10)
async def test_2500_char_reply_is_split_and_first_part_references_the_command(
        fake_discord, tmp_path):
    fake = fake_discord
    text = "a" * 1500 + "\n" + "b" * 999
    async with running_channel(fake, tmp_path) as (channel, _inbox):
        await channel.send(chat(), Reply(text))
    first, second = fake.sends
    assert len(fake.sends) == 2
    assert len(first.content) <= 2000 and len(second.content) <= 2000
    assert first.content == "a" * 1500 and second.content == "b" * 999
    assert first.reference == "1300000000000000999" and second.reference is None
    assert first.payload["enforce_nonce"] is True
    assert first.payload["nonce"] != second.payload["nonce"]
    assert first.payload["allowed_mentions"] == {"parse": []}


@pytest.mark.gen_test(timeout=10)
async def test_image_arrives_as_multipart_with_the_right_bytes(fake_discord, tmp_path):
    fake = fake_discord
    async with running_channel(fake, tmp_path) as (channel, _inbox):
        await channel.send(chat(), Reply("done", images=(Image("out.png", PNG),)))
    (sent,) = fake.sends
    assert sent.content_type.startswith("multipart/form-data")
    assert sent.files == [("files[0]", "out.png", "image/png", PNG)]
    assert sent.payload["attachments"] == [{"id": 0, "filename": "out.png"}]
    assert sent.content == "done" and sent.reference == "1300000000000000999"


@pytest.mark.gen_test(timeout=10)
async def test_twelve_images_go_ten_per_message(fake_discord, tmp_path):
    fake = fake_discord
    images = tuple(Image("img%d.png" % i, PNG + bytes([i])) for i in range(12))
    async with running_channel(fake, tmp_path) as (channel, _inbox):
        await channel.send(chat(), Reply("", images=images))
    assert [len(s.files) for s in fake.sends] == [10, 2]
    assert fake.sends[1].files[1][3] == PNG + bytes([11])


@pytest.mark.gen_test(timeout=10)
async def test_file_over_the_limit_becomes_a_note(fake_discord, tmp_path):
    fake = fake_discord
    async with running_channel(fake, tmp_path, discord__max_file_mb=0.01) as (channel, _):
        await channel.send(chat(), Reply("result", images=(Image("big.png", PNG * 2),
                                                           Image("ok.png", b"small"))))
    (sent,) = fake.sends
    assert "big.png" in sent.content and "not sent" in sent.content
    assert [f[1] for f in sent.files] == ["ok.png"]


@pytest.mark.gen_test(timeout=10)
async def test_per_route_429_delays_only_that_channel(fake_discord, tmp_path):
    """A bucket 429 waits retry_after on that channel; another channel is not held up."""
    fake = fake_discord
    fake.script_send(CHANNEL_ID, rate_limited(0.3))
    async with running_channel(fake, tmp_path) as (channel, _inbox):
        slow = asyncio.ensure_future(outbox_for(channel).deliver(chat(), Reply("one"),
                                                                 key="k"))
        await fake.wait_for(lambda: fake.sends, what="the 429")
        await channel.send(chat(OTHER_CHANNEL), Reply("two"))
        other_done = asyncio.get_running_loop().time()
        await slow
    limited, other, retried = fake.sends
    assert limited.status == 429 and other.channel_id == OTHER_CHANNEL
    assert retried.channel_id == CHANNEL_ID and retried.status == 200
    assert 0.29 <= retried.at - limited.at < 0.5     # retry_after waited once, not twice
    assert other.at - limited.at < 0.2
    assert retried.payload["nonce"] == limited.payload["nonce"]
    assert other_done > 0


@pytest.mark.gen_test(timeout=10)
async def test_global_429_pauses_every_send(fake_discord, tmp_path, discord_log):
    fake = fake_discord
    fake.script_send(CHANNEL_ID, rate_limited(0.3, global_=True))
    async with running_channel(fake, tmp_path) as (channel, _inbox):
        first = asyncio.ensure_future(outbox_for(channel).deliver(chat(), Reply("one"),
                                                                  key="k"))
        await discord_log.wait_for("event=discord_rate_limited")
        await channel.send(chat(OTHER_CHANNEL), Reply("two"))
        await first
    limited = fake.sends[0]
    assert limited.status == 429 and len(fake.sends) == 3
    assert all(s.at - limited.at >= 0.29 for s in fake.sends[1:])


@pytest.mark.gen_test(timeout=10)
async def test_bucket_headers_remaining_zero_wait_for_reset(fake_discord, tmp_path):
    fake = fake_discord
    fake.script_send(CHANNEL_ID, Response(200, {"id": "1"}, {
        "X-RateLimit-Bucket": "msgbucket", "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset-After": "0.3"}))
    async with running_channel(fake, tmp_path) as (channel, _inbox):
        await channel.send(chat(), Reply("one"))
        await channel.send(chat(), Reply("two"))
    assert fake.sends[1].at - fake.sends[0].at >= 0.29


@pytest.mark.gen_test(timeout=10)
async def test_429_without_json_is_a_ban_that_pauses_all_rest(fake_discord, tmp_path,
                                                              caplog):
    """Cloudflare's HTML 429: no tight retry; every send refused for >= 60 s."""
    caplog.set_level(logging.INFO)
    fake = fake_discord
    fake.script_send(CHANNEL_ID, cloudflare_ban())
    async with running_channel(fake, tmp_path) as (channel, _inbox):
        with pytest.raises(ChannelSendError) as first:
            await channel.send(chat(), Reply("one"))
        with pytest.raises(ChannelSendError) as second:
            await channel.send(chat(OTHER_CHANNEL), Reply("two"))
    assert first.value.retry_after >= 60 and second.value.retry_after > 59
    assert len(fake.sends) == 1
    assert any("discord_ban" in r.getMessage() for r in caplog.records)


@pytest.mark.gen_test(timeout=10)
async def test_5xx_is_retried_with_the_same_nonce(fake_discord, tmp_path):
    fake = fake_discord
    fake.script_send(CHANNEL_ID, Response(502, "<html>bad gateway</html>"))
    async with running_channel(fake, tmp_path) as (channel, _inbox):
        await outbox_for(channel).deliver(chat(), Reply("one"), key="k")
    failed, ok = fake.sends
    assert failed.status == 502 and ok.status == 200
    assert failed.payload["nonce"] == ok.payload["nonce"]


@pytest.mark.gen_test(timeout=10)
async def test_refused_send_raises_permanent_error(fake_discord, tmp_path):
    fake = fake_discord
    fake.script_send(CHANNEL_ID, Response(403, {"code": 50013, "message": "Missing Permissions"}))
    async with running_channel(fake, tmp_path) as (channel, _inbox):
        with pytest.raises(ChannelSendError) as err:
            await channel.send(chat(), Reply("one"))
    assert err.value.permanent and "50013" in str(err.value) and len(fake.sends) == 1


@pytest.mark.gen_test(timeout=10)
async def test_repeated_send_of_the_same_reply_is_deduplicated_by_nonce(fake_discord,
                                                                         tmp_path):
    """A caller retrying the same reply cannot post it twice (enforce_nonce)."""
    fake = fake_discord
    async with running_channel(fake, tmp_path) as (channel, _inbox):
        await channel.send(chat(), Reply("once"))
        await channel.send(chat(), Reply("once"))
    assert [s.duplicate for s in fake.sends] == [False, True]


@pytest.mark.gen_test(timeout=10)
async def test_rest_sends_bot_authorization_and_user_agent(fake_discord, tmp_path):
    """Requests carry ``Authorization: Bot`` (the fake 401s otherwise) and JSON bodies."""
    fake = fake_discord
    async with running_channel(fake, tmp_path) as (channel, _inbox):
        await channel.send(chat(), Reply("hi"))
    assert fake.sends[0].content_type == "application/json"
    assert json.dumps(fake.sends[0].payload)


@pytest.mark.gen_test(timeout=10)
async def test_error_text_echoing_our_token_is_masked(fake_discord, tmp_path):
    """A proxy that echoes the request (token included) must not put it in our errors."""
    fake = fake_discord
    fake.script_send(CHANNEL_ID, Response(400, {"code": 50035, "message": "bad auth Bot %s"
                                                % fake.token}))
    async with running_channel(fake, tmp_path) as (channel, _inbox):
        with pytest.raises(ChannelSendError) as err:
            await channel.send(chat(), Reply("one"))
    assert fake.token not in str(err.value) and "***" in str(err.value)


@pytest.mark.gen_test(timeout=10)
async def test_unreachable_api_raises_a_transient_channel_send_error():
    """A refused connection is one attempt, reported as a retryable ChannelSendError."""
    with socket.socket() as sock:               # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    http = AsyncHTTPClient(force_instance=True)
    cfg = DiscordConfig(api_base="http://127.0.0.1:%d/api/v10" % port, token="token")
    rest = DiscordRest(cfg, http, stopping=asyncio.Event(), metrics=Metrics())
    try:
        with pytest.raises(ChannelSendError) as err:
            await rest.call("POST", "/channels/1/messages", route="r", major="1", body=b"{}")
    finally:
        http.close()
    assert "status=599" in str(err.value) and not err.value.permanent
