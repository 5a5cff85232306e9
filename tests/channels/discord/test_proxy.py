"""Discord through an HTTP proxy: REST and the gateway websocket both go through
CONNECT tunnels (the gateway via net/tunnel.py's resolver), TLS inside them
checked against the real names (a certificate made here, trusted through SSL_CERT_FILE).
The names resolve nowhere but in the fake proxy."""

from __future__ import annotations

import pytest

from tests.channels.discord.conftest import discord_config, ready
from tests.fakes.certs import self_signed
from tests.fakes.discord import CHANNEL_ID, GUILD_ID
from tests.fakes.proxy import FakeProxy
from tests.harness import running_daemon

API, GATEWAY = "discord.test", "gateway.discord.test"


@pytest.mark.gen_test(timeout=15)
async def test_gateway_and_rest_go_through_the_proxy(fake_discord, tmp_path, monkeypatch):
    """READY over a proxied wss:// gateway, then /help answered over proxied REST."""
    fake = fake_discord
    cert, key = self_signed(tmp_path, (API, GATEWAY))
    monkeypatch.setenv("SSL_CERT_FILE", cert)
    routes = {API + ":443": fake.port, GATEWAY + ":443": fake.port}
    async with FakeProxy(routes, tls=(cert, key)) as proxy:
        cfg = discord_config(fake, tmp_path / "state",
                             discord__api_base="https://%s/api/v10" % API,
                             discord__gateway_url="wss://%s/gateway" % GATEWAY,
                             discord__allowed_channels=[CHANNEL_ID],
                             network__proxy=proxy.url)
        async with running_daemon(cfg):
            await ready(fake)
            command = fake.message_create("/help", guild_id=GUILD_ID)
            sent = await fake.next_send()
    assert sent.channel_id == CHANNEL_ID and sent.reference == command["id"]
    authorities = {authority for authority, _auth in proxy.tunnels}
    assert authorities == {API + ":443", GATEWAY + ":443"}
    assert proxy.refused == []
