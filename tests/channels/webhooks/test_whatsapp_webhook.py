"""WhatsApp webhook in (verification, notifications) and Graph sends out, against the fake."""

from __future__ import annotations

import asyncio
import logging
import os
import time

import pytest

from openclaw_connector.messages import ChannelSendError, ChatRef, Image, Reply
from tests.fakes import whatsapp as fwa
from tests.harness import outbox_for, settle
from tests.channels.webhooks.support import (ALICE_WA, PUBLIC, WA_SECRET, WA_TOKEN, WA_VERIFY, Inbox,
                                    echo, get, post_wa, running_stack, webhook_config)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 32


def wa_only(tmp_path, fake, **kw):
    return webhook_config(tmp_path, wa=fake, **kw)


def verify_url(stack, mode="subscribe", token=WA_VERIFY, challenge="1158201444"):
    return stack.url("whatsapp") + "?hub.mode=%s&hub.challenge=%s&hub.verify_token=%s" % (
        mode, challenge, token)


@pytest.mark.gen_test(timeout=10)
async def test_text_command_reaches_handler_and_reply_goes_to_graph(tmp_path):
    """A signed text message becomes an Inbound; the reply is a Graph text message."""
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fake:
        ref: list = []
        inbox = Inbox(echo(ref))
        async with running_stack(wa_only(tmp_path, fake), inbox) as stack:
            ref.append(stack)
            msg = fwa.text_message(ALICE_WA, "/help", wamid="wamid.ONE")
            resp = await post_wa(stack.url("whatsapp"), fwa.notification(messages=(msg,)))
            (inbound,) = await inbox.wait(1)
            (sent,) = await fake.wait_sent(1)
            await settle()
            assert stack.channels["whatsapp"]._deps.state.is_seen("whatsapp.sent",
                                                                   fake.wamids[0])
    assert resp.code == 200
    assert (inbound.platform, inbound.user_id, inbound.chat_id, inbound.text,
            inbound.message_id, inbound.is_direct) == (
        "whatsapp", ALICE_WA, ALICE_WA, "/help", "wamid.ONE", True)
    assert sent == {"messaging_product": "whatsapp", "recipient_type": "individual",
                    "to": ALICE_WA, "type": "text", "context": {"message_id": "wamid.ONE"},
                    "text": {"body": "echo: /help", "preview_url": False}}
    (call,) = fake.matching("/messages")
    assert call.headers["Authorization"] == "Bearer " + WA_TOKEN


@pytest.mark.gen_test(timeout=10)
@pytest.mark.parametrize("mode,token,expected", [
    ("subscribe", WA_VERIFY, 200), ("subscribe", "wrong-token", 403),
    ("unsubscribe", WA_VERIFY, 403), ("subscribe", "", 403)])
async def test_verification_get(tmp_path, mode, token, expected, caplog):
    """Right mode + token → 200 with exactly the challenge as text/plain; else 403."""
    caplog.set_level(logging.DEBUG)
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fake:
        async with running_stack(wa_only(tmp_path, fake), Inbox()) as stack:
            resp = await get(verify_url(stack, mode, token))
    assert resp.code == expected
    if expected == 200:
        assert resp.body == b"1158201444"
        assert resp.headers["Content-Type"].startswith("text/plain")
    assert WA_VERIFY not in caplog.text and "1158201444" not in caplog.text
    assert "path=/whatsapp/webhook status=%d" % expected in caplog.text


@pytest.mark.gen_test(timeout=10)
@pytest.mark.parametrize("how", ["wrong", "missing", "altered"])
async def test_bad_signature_is_401_and_nothing_runs(tmp_path, how):
    """Wrong, missing or one-byte-altered X-Hub-Signature-256 → 401, no command."""
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fake:
        inbox = Inbox()
        async with running_stack(wa_only(tmp_path, fake), inbox) as stack:
            body = fwa.body_of(fwa.notification(
                messages=(fwa.text_message(ALICE_WA, "/status"),)))
            if how == "wrong":
                resp = await post_wa(stack.url("whatsapp"), None, raw=body, secret="other")
            elif how == "missing":
                resp = await post_wa(stack.url("whatsapp"), None, raw=body, secret=None)
            else:
                from tests.channels.webhooks.support import post
                resp = await post(stack.url("whatsapp"), body.replace(b"/status", b"/statu5"),
                                  {"X-Hub-Signature-256": fwa.sign(body, WA_SECRET)})
            await settle()
    assert resp.code == 401 and inbox.items == []
    assert not stack.state.get_expiring("whatsapp.last_inbound.%s" % ALICE_WA)


@pytest.mark.gen_test(timeout=10)
async def test_non_ascii_body_with_valid_signature_is_accepted(tmp_path):
    """Raw UTF-8 and \\u-escaped bodies both verify over their exact bytes."""
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fake:
        inbox = Inbox()
        async with running_stack(wa_only(tmp_path, fake), inbox) as stack:
            payload = fwa.notification(messages=(fwa.text_message(ALICE_WA, "/run 猫 🦊"),))
            import json
            utf8 = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            r1 = await post_wa(stack.url("whatsapp"), payload)
            payload2 = fwa.notification(messages=(fwa.text_message(ALICE_WA, "/run 猫 🦊"),))
            r2 = await post_wa(stack.url("whatsapp"), None,
                               raw=json.dumps(payload2, ensure_ascii=False).encode("utf-8"))
            items = await inbox.wait(2)
    assert b"\\u732b" in fwa.body_of(payload) and "猫".encode() in utf8
    assert (r1.code, r2.code) == (200, 200)
    assert [i.text for i in items] == ["/run 猫 🦊"] * 2


@pytest.mark.gen_test(timeout=10)
@pytest.mark.parametrize("raw,status", [
    (b"{broken", 400), (b'{"object":"whatsapp_business_account","entry":{}}', 400),
    (b'{"entry":[{"changes":"x"}]}', 400), (b"[]", 400),
    (b'{"object":"whatsapp_business_account","entry":[]}', 200)])
async def test_bad_shapes_after_valid_signature(tmp_path, raw, status):
    """Invalid JSON or a wrong shape → 400 after a valid signature."""
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fake:
        inbox = Inbox()
        async with running_stack(wa_only(tmp_path, fake), inbox) as stack:
            resp = await post_wa(stack.url("whatsapp"), None, raw=raw)
            await settle()
    assert resp.code == status and inbox.items == []


@pytest.mark.gen_test(timeout=10)
async def test_statuses_only_post_runs_nothing_and_failed_is_logged(tmp_path, caplog):
    """Statuses are recorded, never commands; a failed one logs its error code."""
    caplog.set_level(logging.INFO)
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fake:
        inbox = Inbox()
        async with running_stack(wa_only(tmp_path, fake), inbox) as stack:
            channel = stack.channels["whatsapp"]
            payload = fwa.notification(statuses=(
                fwa.status("wamid.SENT1", "sent", ALICE_WA),
                fwa.status("wamid.SENT1", "delivered", ALICE_WA),
                fwa.status("wamid.SENT2", "failed", ALICE_WA, code=131047)))
            resp = await post_wa(stack.url("whatsapp"), payload)
            again = await post_wa(stack.url("whatsapp"), payload)
            await settle()
            failed = channel.delivery_failed("wamid.SENT2"), channel.delivery_failed("wamid.SENT1")
            statuses = {s: stack.metrics.value("whatsapp_statuses_total", status=s)
                        for s in ("sent", "delivered", "failed")}
    assert (resp.code, again.code) == (200, 200) and inbox.items == []
    assert failed == (True, False)
    assert statuses == {"sent": 1, "delivered": 1, "failed": 1}
    assert "event=delivery_failed" in caplog.text and "code=131047" in caplog.text


@pytest.mark.gen_test(timeout=10)
async def test_same_wamid_twice_sequential_and_concurrent_runs_once(tmp_path):
    """Meta's retries and concurrent duplicates: both 200, one command run."""
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fake:
        inbox = Inbox()
        async with running_stack(wa_only(tmp_path, fake), inbox) as stack:
            one = fwa.notification(messages=(fwa.text_message(ALICE_WA, "/status",
                                                              wamid="wamid.DUP1"),))
            two = fwa.notification(messages=(fwa.text_message(ALICE_WA, "/jobs",
                                                              wamid="wamid.DUP2"),))
            codes = [(await post_wa(stack.url("whatsapp"), one)).code,
                     (await post_wa(stack.url("whatsapp"), one)).code]
            pair = await asyncio.gather(post_wa(stack.url("whatsapp"), two),
                                        post_wa(stack.url("whatsapp"), two))
            await inbox.wait(2)
            await settle()
    assert codes + [r.code for r in pair] == [200] * 4
    assert sorted(i.text for i in inbox.items) == ["/jobs", "/status"]


@pytest.mark.gen_test(timeout=10)
async def test_non_text_and_other_numbers_are_ignored_but_open_the_window(tmp_path):
    """An image message opens the 24 h window and reaches the router as a photo with no
    text (which keeps it silently for a later /run, issue 19); a sticker is ignored;
    another phone number's traffic is ignored."""
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fake:
        inbox = Inbox()
        async with running_stack(wa_only(tmp_path, fake), inbox) as stack:
            image = {"from": ALICE_WA, "id": "wamid.IMG", "timestamp": str(int(time.time())),
                     "type": "image", "image": {"id": "1", "mime_type": "image/jpeg"}}
            other = fwa.notification(messages=(fwa.text_message("15559999999", "/status"),),
                                     phone_number_id="999")
            sticker = {"from": ALICE_WA, "id": "wamid.STK", "type": "sticker",
                       "timestamp": str(int(time.time())), "sticker": {"id": "2"}}
            r1 = await post_wa(stack.url("whatsapp"), fwa.notification(messages=(image,
                                                                                 sticker)))
            r2 = await post_wa(stack.url("whatsapp"), other)
            await inbox.wait(1)
            await settle()
            last = stack.channels["whatsapp"].last_inbound(ALICE_WA)
            stranger = stack.channels["whatsapp"].last_inbound("15559999999")
    assert (r1.code, r2.code) == (200, 200)
    assert [(i.text, i.photo.ref if i.photo else None) for i in inbox.items] == [("", "1")]
    assert last is not None and abs(last - time.time()) < 5 and stranger is None


@pytest.mark.gen_test(timeout=10)
async def test_outside_24h_window_is_not_sent(tmp_path, caplog):
    """Last message > 24 h old (or none): nothing is sent and Graph is not called."""
    caplog.set_level(logging.INFO)
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fake:
        inbox = Inbox()
        async with running_stack(wa_only(tmp_path, fake), inbox) as stack:
            odd = dict(fwa.text_message("15550001234", "/status"), timestamp="nan")
            await post_wa(stack.url("whatsapp"), fwa.notification(messages=(odd,)))
            old = fwa.text_message(ALICE_WA, "/status", timestamp=time.time() - 25 * 3600)
            await post_wa(stack.url("whatsapp"), fwa.notification(messages=(old,)))
            inbound = (await inbox.wait(2))[1]
            channel = stack.channels["whatsapp"]
            assert abs(channel.last_inbound("15550001234") - time.time()) < 5
            with pytest.raises(ChannelSendError) as info:
                await channel.send(inbound.chat, Reply("too late"))
            with pytest.raises(ChannelSendError):
                await channel.send(ChatRef("whatsapp", "15550000000", "15550000000"),
                                   Reply("never wrote"))
    assert info.value.permanent
    assert fake.matching("/messages") == []
    assert "reason=outside_24h_window" in caplog.text


@pytest.mark.gen_test(timeout=10)
async def test_long_text_split_and_images_by_link(tmp_path):
    """Text over 4096 chars is split; images go as image.link to the signed media URL."""
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fake:
        inbox = Inbox()
        async with running_stack(wa_only(tmp_path, fake), inbox) as stack:
            await post_wa(stack.url("whatsapp"),
                          fwa.notification(messages=(fwa.text_message(ALICE_WA, "/x"),)))
            (inbound,) = await inbox.wait(1)
            text = "a" * 5000 + "🦊" * 4000
            await stack.channels["whatsapp"].send(inbound.chat,
                                                  Reply(text, (Image("o.png", PNG),)))
            link = fake.sent[-1]["image"]["link"]
            served = await get(stack.url("whatsapp", link[len(PUBLIC):]))
    texts = fake.texts()
    assert "".join(texts) == text and all(len(t) <= 4096 for t in texts) and len(texts) == 3
    assert fake.sent[-1]["type"] == "image" and link.startswith(PUBLIC + "/media/")
    assert served.code == 200 and served.body == PNG


@pytest.mark.gen_test(timeout=10)
async def test_without_public_base_url_images_become_a_text_note(tmp_path):
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fake:
        inbox = Inbox()
        async with running_stack(wa_only(tmp_path, fake, public=False), inbox) as stack:
            await post_wa(stack.url("whatsapp"),
                          fwa.notification(messages=(fwa.text_message(ALICE_WA, "/x"),)))
            (inbound,) = await inbox.wait(1)
            await stack.channels["whatsapp"].send(inbound.chat,
                                                  Reply("", (Image("o.png", PNG),)))
    (only,) = fake.sent
    assert only["type"] == "text" and "media.public_base_url" in only["text"]["body"]


@pytest.mark.gen_test(timeout=10)
async def test_graph_errors_rate_limit_retried_auth_fatal(tmp_path):
    """130429 and 5xx are retried with backoff; 190 is permanent and marks the channel fatal."""
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fake:
        inbox = Inbox()
        async with running_stack(wa_only(tmp_path, fake), inbox) as stack:
            await post_wa(stack.url("whatsapp"),
                          fwa.notification(messages=(fwa.text_message(ALICE_WA, "/x"),)))
            (inbound,) = await inbox.wait(1)
            channel = stack.channels["whatsapp"]
            fake.fail(400, 130429, "(#130429) Rate limit hit")
            fake.fail(502, 1, "bad gateway")
            await outbox_for(channel).deliver(inbound.chat, Reply("eventually"), key="k")
            assert fake.texts() == ["eventually"] and len(fake.matching("/messages")) == 3
            fake.fail(401, 190, "Error validating access token: Session has expired")
            with pytest.raises(ChannelSendError) as info:
                await channel.send(inbound.chat, Reply("x"))
            assert channel.health.state == "fatal"
    assert info.value.permanent
    assert len(fake.matching("/messages")) == 4


@pytest.mark.gen_test(timeout=10)
async def test_unsigned_traffic_is_refused_unless_insecure_unsigned(tmp_path, caplog):
    """Without app_secret an unsigned POST is refused (401); only the explicit
    insecure_unsigned hatch accepts it, loudly, and marks the message unverified."""
    caplog.set_level(logging.WARNING)
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fake:
        inbox = Inbox()
        cfg = wa_only(tmp_path, fake)
        from openclaw_connector import config as configmod
        no_secret = configmod.with_overrides(cfg, whatsapp={"app_secret": None})
        msg = fwa.notification(messages=(fwa.text_message(ALICE_WA, "/help"),))
        async with running_stack(no_secret, inbox) as stack:
            r1 = await post_wa(stack.url("whatsapp"), msg, secret=None)
            await settle()
        hatch = configmod.with_overrides(no_secret, whatsapp={"insecure_unsigned": True})
        async with running_stack(hatch, inbox) as stack:
            r2 = await post_wa(stack.url("whatsapp"), msg, secret=None)
            (inbound,) = await inbox.wait(1)
    assert (r1.code, r2.code) == (401, 200)
    assert inbound.verified is False
    assert "event=webhook_unsigned" in caplog.text


@pytest.mark.gen_test(timeout=10)
async def test_phone_number_identity_endpoint(tmp_path):
    """The fake answers GET /{phone_number_id} (used by --check) and checks the token."""
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fake:
        ok = await get("%s/%s" % (fake.api_base, fake.phone_number_id),
                       headers={"Authorization": "Bearer " + WA_TOKEN})
        bad = await get("%s/%s" % (fake.api_base, fake.phone_number_id),
                        headers={"Authorization": "Bearer nope"})
    assert ok.code == 200 and b"verified_name" in ok.body
    assert bad.code == 401 and b"190" in bad.body


@pytest.mark.gen_test(timeout=10)
async def test_images_over_whatsapps_5mb_or_not_png_jpeg_become_notes(tmp_path, caplog):
    """WhatsApp fetches JPEG/PNG up to 5 MB: a 6 MB PNG and a WebP are replaced by notes."""
    caplog.set_level(logging.INFO)
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fake:
        inbox = Inbox()
        async with running_stack(wa_only(tmp_path, fake), inbox) as stack:
            await post_wa(stack.url("whatsapp"),
                          fwa.notification(messages=(fwa.text_message(ALICE_WA, "/x"),)))
            (inbound,) = await inbox.wait(1)
            images = (Image("big.png", PNG + b"\0" * (6 << 20)),
                      Image("a.webp", b"RIFF", "image/webp"), Image("ok.jpg", PNG, "image/jpeg"))
            await stack.channels["whatsapp"].send(inbound.chat, Reply("done", images))
            stored = os.listdir(stack.media.dir)
    note, image = fake.sent
    assert "too large" in note["text"]["body"] and "image/webp" in note["text"]["body"]
    assert image["type"] == "image" and ".jpg?exp=" in image["image"]["link"]
    assert len(stored) == 1 and stored[0].endswith(".jpg")
    assert "reason=too_large" in caplog.text and "reason=unsupported_type" in caplog.text


@pytest.mark.gen_test(timeout=10)
async def test_second_message_failing_twice_is_resumed_there(tmp_path):
    """A reply in two Graph messages: the first is sent once, the second after two
    5xx answers; the user sees each once, in order."""
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fake:
        inbox = Inbox()
        async with running_stack(wa_only(tmp_path, fake), inbox) as stack:
            await post_wa(stack.url("whatsapp"),
                          fwa.notification(messages=(fwa.text_message(ALICE_WA, "/x"),)))
            (inbound,) = await inbox.wait(1)
            fake.fail(502, 1, "bad gateway", times=2, after=1)
            delivery = await outbox_for(stack.channels["whatsapp"]).deliver(
                inbound.chat, Reply("a" * 4096 + "b" * 10), key="k")
    assert fake.texts() == ["a" * 4096, "b" * 10]
    assert len(fake.matching("/messages")) == 4
    assert delivery.done and delivery.attempts == 3 and delivery.sent is not None
    assert delivery.sent.first_id.startswith("wamid.") and \
        delivery.sent.first_id != delivery.sent.last_id


@pytest.mark.gen_test(timeout=10)
async def test_graph_api_that_does_not_answer_is_a_transient_send_failure(tmp_path):
    """Nothing listening at the Graph API: the send fails as retryable, not refused."""
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fake:
        cfg = wa_only(tmp_path, fake)
    inbox = Inbox()
    async with running_stack(cfg, inbox) as stack:          # the fake is gone now
        await post_wa(stack.url("whatsapp"),
                      fwa.notification(messages=(fwa.text_message(ALICE_WA, "/x"),)))
        (inbound,) = await inbox.wait(1)     # opens the 24-hour window
        channel = stack.channels["whatsapp"]
        with pytest.raises(ChannelSendError) as info:
            await channel.send(inbound.chat, Reply("x"))
        state = channel.health.state
    assert not info.value.permanent and "no answer" in str(info.value)
    assert state == "backoff"
