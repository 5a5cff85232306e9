"""The fake Bot API itself: the semantics the channel tests rely on."""

from __future__ import annotations

import asyncio
import json

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from tests.fakes import scripted
from tests.fakes.telegram import TOKEN, FakeTelegram


async def call(http, tg, method, params=None, token=TOKEN, timeout=5):
    req = HTTPRequest("%s/bot%s/%s" % (tg.url, token, method), method="POST",
                      body=json.dumps(params or {}), request_timeout=timeout,
                      headers={"Content-Type": "application/json"})
    resp = await http.fetch(req, raise_error=False)
    return resp.code, json.loads(resp.body)


@pytest.mark.gen_test(timeout=10)
async def test_getme_wrong_token_and_unknown_method():
    """getMe answers the bot; a wrong token is 401; an unknown method 404 and flagged
    (the teardown check in tests/fakes/scripted.py would fail a test that left it)."""
    http = AsyncHTTPClient(force_instance=True)
    try:
        async with FakeTelegram() as tg:
            assert await call(http, tg, "GETME") == (200, {"ok": True, "result": {
                "id": 123456789, "is_bot": True, "first_name": "Our Bot",
                "username": "ourbot", "can_join_groups": True,
                "can_read_all_group_messages": False, "supports_inline_queries": False}})
            code, body = await call(http, tg, "getMe", token="1:bad")
            assert code == 401 and body["description"] == "Unauthorized"
            code, body = await call(http, tg, "getChatMenuButton")
            assert code == 404 and body["error_code"] == 404
            with pytest.raises(AssertionError, match="FakeTelegram: getChatMenuButton"):
                scripted.check_all()
            assert tg.unexpected == []          # reported once, then taken back
    finally:
        http.close()


@pytest.mark.gen_test(timeout=10)
async def test_long_poll_parks_confirms_by_offset_and_second_poller_aborts_the_first():
    """A parked poll returns when an update arrives; a newer poll aborts an older one with
    409; an offset above an id confirms it."""
    http = AsyncHTTPClient(force_instance=True)
    try:
        async with FakeTelegram() as tg:
            parked = asyncio.ensure_future(call(http, tg, "getUpdates", {"timeout": 5}))
            await tg.next_request("getUpdates")
            uid = tg.queue_message("/help", user_id=42)
            code, body = await parked
            assert code == 200 and [u["update_id"] for u in body["result"]] == [uid]
            first = asyncio.ensure_future(call(http, tg, "getUpdates",
                                               {"timeout": 5, "offset": uid + 1}))
            await tg.next_request("getUpdates")
            second = asyncio.ensure_future(call(http, tg, "getUpdates",
                                                {"timeout": 5, "offset": uid + 1}))
            code, body = await first
            assert code == 409 and "terminated by other getUpdates" in body["description"]
            assert tg.confirmed == uid + 1 and tg.queue == []
            tg.queue_message("/two", user_id=42)
            code, body = await second
            assert code == 200 and body["result"][0]["message"]["text"] == "/two"
    finally:
        http.close()


@pytest.mark.gen_test(timeout=10)
async def test_webhook_mode_409s_until_deletewebhook():
    http = AsyncHTTPClient(force_instance=True)
    try:
        async with FakeTelegram() as tg:
            tg.set_webhook()
            code, body = await call(http, tg, "getUpdates")
            assert code == 409 and "webhook is active" in body["description"]
            assert await call(http, tg, "deleteWebhook") == (200, {"ok": True, "result": True})
            assert (await call(http, tg, "getUpdates"))[0] == 200
    finally:
        http.close()
