"""The admin token never appears in a reply or a log line, whatever goes wrong."""

from __future__ import annotations

import logging

import pytest

from tests.commands.helpers import ADMIN, ALLOWED, TOKEN, stack

COMMANDS = ["/help", "/status", "/jobs", "/history x", "/run portrait seed=1",
            "/run portrait --approval", "/stop", "/stop x", "/trace x", "/approvals",
            "/approve apr_x", "/reject apr_x why", "/schedules", "/schedule run s"]


@pytest.mark.gen_test(timeout=15)
async def test_token_never_in_replies_or_logs(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    replies = []
    async with stack(tmp_path, debug=True) as env:
        for text in COMMANDS:                       # healthy server
            replies.append(await env.say(text, ADMIN))
            replies.append(await env.say(text, ALLOWED))
        for text in COMMANDS:                       # a server that echoes the token back
            env.fake.fail_next(1, 500, {"error": "bad header %s" % TOKEN})
            replies.append(await env.say(text, ADMIN))
        for text in COMMANDS:                       # 429 and 403
            env.fake.fail_next(1, 429, {"error": "budget_exceeded"},
                               headers={"Retry-After": "0"})
            replies.append(await env.say(text, ADMIN))
        await env.fake.go_down()
        for text in COMMANDS:                       # unreachable
            replies.append(await env.say(text, ADMIN))
    assert any("bad header ***" in (r or "") for r in replies)
    for reply in replies:
        assert TOKEN not in (reply or "")
        assert "Traceback" not in (reply or "")
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in (caplog.text or "")


@pytest.mark.gen_test(timeout=10)
async def test_wrong_token_hint_does_not_show_either_token(tmp_path):
    async with stack(tmp_path, client_token="client-side-secret-123") as env:
        reply = await env.say("/approvals")
        assert "client-side-secret-123" not in reply and TOKEN not in reply
        assert reply.startswith("HTTP 403 (Admin Token)")
