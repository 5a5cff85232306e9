"""Telegram through an HTTP proxy: CONNECT tunnels to the API's name, TLS inside them,
credentials from network.proxy, loopback dialled directly (net/proxy.py).

The fake proxy (tests/fakes/proxy.py) ends TLS with a certificate made here for
``api.telegram.test``, a name that resolves nowhere: a reply can only arrive if the
daemon asked the proxy for the tunnel and checked the certificate against that name
(trusted through ``SSL_CERT_FILE``, which OpenSSL reads for the default CA store).
"""

from __future__ import annotations

import base64
import logging

import pytest

from tests.fakes.certs import self_signed
from tests.fakes.proxy import FakeProxy
from tests.fakes.telegram import FakeTelegram
from tests.harness import running_daemon
from tests.channels.telegram.support import eventually, telegram_config

ALLOWED = 42
HOST = "api.telegram.test"
PASSWORD = "s3cret pw"
AUTH = "Basic " + base64.b64encode(("bob:" + PASSWORD).encode()).decode()


def proxied(tmp_path, tg, proxy, password=PASSWORD):
    return telegram_config(tmp_path, tg, **{
        "telegram.allowed_users": [str(ALLOWED)], "telegram.api_base": "https://" + HOST,
        "network.proxy": "http://bob:%s@127.0.0.1:%d" % (password.replace(" ", "%20"),
                                                         proxy.port)})


@pytest.mark.gen_test(timeout=15)
async def test_replies_go_through_authenticated_connect_tunnels_kept_alive(tmp_path,
                                                                         monkeypatch):
    """Five commands in turn answered through the proxy: every tunnel is to
    api.telegram.test:443 with the configured credentials, and the kept-alive tunnels
    number at most three (the long poll's, the sends', and the one setMyCommands opens
    at start while the first poll holds its connection)."""
    cert, key = self_signed(tmp_path, (HOST,))
    monkeypatch.setenv("SSL_CERT_FILE", cert)
    async with FakeTelegram() as tg, \
            FakeProxy({HOST + ":443": tg.port}, tls=(cert, key), require_auth=AUTH) as proxy:
        async with running_daemon(proxied(tmp_path, tg, proxy)):
            for chat in range(5):      # one after another, as a chat does
                tg.queue_message("/help", user_id=ALLOWED, chat_id=-100 - chat,
                                 chat_type="group")
                await tg.wait_until(lambda: sum(1 for r in tg.calls("sendMessage")
                                                if r.status == 200) == chat + 1)
    assert {r.chat_id for r in tg.calls("sendMessage")} == {str(-100 - c) for c in range(5)}
    assert proxy.tunnels and all(t == (HOST + ":443", AUTH) for t in proxy.tunnels)
    assert len(proxy.tunnels) <= 3
    assert proxy.refused == []


@pytest.mark.gen_test(timeout=15)
async def test_wrong_proxy_password_is_retried_and_logged_without_it(tmp_path, monkeypatch,
                                                                   caplog):
    """A 407 from the proxy: the poll backs off and retries, the log names the proxy's
    refusal, and neither password reaches a log line; the API never sees a request."""
    caplog.set_level(logging.DEBUG, logger="openclaw_connector")
    cert, key = self_signed(tmp_path, (HOST,))
    monkeypatch.setenv("SSL_CERT_FILE", cert)
    async with FakeTelegram() as tg, \
            FakeProxy({HOST + ":443": tg.port}, tls=(cert, key), require_auth=AUTH) as proxy:
        async with running_daemon(proxied(tmp_path, tg, proxy, password="wrong pw")) as d:
            await eventually(lambda: len(proxy.refused) >= 2, turns=100000)
            assert d.channels["telegram"].health.state == "backoff"
        assert tg.requests == []
    failures = [r.getMessage() for r in caplog.records if "poll_failed" in r.getMessage()]
    assert failures and "407" in failures[0] and "proxy" in failures[0]
    assert all("wrong pw" not in r.getMessage() and "wrong%20pw" not in r.getMessage()
               for r in caplog.records)


@pytest.mark.gen_test(timeout=15)
async def test_loopback_api_is_dialled_directly_even_with_a_proxy_set(tmp_path):
    """Loopback bypasses the proxy: a fake API on 127.0.0.1 answers, the proxy sees nothing."""
    async with FakeTelegram() as tg, FakeProxy({}) as proxy:
        tg.queue_message("/help", user_id=ALLOWED)
        cfg = telegram_config(tmp_path, tg, **{"telegram.allowed_users": [str(ALLOWED)],
                                               "network.proxy": proxy.url})
        async with running_daemon(cfg):
            sent = await tg.next_answered("sendMessage")
    assert sent.status == 200 and proxy.tunnels == [] and proxy.refused == []
