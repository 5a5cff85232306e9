"""The whole daemon in-process with LINE and WhatsApp on: commands through the
router and back through the API fakes, a stalled ComfyUI, and secret-free logs."""

from __future__ import annotations

import logging
import time

import pytest

from tests.fakes import line as fline
from tests.fakes import whatsapp as fwa
from tests.fakes.openclaw import FakeOpenClaw
from tests.harness import running_daemon, settle, webhook_url
from tests.channels.webhooks.support import (ADMIN_TOKEN, ALICE_LINE, ALICE_WA, BOB_LINE, LINE_TOKEN,
                                    SECRETS, WA_TOKEN, WA_VERIFY, get, post_line, post_wa,
                                    webhook_config)


daemon_url = webhook_url


@pytest.mark.gen_test(timeout=15)
async def test_help_over_line_and_whatsapp_through_the_daemon(tmp_path):
    """/help via each webhook is answered through the router and the platform API."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fl, \
            fwa.FakeWhatsApp(access_token=WA_TOKEN) as fw, \
            FakeOpenClaw(admin_token=ADMIN_TOKEN) as oc:
        cfg = webhook_config(tmp_path, line=fl, wa=fw, **{"openclaw.url": oc.url})
        async with running_daemon(cfg) as daemon:
            token = fl.issue_reply_token(to=ALICE_LINE)
            r1 = await post_line(daemon_url(daemon, "line"),
                                 fline.body_of(fline.text_event("/help", reply_token=token)))
            r2 = await post_wa(daemon_url(daemon, "whatsapp"), fwa.notification(
                messages=(fwa.text_message(ALICE_WA, "/help"),)))
            line_sent = await fl.wait_delivered(1)
            wa_sent = await fw.wait_sent(1)
            health = await get(daemon_url(daemon, "line", "/healthz"))
    assert (r1.code, r2.code) == (200, 200)
    assert line_sent[0]["api"] == "reply"
    assert line_sent[0]["messages"][0]["text"].startswith("Commands:")
    assert wa_sent[0]["text"]["body"].startswith("Commands:")
    # The webhook port faces the tunnel: a bare 200 for its probe, no version or states.
    assert health.code == 200 and health.body == b"ok\n"


@pytest.mark.gen_test(timeout=15)
async def test_sender_outside_allowlist_gets_200_and_no_reply(tmp_path):
    """The router denies silently; the webhook still acknowledges."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fl, \
            FakeOpenClaw(admin_token=ADMIN_TOKEN) as oc:
        cfg = webhook_config(tmp_path, line=fl, **{"openclaw.url": oc.url})
        async with running_daemon(cfg) as daemon:
            resp = await post_line(daemon_url(daemon, "line"),
                                   fline.body_of(fline.text_event("/help", user_id=BOB_LINE)))
            await settle(20)
            await daemon.channels["line"]._tasks.drain(2.0)
    assert resp.code == 200 and fl.delivered == []


@pytest.mark.gen_test(timeout=15)
async def test_stalled_comfyui_does_not_delay_the_acknowledgement(tmp_path):
    """ComfyUI hangs: both webhooks still answer 200 in well under a second, and the
    reply arrives once ComfyUI answers."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fl, \
            fwa.FakeWhatsApp(access_token=WA_TOKEN) as fw, \
            FakeOpenClaw(admin_token=ADMIN_TOKEN) as oc:
        gate = oc.hold("/")
        cfg = webhook_config(tmp_path, line=fl, wa=fw, **{"openclaw.url": oc.url,
                                                          "openclaw.timeout_sec": 30})
        async with running_daemon(cfg) as daemon:
            token = fl.issue_reply_token(to=ALICE_LINE)
            started = time.monotonic()
            r1 = await post_line(daemon_url(daemon, "line"),
                                 fline.body_of(fline.text_event("/status", reply_token=token)))
            line_ack = time.monotonic() - started
            await oc.wait_request("/", timeout=5)
            started = time.monotonic()
            r2 = await post_wa(daemon_url(daemon, "whatsapp"), fwa.notification(
                messages=(fwa.text_message(ALICE_WA, "/status"),)))
            wa_ack = time.monotonic() - started
            assert fl.delivered == [] and fw.sent == []
            gate.set()
            line_sent = await fl.wait_delivered(1, timeout=8)
            await fw.wait_sent(1, timeout=8)
    assert (r1.code, r2.code) == (200, 200)
    assert line_ack < 0.5 and wa_ack < 0.5
    assert "ComfyUI" in line_sent[0]["messages"][0]["text"]


@pytest.mark.gen_test(timeout=15)
async def test_no_secret_reaches_the_log(tmp_path, caplog):
    """Bad signatures, verification, API auth failures and debug mode: no token,
    secret or verify token in any captured log line (unredacted capture)."""
    caplog.set_level(logging.DEBUG)
    async with fline.FakeLine(access_token="rotated-token") as fl, \
            fwa.FakeWhatsApp(access_token=WA_TOKEN) as fw, \
            FakeOpenClaw(admin_token=ADMIN_TOKEN) as oc:
        cfg = webhook_config(tmp_path, line=fl, wa=fw, debug=True,
                             **{"openclaw.url": oc.url})
        async with running_daemon(cfg) as daemon:
            line_url, wa_url = daemon_url(daemon, "line"), daemon_url(daemon, "whatsapp")
            body = fline.body_of(fline.text_event("/help"))
            await post_line(line_url, body, signature="forged")
            await post_line(line_url, body)
            await get(wa_url + "?hub.mode=subscribe&hub.challenge=77&hub.verify_token="
                      + WA_VERIFY)
            await get(wa_url + "?hub.mode=subscribe&hub.challenge=77&hub.verify_token=nope")
            await post_wa(wa_url, fwa.notification(
                messages=(fwa.text_message(ALICE_WA, "/help"),)), secret="forged")
            fw.fail(401, 190, "Error validating access token")
            await post_wa(wa_url, fwa.notification(
                messages=(fwa.text_message(ALICE_WA, "/help"),)))
            await fl.wait_for("/reply")
            await fw.wait_for("/messages")
            await daemon.channels["line"]._tasks.drain(2.0)
            await daemon.channels["whatsapp"]._tasks.drain(2.0)
    assert "event=send_refused" in caplog.text and "event=webhook_rejected" in caplog.text
    for secret in SECRETS:
        assert secret not in caplog.text, secret


@pytest.mark.gen_test(timeout=15)
async def test_allowed_group_member_is_answered_and_metrics_count_it(tmp_path):
    """A non-listed user in an allowed LINE group is answered (chat_id = groupId);
    the status server's /metrics counts the webhook traffic."""
    from openclaw_connector import config as configmod
    from tests.channels.webhooks.support import GROUP, free_port
    async with fline.FakeLine(access_token=LINE_TOKEN) as fl, \
            FakeOpenClaw(admin_token=ADMIN_TOKEN) as oc:
        cfg = webhook_config(tmp_path, line=fl, **{"openclaw.url": oc.url})
        cfg = configmod.with_overrides(cfg, status={"port": free_port()})
        async with running_daemon(cfg) as daemon:
            token = fl.issue_reply_token(to=GROUP)
            event = fline.text_event("/help", user_id=BOB_LINE, group_id=GROUP,
                                     reply_token=token)
            resp = await post_line(daemon_url(daemon, "line"), fline.body_of(event))
            (sent,) = await fl.wait_delivered(1)
            metrics = await get("http://127.0.0.1:%d/metrics" % cfg.status.port)
    assert resp.code == 200 and sent["api"] == "reply" and sent["to"] == GROUP
    assert sent["messages"][0]["text"].startswith("Commands:")
    assert b'openclaw_connector_webhook_messages_total{platform="line"} 1' in metrics.body
