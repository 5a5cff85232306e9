"""Pure Telegram wire helpers: update parsing,
the response envelope, the error classifier and the multipart encoder."""

from __future__ import annotations

import json

import pytest
from tornado.httputil import HTTPHeaders, parse_body_arguments

from openclaw_connector.net.multipart import FilePart, encode_multipart
from openclaw_connector.channels.telegram.wire import (
    BotInfo, Fatal, PoisonUpdate, Retry, TelegramError, classify, decode_response,
    mask_token, parse_update, scrub)

BOT = BotInfo(id=999, username="ourbot")


def _message(**fields):
    base = {"message_id": 7, "date": 1, "chat": {"id": 42, "type": "private"},
            "from": {"id": 42, "is_bot": False}, "text": "/help"}
    base.update(fields)
    return {"update_id": 10, "message": base}


# ----------------------------------------------------------------- updates

def test_private_text_becomes_inbound_with_our_bot_name():
    inbound = parse_update(_message(), BOT, now=5.0)
    assert inbound.platform == "telegram" and inbound.user_id == "42"
    assert inbound.chat_id == "42" and inbound.message_id == "7"
    assert inbound.is_direct and not inbound.chat.is_group
    assert inbound.bot_name == "ourbot" and inbound.chat.received_at == 5.0


def test_group_message_is_a_group_chatref():
    update = _message(chat={"id": -1001234567890, "type": "supergroup"})
    inbound = parse_update(update, BOT)
    assert inbound.chat.is_group and not inbound.is_direct
    assert inbound.chat_id == "-1001234567890"


def test_mention_entity_uses_utf16_offsets():
    text = "\U0001F600 @OurBot /help"
    update = _message(text=text, entities=[{"type": "mention", "offset": 3, "length": 7}])
    assert parse_update(update, BOT).mentioned
    other = _message(text=text, entities=[{"type": "mention", "offset": 2, "length": 7}])
    assert not parse_update(other, BOT).mentioned


def test_reply_to_our_message_counts_as_mentioned():
    update = _message(reply_to_message={"message_id": 3, "from": {"id": 999}})
    assert parse_update(update, BOT).mentioned


@pytest.mark.parametrize("update", [
    {"update_id": 1, "edited_message": {}},
    {"update_id": 1, "message": {"message_id": 1, "text": "/help"}},
    {"update_id": 1, "message": "nope"},
    {"update_id": 1, "message": {"chat": {"id": 1, "type": "weird"}, "text": "x"}},
])
def test_poison_updates_raise(update):
    with pytest.raises(PoisonUpdate):
        parse_update(update, BOT)


@pytest.mark.parametrize("fields", [
    {"from": {"id": 5, "is_bot": True}},
    {"text": None, "sticker": {}},
    {"chat": {"id": -100, "type": "channel"}, "from": None},
])
def test_bots_channel_posts_and_non_text_are_ignored(fields):
    assert parse_update(_message(**fields), BOT) is None


# ----------------------------------------------------------------- envelope

def test_ok_envelope_returns_result():
    assert decode_response("getMe", 200, b'{"ok":true,"result":{"id":1}}', {}) == {"id": 1}


def test_429_takes_retry_after_from_parameters_then_header():
    body = json.dumps({"ok": False, "error_code": 429, "description": "Too Many Requests",
                       "parameters": {"retry_after": 0.5}}).encode()
    with pytest.raises(TelegramError) as err:
        decode_response("sendMessage", 429, body, {"Retry-After": "9"})
    assert err.value.retry_after == 0.5
    with pytest.raises(TelegramError) as err:
        decode_response("sendMessage", 429, b"<html>", HTTPHeaders({"Retry-After": "3"}))
    assert err.value.retry_after == 3.0 and err.value.status == 429


def test_migrate_to_chat_id_kept_as_int():
    body = json.dumps({"ok": False, "error_code": 400, "description": "Bad Request: upgraded",
                       "parameters": {"migrate_to_chat_id": -1009876543210123}}).encode()
    with pytest.raises(TelegramError) as err:
        decode_response("sendMessage", 400, body, {})
    assert err.value.migrate_to == -1009876543210123


def test_html_502_is_an_error_not_a_crash():
    with pytest.raises(TelegramError) as err:
        decode_response("getUpdates", 502, b"<html>Bad Gateway</html>", {})
    assert err.value.status == 502


# ----------------------------------------------------------------- classifier

@pytest.mark.parametrize("status, description, expected", [
    (401, "Unauthorized", Fatal),
    (404, "Not Found", Fatal),
    (409, "Conflict: terminated by other getUpdates request", Retry(state="conflict")),
    (409, "Conflict: can't use getUpdates method while webhook is active",
     Retry(state="conflict", webhook=True)),
    (502, "non-JSON body", Retry()),
    (0, "Timeout", Retry()),
    (500, "Internal Server Error: restart", Retry()),
])
def test_classifier_table(status, description, expected):
    verdict = classify(TelegramError("getUpdates", status, description))
    if expected is Fatal:
        assert isinstance(verdict, Fatal) and str(status) in verdict.reason
    else:
        assert verdict == expected


def test_classifier_429_carries_retry_after_and_unknown_errors_retry():
    assert classify(TelegramError("getUpdates", 429, "x", retry_after=0.0)) == Retry(after=0.0)
    assert classify(RuntimeError("bug")) == Retry()


def test_token_scrubbed_and_masked():
    token = "123456789:AAsecretsecretsecretsecretsecret12"
    assert token not in scrub("GET /bot%s/getMe failed" % token, token)
    assert scrub("url /bot1:abc/x", "") == "url /bot***/x"
    assert mask_token(token) == "123456789:***"


# ----------------------------------------------------------------- multipart

def test_multipart_round_trips_through_tornados_parser():
    data = bytes(range(256)) * 10 + b"\r\n--boundary-looking\r\n"
    ctype, body = encode_multipart({"chat_id": -100123, "caption": "héllo"},
                                   [FilePart("photo", "out.png", "image/png", data)])
    args, files = {}, {}
    parse_body_arguments(ctype, body, args, files)
    assert args["chat_id"] == [b"-100123"] and args["caption"] == ["héllo".encode()]
    assert files["photo"][0].body == data
    assert files["photo"][0].filename == "out.png"
    assert files["photo"][0].content_type == "image/png"
