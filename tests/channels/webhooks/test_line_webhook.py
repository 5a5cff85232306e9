"""LINE webhook in and reply/push out, channel + WebServers against the fake LINE API."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest

from openclaw_connector.messages import ChannelSendError, ChatRef, Image, Reply
from tests.fakes import line as fline
from tests.harness import outbox_for, settle
from tests.channels.webhooks.support import (ALICE_LINE, GROUP, LINE_SECRET, LINE_TOKEN, PUBLIC, Inbox,
                                    echo, get, post_line, running_stack, webhook_config)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def line_only(tmp_path, fake, **kw):
    return webhook_config(tmp_path, line=fake, **kw)


@pytest.mark.gen_test(timeout=10)
async def test_text_command_reaches_handler_and_reply_uses_token(tmp_path):
    """A signed text message becomes an Inbound and its answer goes out via the reply API."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fake:
        ref: list = []
        inbox = Inbox(echo(ref))
        async with running_stack(line_only(tmp_path, fake), inbox) as stack:
            ref.append(stack)
            token = fake.issue_reply_token(to=ALICE_LINE)
            event = fline.text_event("/help", reply_token=token, message_id="4711")
            resp = await post_line(stack.url("line"), fline.body_of(event))
            assert resp.code == 200
            (inbound,) = await inbox.wait(1)
            delivered = await fake.wait_delivered(1)
    assert (inbound.platform, inbound.user_id, inbound.chat_id, inbound.text) == (
        "line", ALICE_LINE, ALICE_LINE, "/help")
    assert inbound.is_direct and inbound.message_id == "4711"
    assert inbound.chat.reply_token == token and inbound.chat.received_at > 0
    assert delivered[0]["api"] == "reply"
    assert delivered[0]["messages"] == [{"type": "text", "text": "echo: /help"}]
    (call,) = fake.matching("/reply")
    assert call.headers["Authorization"] == "Bearer " + LINE_TOKEN
    assert "X-Line-Retry-Key" not in call.headers


@pytest.mark.gen_test(timeout=10)
@pytest.mark.parametrize("how", ["wrong", "missing", "altered", "other_secret"])
async def test_bad_signature_is_401_and_nothing_runs(tmp_path, how):
    """Wrong, missing, one-byte-altered or foreign-secret signatures → 401, no command."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fake:
        inbox = Inbox()
        async with running_stack(line_only(tmp_path, fake), inbox) as stack:
            body = fline.body_of(fline.text_event("/status"))
            if how == "wrong":
                resp = await post_line(stack.url("line"), body, signature="AAAA" + "=" * 40)
            elif how == "missing":
                resp = await post_line(stack.url("line"), body, signature="")
            elif how == "altered":
                good = fline.sign(body, LINE_SECRET)
                tampered = body.replace(b"/status", b"/statuz")
                resp = await post_line(stack.url("line"), tampered, signature=good)
            else:
                resp = await post_line(stack.url("line"), body, secret="not-our-secret")
            await settle(3)
            assert resp.code == 401
            assert inbox.items == []
            assert stack.metrics.value("webhook_requests_total", platform="line",
                                       status="401") == 1


@pytest.mark.gen_test(timeout=10)
async def test_non_ascii_body_with_valid_signature_is_accepted(tmp_path):
    """The signature is checked over the raw UTF-8 bytes, not a re-serialisation."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fake:
        inbox = Inbox()
        async with running_stack(line_only(tmp_path, fake), inbox) as stack:
            text = "/run portrait prompt=猫と🦊 café"
            body = fline.body_of(fline.text_event(text))
            assert "猫".encode() in body
            resp = await post_line(stack.url("line"), body)
            (inbound,) = await inbox.wait(1)
    assert resp.code == 200 and inbound.text == text


@pytest.mark.gen_test(timeout=10)
@pytest.mark.parametrize("body,status", [
    (b"{not json", 400),
    (b'{"destination":"U1","events":{"0":1}}', 400),
    (b'["events"]', 400),
    (b"\xff\xfe\x00garbage", 400),
    (b'{"destination":"U1","events":[]}', 200),
    (b'{"events":[{"type":"follow"},{"type":"brand-new-kind"},42,'
     b'{"type":"message","message":{"type":"sticker","id":"1"},"source":{"type":"user"}}]}',
     200),
])
async def test_bad_shapes_after_valid_signature(tmp_path, body, status):
    """Invalid JSON / events not a list → 400; verification and unknown events → 200."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fake:
        inbox = Inbox()
        async with running_stack(line_only(tmp_path, fake), inbox) as stack:
            resp = await post_line(stack.url("line"), body)
            await settle(3)
    assert resp.code == status
    assert inbox.items == []


@pytest.mark.gen_test(timeout=10)
async def test_standby_mode_events_are_ignored(tmp_path):
    """Events in standby mode (another module holds the chat) run nothing."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fake:
        inbox = Inbox()
        async with running_stack(line_only(tmp_path, fake), inbox) as stack:
            standby = fline.text_event("/status", mode="standby")
            active = fline.text_event("/help")
            resp = await post_line(stack.url("line"), fline.body_of(standby, active))
            items = await inbox.wait(1)
            await settle(3)
    assert resp.code == 200 and [i.text for i in items] == ["/help"]


@pytest.mark.gen_test(timeout=10)
async def test_same_event_twice_sequential_and_concurrent_runs_once(tmp_path):
    """A redelivery and a concurrent duplicate both get 200 and run the command once."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fake:
        inbox = Inbox()
        async with running_stack(line_only(tmp_path, fake), inbox) as stack:
            first = fline.text_event("/status", event_id="01HEVENTAAAA")
            again = dict(first, deliveryContext={"isRedelivery": True})
            r1 = await post_line(stack.url("line"), fline.body_of(first))
            r2 = await post_line(stack.url("line"), fline.body_of(again))
            twin = fline.text_event("/jobs", event_id="01HEVENTBBBB")
            body = fline.body_of(twin)
            r3, r4 = await asyncio.gather(post_line(stack.url("line"), body),
                                          post_line(stack.url("line"), body))
            await inbox.wait(2)
            await settle(5)
            dupes = stack.metrics.value("webhook_duplicates_total", platform="line")
    assert [r.code for r in (r1, r2, r3, r4)] == [200, 200, 200, 200]
    assert sorted(i.text for i in inbox.items) == ["/jobs", "/status"]
    assert dupes == 2


@pytest.mark.gen_test(timeout=10)
async def test_dedup_survives_a_restart(tmp_path):
    """Seen event ids are persisted: a redelivery after a restart is still a duplicate."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fake:
        event = fline.text_event("/status", event_id="01HPERSIST")
        inbox = Inbox()
        cfg = line_only(tmp_path, fake)
        async with running_stack(cfg, inbox) as stack:
            assert (await post_line(stack.url("line"), fline.body_of(event))).code == 200
            await inbox.wait(1)
        async with running_stack(cfg, inbox) as stack:
            again = dict(event, deliveryContext={"isRedelivery": True})
            assert (await post_line(stack.url("line"), fline.body_of(again))).code == 200
            await settle(5)
    assert len(inbox.items) == 1


@pytest.mark.gen_test(timeout=10)
async def test_group_message_ids_and_push_target(tmp_path):
    """In a group, chat_id is the groupId and user_id the sender; push goes to the group."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fake:
        inbox = Inbox()
        async with running_stack(line_only(tmp_path, fake), inbox) as stack:
            event = fline.text_event("/help", group_id=GROUP)
            await post_line(stack.url("line"), fline.body_of(event))
            (inbound,) = await inbox.wait(1)
            stale = ChatRef(**{**inbound.chat.__dict__, "received_at": time.time() - 55})
            await stack.channels["line"].send(stale, Reply("hello group"))
    assert inbound.chat_id == GROUP and inbound.user_id == ALICE_LINE
    assert not inbound.is_direct and inbound.chat.is_group
    assert fake.matching("/reply") == []
    assert fake.delivered == [{"api": "push", "to": GROUP,
                               "messages": [{"type": "text", "text": "hello group"}]}]


@pytest.mark.gen_test(timeout=10)
async def test_rejected_reply_token_falls_back_to_push_with_retry_key(tmp_path):
    """LINE's 400 "Invalid reply token" switches to push carrying an X-Line-Retry-Key."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fake:
        ref: list = []
        inbox = Inbox(echo(ref))
        async with running_stack(line_only(tmp_path, fake), inbox) as stack:
            ref.append(stack)
            token = fake.issue_reply_token(to=ALICE_LINE)
            fake.expire_reply_tokens()
            await post_line(stack.url("line"),
                            fline.body_of(fline.text_event("/help", reply_token=token)))
            delivered = await fake.wait_delivered(1)
    assert len(fake.matching("/reply")) == 1
    (push,) = fake.matching("/push")
    assert len(push.headers["X-Line-Retry-Key"]) == 36
    assert push.json["to"] == ALICE_LINE
    assert delivered == [{"api": "push", "to": ALICE_LINE,
                          "messages": [{"type": "text", "text": "echo: /help"}]}]


@pytest.mark.gen_test(timeout=10)
async def test_stale_or_used_token_goes_straight_to_push(tmp_path):
    """Tokens older than 50 s are not tried; a token is used at most once."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fake:
        async with running_stack(line_only(tmp_path, fake), Inbox()) as stack:
            channel = stack.channels["line"]
            stale = ChatRef("line", ALICE_LINE, ALICE_LINE, reply_token="tok-old",
                            received_at=time.time() - 51)
            await channel.send(stale, Reply("late result"))
            token = fake.issue_reply_token(to=ALICE_LINE)
            fresh = ChatRef("line", ALICE_LINE, ALICE_LINE, reply_token=token,
                            received_at=time.time())
            await channel.send(fresh, Reply("queued"))
            await channel.send(fresh, Reply("done"))
    assert [d["api"] for d in fake.delivered] == ["push", "reply", "push"]
    assert len(fake.matching("/reply")) == 1


@pytest.mark.gen_test(timeout=10)
async def test_push_500_with_lost_response_is_delivered_once(tmp_path):
    """Push → 500 (but accepted), retry with the same key → 409 = delivered, once."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fake:
        async with running_stack(line_only(tmp_path, fake), Inbox()) as stack:
            fake.fail("push", 500, "Internal error", accept=True)
            chat = ChatRef("line", ALICE_LINE, ALICE_LINE)
            await outbox_for(stack.channels["line"]).deliver(chat, Reply("your image is ready"),
                                                             key="result:1")
    pushes = fake.matching("/push")
    assert len(pushes) == 2
    assert pushes[0].headers["X-Line-Retry-Key"] == pushes[1].headers["X-Line-Retry-Key"]
    assert len(fake.delivered) == 1


@pytest.mark.gen_test(timeout=10)
async def test_push_5xx_then_ok_and_persistent_5xx_fails(tmp_path):
    """A 503 is retried with backoff by the Outbox, with the same X-Line-Retry-Key every
    time; five failures in a row give up (not permanent), one push each, no more."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fake:
        async with running_stack(line_only(tmp_path, fake), Inbox()) as stack:
            chat = ChatRef("line", ALICE_LINE, ALICE_LINE)
            outbox = outbox_for(stack.channels["line"], attempts=5)
            fake.fail("push", 503, times=2)
            await outbox.deliver(chat, Reply("third time lucky"), key="result:1")
            pushes = fake.matching("/push")
            assert len(fake.delivered) == 1 and len(pushes) == 3
            assert len({p.headers["X-Line-Retry-Key"] for p in pushes}) == 1
            fake.fail("push", 500, times=6)
            delivery = await outbox.deliver(chat, Reply("never"), key="result:2")
            with pytest.raises(ChannelSendError) as info:
                await stack.channels["line"].send(chat, Reply("not now"), key="result:3")
    assert delivery.status == "failed" and not delivery.permanent and delivery.attempts == 5
    assert not info.value.permanent
    assert len(fake.delivered) == 1 and len(fake.matching("/push")) == 9


@pytest.mark.gen_test(timeout=10)
async def test_auth_and_quota_errors_are_distinct(tmp_path):
    """401 → permanent + fatal health; 429 → retryable error; neither retried blindly."""
    async with fline.FakeLine(access_token="some-other-token") as fake:
        async with running_stack(line_only(tmp_path, fake), Inbox()) as stack:
            channel = stack.channels["line"]
            with pytest.raises(ChannelSendError) as info:
                await channel.send(ChatRef("line", ALICE_LINE, ALICE_LINE), Reply("x"))
            assert info.value.permanent and channel.health.state == "fatal"
            fake.access_token = LINE_TOKEN
            fake.fail("push", 429, "You have reached your monthly limit.")
            with pytest.raises(ChannelSendError) as info:
                await channel.send(ChatRef("line", ALICE_LINE, ALICE_LINE), Reply("x"))
    assert not info.value.permanent
    assert len(fake.matching("/push")) == 2


@pytest.mark.gen_test(timeout=10)
async def test_long_text_split_and_five_messages_per_call(tmp_path):
    """12 001 chars → 5000-unit pieces; 4 images more → 5 per call (reply, then push)."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fake:
        async with running_stack(line_only(tmp_path, fake), Inbox()) as stack:
            token = fake.issue_reply_token(to=ALICE_LINE)
            chat = ChatRef("line", ALICE_LINE, ALICE_LINE, reply_token=token,
                           received_at=time.time())
            text = "🦊" * 2600 + "x" * 6801
            images = tuple(Image("%d.png" % i, PNG, "image/png") for i in range(4))
            await stack.channels["line"].send(chat, Reply(text, images))
    assert [d["api"] for d in fake.delivered] == ["reply", "push"]
    messages = [m for d in fake.delivered for m in d["messages"]]
    assert [m["type"] for m in messages] == ["text"] * 3 + ["image"] * 4
    texts = [m["text"] for m in messages if m["type"] == "text"]
    assert "".join(texts) == text
    assert all(len(t.encode("utf-16-le")) // 2 <= 5000 for t in texts)
    assert len(fake.delivered[0]["messages"]) == 5


@pytest.mark.gen_test(timeout=10)
async def test_images_are_sent_as_signed_media_urls_that_serve_the_bytes(tmp_path):
    """Image messages carry public_base_url + signed path; that path serves the image."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fake:
        async with running_stack(line_only(tmp_path, fake), Inbox()) as stack:
            await stack.channels["line"].send(ChatRef("line", ALICE_LINE, ALICE_LINE),
                                              Reply("done", (Image("a.png", PNG),)))
            image = fake.delivered[0]["messages"][1]
            assert image["originalContentUrl"] == image["previewImageUrl"]
            assert image["originalContentUrl"].startswith(PUBLIC + "/media/")
            path = image["originalContentUrl"][len(PUBLIC):]
            served = await get(stack.url("line", path))
    assert served.code == 200 and served.body == PNG
    assert served.headers["Content-Type"] == "image/png"


@pytest.mark.gen_test(timeout=10)
async def test_without_public_base_url_images_become_a_text_note(tmp_path):
    """No public_base_url: a text says the image is ready and how to configure delivery."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fake:
        cfg = line_only(tmp_path, fake, public=False)
        async with running_stack(cfg, Inbox()) as stack:
            await stack.channels["line"].send(ChatRef("line", ALICE_LINE, ALICE_LINE),
                                              Reply("Job done.", (Image("a.png", PNG),)))
    (message,) = fake.delivered[0]["messages"]
    assert message["text"].startswith("Job done.\n\nThe image is ready")
    assert "media.public_base_url" in message["text"]


@pytest.mark.gen_test(timeout=10)
async def test_bot_info_identity_endpoint(tmp_path):
    """The fake answers GET /v2/bot/info (used by --check) and checks the token."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fake:
        ok = await get(fake.url + "/v2/bot/info",
                       headers={"Authorization": "Bearer " + LINE_TOKEN})
        bad = await get(fake.url + "/v2/bot/info", headers={"Authorization": "Bearer nope"})
    assert ok.code == 200 and json.loads(ok.body)["userId"] == fline.BOT_USER_ID
    assert bad.code == 401


@pytest.mark.gen_test(timeout=10)
async def test_batched_events_each_run_in_order_from_user_group_and_room(tmp_path):
    """One body with several events: each text message becomes its own Inbound, in order."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fake:
        inbox = Inbox()
        async with running_stack(line_only(tmp_path, fake), inbox) as stack:
            room = "R" + "d4" * 16
            body = fline.body_of(fline.text_event("/a"),
                                 fline.text_event("/b", group_id=GROUP),
                                 {"type": "follow", "source": {"type": "user",
                                                               "userId": ALICE_LINE}},
                                 fline.text_event("/c", room_id=room))
            resp = await post_line(stack.url("line"), body)
            items = await inbox.wait(3)
    assert resp.code == 200
    assert [(i.text, i.chat_id, i.is_direct) for i in items] == [
        ("/a", ALICE_LINE, True), ("/b", GROUP, False), ("/c", room, False)]


@pytest.mark.gen_test(timeout=10)
async def test_push_failing_500_twice_every_attempt_carries_the_same_derived_retry_key(
        tmp_path):
    """Push → 500, 500, OK through the Outbox: all three pushes carry one
    X-Line-Retry-Key, a uuid5 of (chat, delivery key, batch), so the same delivery after
    a restart carries it again and LINE answers 409: delivered once."""
    chat = ChatRef("line", ALICE_LINE, ALICE_LINE)
    async with fline.FakeLine(access_token=LINE_TOKEN) as fake:
        async with running_stack(line_only(tmp_path, fake), Inbox()) as stack:
            fake.fail("push", 500, times=2)
            first = await outbox_for(stack.channels["line"]).deliver(
                chat, Reply("your image is ready"), key="result:p1")
        async with running_stack(line_only(tmp_path, fake), Inbox()) as stack:   # restart
            again = await outbox_for(stack.channels["line"]).deliver(
                chat, Reply("your image is ready"), key="result:p1")
            other = await outbox_for(stack.channels["line"]).deliver(
                chat, Reply("another result"), key="result:p2")
    pushes = fake.matching("/push")
    keys = [p.headers["X-Line-Retry-Key"] for p in pushes]
    assert len(pushes) == 5 and keys[:4] == [keys[0]] * 4 and keys[4] != keys[0]
    assert uuid.UUID(keys[0]).version == 5
    # The key earlier releases derived (uuid.uuid5), so a resend across an upgrade matches.
    assert keys[0] == str(uuid.uuid5(uuid.UUID("6f1d2c3e-5b7a-4c1e-9a0d-1c2b3a4d5e6f"),
                                     "%s\nresult:p1\n0" % ALICE_LINE))
    assert (first.attempts, again.attempts, other.attempts) == (3, 1, 1)
    assert [m["text"] for d in fake.delivered for m in d["messages"]] == [
        "your image is ready", "another result"]


@pytest.mark.gen_test(timeout=10)
async def test_second_push_batch_failing_twice_is_resumed_there(tmp_path):
    """Six text pieces (two pushes): the first batch is pushed once, the second after
    two 500s with one retry key of its own, so no message reaches the user twice."""
    text = "\n".join(("%d" % n) * 4999 for n in range(6))
    chat = ChatRef("line", ALICE_LINE, ALICE_LINE)
    async with fline.FakeLine(access_token=LINE_TOKEN) as fake:
        async with running_stack(line_only(tmp_path, fake), Inbox()) as stack:
            fake.fail("push", 500, times=2, after=1)
            delivery = await outbox_for(stack.channels["line"]).deliver(
                chat, Reply(text), key="result:b")
    pushes = fake.matching("/push")
    keys = [p.headers["X-Line-Retry-Key"] for p in pushes]
    assert [len(p.json["messages"]) for p in pushes] == [5, 1, 1, 1]
    assert keys[1] == keys[2] == keys[3] != keys[0]
    assert [m["text"][0] for d in fake.delivered for m in d["messages"]] == list("012345")
    assert delivery.done and delivery.attempts == 3


@pytest.mark.gen_test(timeout=10)
async def test_api_that_does_not_answer_is_a_transient_send_failure(tmp_path):
    """Nothing listening at the LINE API: the send fails as retryable (the Outbox tries
    again), never as a refused message, and health shows the backoff."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fake:
        cfg = line_only(tmp_path, fake)
    async with running_stack(cfg, Inbox()) as stack:        # the fake is gone now
        channel = stack.channels["line"]
        with pytest.raises(ChannelSendError) as info:
            await channel.send(ChatRef("line", ALICE_LINE, ALICE_LINE), Reply("x"), key="k1")
        state = channel.health.state
    assert not info.value.permanent and "no answer" in str(info.value)
    assert state == "backoff"
