"""Pure Discord helpers with plain data: rate-limit bookkeeping, rendering, mentions."""

from __future__ import annotations

import json

from openclaw_connector.channels.discord.gateway import IdentifyBudget
from openclaw_connector.channels.discord.message import multipart, parse_message, \
    render_reply, strip_mention
from openclaw_connector.channels.discord.rest import RateLimits, parse_429
from openclaw_connector.messages import ChatRef, Image, Reply


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_with_nothing_remaining_waits_until_reset():
    clock = Clock()
    limits = RateLimits(clock=clock)
    limits.update("POST m", "1", {"X-RateLimit-Bucket": "b", "X-RateLimit-Remaining": "0",
                                  "X-RateLimit-Reset-After": "2.5"})
    assert limits.wait_time("POST m", "1") == 2.5
    assert limits.wait_time("POST m", "2") == 0.0        # another channel: own bucket
    clock.now += 3
    assert limits.wait_time("POST m", "1") == 0.0


def test_global_limit_applies_to_every_route():
    clock = Clock()
    limits = RateLimits(clock=clock)
    limits.limited("POST m", "1", 1.5, is_global=True)
    assert limits.wait_time("GET other", "9") == 1.5


def test_ban_is_remembered():
    clock = Clock()
    limits = RateLimits(clock=clock)
    limits.ban(60)
    clock.now += 10
    assert limits.banned_for() == 50


def test_parse_429_json_vs_cloudflare():
    assert parse_429(json.dumps({"retry_after": 0.5, "global": False}).encode(), {}) == \
        (0.5, False)
    assert parse_429(b'{"retry_after": 2, "global": false}', {"X-RateLimit-Global": "true"}) \
        == (2.0, True)
    assert parse_429(b"<html>1015</html>", {}) is None
    assert parse_429(b"", {}) is None


def test_render_reply_references_first_message_only_and_nonce_is_stable():
    chat = ChatRef("discord", "5", "7", message_id="99")
    first = render_reply(chat, Reply("z" * 2500), 1000)
    again = render_reply(chat, Reply("z" * 2500), 1000)
    assert [p["nonce"] for p, _ in first] == [p["nonce"] for p, _ in again]
    assert first[0][0]["message_reference"]["message_id"] == "99"
    assert "message_reference" not in first[1][0]
    assert all(len(p["nonce"]) <= 25 for p, _ in first)


def test_empty_reply_renders_nothing():
    assert render_reply(ChatRef("discord", "5"), Reply(""), 1000) == []


def test_multipart_names_each_file_in_payload_json():
    body, ctype = multipart({"content": "hi"}, [Image("a b/../x.png", b"\x00\x01")])
    assert ctype.startswith("multipart/form-data; boundary=")
    assert b'name="files[0]"; filename="ab..x.png"' in body
    assert b'"attachments": [{"id": 0, "filename": "ab..x.png"}]' in body
    assert b"\x00\x01\r\n" in body


def test_strip_mention():
    assert strip_mention("<@42> /status", "42") == "/status"
    assert strip_mention("<@!42>/help", "42") == "/help"
    assert strip_mention("hey <@42> /run x", "42", "openclaw") == "hey @openclaw /run x"
    assert strip_mention("<@43> /status", "42") == "<@43> /status"


def test_identify_budget_caps_identifies_per_window():
    budget = IdentifyBudget(limit=2, window=60)
    assert budget.wait(0) == 0
    budget.spend(0)
    budget.spend(10)
    assert budget.wait(20) == 40
    assert budget.wait(61) == 0


def test_images_are_grouped_under_the_request_size_cap():
    """Three 8 MiB files cannot share one 25 MiB request: split by bytes as well as count."""
    images = tuple(Image("i%d.png" % i, b"x" * 10) for i in range(5))
    messages = render_reply(ChatRef("discord", "5", message_id="9"), Reply("t", images), 100,
                            max_request_bytes=25)
    assert [len(files) for _, files in messages] == [2, 2, 1]
    assert messages[0][0]["content"] == "t" and messages[1][0]["content"] == ""


def test_parse_message_with_plain_dicts():
    """Guild chatter is dropped, a guild /cmd passes, empty guild content is flagged."""
    base = {"id": "1", "channel_id": "2", "author": {"id": "3"}, "guild_id": "4"}
    assert parse_message(dict(base, content="hi"), "42", "bot") == (None, False)
    assert parse_message(dict(base, content=""), "42", "bot") == (None, True)
    inbound, _ = parse_message(dict(base, content="/status"), "42", "bot")
    assert inbound.text == "/status" and inbound.chat.is_group and not inbound.is_direct
    assert parse_message(dict(base, content="/x", type=7), "42", "bot") == (None, False)
    dm, _ = parse_message({"id": "1", "channel_id": "2", "author": {"id": "3"},
                           "content": "hello"}, "42", "bot")
    assert dm.is_direct and dm.bot_name == "bot" and dm.sender == "discord:3"
