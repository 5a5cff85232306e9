"""Command parsing edge cases, and a property test: any text → a reply or silence."""

from __future__ import annotations

import asyncio
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openclaw_connector.commands import Router
from openclaw_connector.commands.parser import ParseError, parse
from openclaw_connector.metrics import Metrics
from tests.commands.helpers import ADMIN, ALLOWED, BOT, STRANGER, msg, stack
from tests.harness import make_config


def test_word_is_case_insensitive_and_addressing_works():
    assert parse("/STATUS", BOT).word == "status"
    assert parse("/status@ocbot", BOT).word == "status"
    assert parse("/Status@OCBOT now", BOT).args == ("now",)
    assert parse("/status@otherbot", BOT) is None
    assert parse("@ocbot /status", BOT).word == "status"
    assert parse("@OcBot: /jobs", BOT).word == "jobs"
    assert parse("@otherbot /status", BOT) is None
    assert parse("status", BOT) is None
    assert parse("", BOT) is None
    assert parse("/", BOT) is None


def test_platform_mention_without_a_bot_name_accepts_the_command():
    """LINE passes no bot name; a mention like "@My Bot /status" still addresses us."""
    assert parse("@My Bot /status", "", mentioned=True).word == "status"
    assert parse("@My Bot /run portrait seed=1", "", mentioned=True).params == (("seed", "1"),)
    assert parse("@My Bot /status", "", mentioned=False) is None
    assert parse("@My Bot hello", "", mentioned=True) is None


def test_quotes_apostrophes_and_unicode_in_values():
    cmd = parse('/run portrait prompt="a cat\'s hat" seed=7 --approval', BOT)
    assert cmd.args == ("portrait",)
    assert cmd.params == (("prompt", "a cat's hat"), ("seed", "7"))
    assert cmd.approval
    assert parse("/run portrait prompt=a cat's", BOT).args == ("portrait", "cat's")
    uni = parse('/run portrait prompt="猫の帽子 🎩 — ½" neg=ü', BOT)
    assert dict(uni.params) == {"prompt": "猫の帽子 🎩 — ½", "neg": "ü"}
    assert parse("/run --APPROVAL portrait", BOT).approval
    assert dict(parse("/run portrait a=b=c empty=", BOT).params) == {"a": "b=c", "empty": ""}


def test_unbalanced_quote_is_a_one_line_error():
    with pytest.raises(ParseError) as info:
        parse('/run portrait prompt="a cat', BOT)
    assert "\n" not in str(info.value) and "Unbalanced quote" in str(info.value)


@pytest.mark.gen_test(timeout=10)
async def test_parse_edge_cases_through_the_router(tmp_path):
    async with stack(tmp_path) as env:
        assert (await env.say("/STATUS")).startswith("ComfyUI: reachable")
        assert (await env.say("/status@ocbot")).startswith("ComfyUI: reachable")
        assert await env.say("/status@otherbot") is None
        assert (await env.say("@ocbot /status", mentioned=True)).startswith("ComfyUI")
        assert (await env.say('/run portrait prompt="x')) == (
            'Unbalanced quote in arguments: close every " you open.')
        assert await env.say("/frobnicate") == "Unknown command /frobnicate. Send /help for " \
                                               "the list."
        # Not a command: a hint in a direct chat, silence in a group.
        assert await env.say("hello there") == "Commands start with /. Send /help for the list."
        assert await env.say("hello there", chat="-1009", is_direct=False) is None
        assert await env.say("🎩 /status", chat="-1009", is_direct=False) is None
        assert env.fake.calls("/triggers/fire") == []


@pytest.mark.gen_test(timeout=10)
async def test_2001_char_message_is_refused_2000_is_not(tmp_path):
    async with stack(tmp_path) as env:
        long = "/run portrait prompt=" + "x" * (2001 - len("/run portrait prompt="))
        assert len(long) == 2001
        assert await env.say(long) == (
            "That message is too long (2001 characters; the limit is 2000).")
        assert env.fake.calls("/triggers/fire") == []
        ok = long[:2000]
        assert (await env.say(ok)).startswith("[Queued] portrait")


PREFIXES = ["", "/", "/run ", "/run portrait ", "@ocbot /", "/approve ", "/reject ", "/stop ",
            "/history ", "/schedule run ", '/run portrait p="', "/help@", "/STATUS@ocbot "]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from(PREFIXES), body=st.text(max_size=120),
       user=st.sampled_from([ADMIN, ALLOWED, STRANGER]), direct=st.booleans())
def test_any_input_yields_a_reply_or_silence_never_an_exception(prefix, body, user, direct):
    text = prefix + body
    try:
        parsed = parse(text, BOT)
    except ParseError:
        parsed = "error"
    assert parsed is None or parsed == "error" or parsed.word == parsed.word.lower()
    cfg = make_config("/tmp/unused-state", admin_users=["telegram:" + ADMIN],
                      telegram__allowed_users=[ALLOWED])
    router = Router(cfg, openclaw=None, jobs=None, metrics=Metrics())
    loop = asyncio.new_event_loop()
    try:
        reply = loop.run_until_complete(router.handle(msg(text, user, is_direct=direct)))
    finally:
        loop.close()
    assert reply is None or isinstance(reply.text, str)
    if reply is not None:
        assert "Something went wrong" not in reply.text and "Traceback" not in reply.text
        assert user != STRANGER


@settings(max_examples=30, deadline=None)
@given(st.text(min_size=1990, max_size=2100, alphabet=st.characters(blacklist_categories=["Cs"])))
def test_long_inputs_never_raise(text):
    try:
        parse("/run portrait p=" + text, BOT)
    except ParseError:
        pass


def test_router_logs_nothing_at_error_level_for_garbage(caplog):
    caplog.set_level(logging.DEBUG)
    cfg = make_config("/tmp/unused-state", admin_users=["telegram:" + ADMIN])
    router = Router(cfg, metrics=Metrics())
    loop = asyncio.new_event_loop()
    try:
        for text in ["/\x00", "/run \u202e", '/"', "/run@", "@", "@ocbot", "/" + "a" * 40,
                     "/run portrait " + '"' * 3]:
            loop.run_until_complete(router.handle(msg(text, ADMIN)))
    finally:
        loop.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
