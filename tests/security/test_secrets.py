"""No secret anywhere: one scenario through every error path with every secret set.

One in-process daemon, debug on, all four channels plus the status server,
every secret configured (admin token, Telegram and Discord tokens, LINE channel
secret and access token, WhatsApp access token, verify token and app secret).
It goes through: Telegram poll 502 / dropped connection / 429 / 401 (fatal),
send 500 and 401; Discord REST 502 and 401 and a gateway close; LINE reply 500,
push 401, forged signatures; WhatsApp Graph 500 and 401, forged signatures,
verification GETs with the right and a wrong token in the query; ComfyUI 403,
a 500 that echoes the admin token, a timeout, unreachable; media URLs with a
bad signature, expired, unknown and traversal; ``/healthz`` and ``/metrics``.

Then every captured text is searched for every secret value: the raw log
records (caplog at DEBUG, messages and tracebacks, *before* any redaction), the
daemon's own formatter output, every message body each platform fake received,
every request ComfyUI received (only the admin token, only in its header),
``/healthz``, ``/metrics``, and ``--print-config`` / ``--check-config`` run as
subprocesses.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys

import pytest
import yaml

from openclaw_connector import config as configmod
from openclaw_connector import log as logmod
from tests.fakes import discord as fdc
from tests.fakes import line as fline
from tests.fakes import telegram as ftg
from tests.fakes import whatsapp as fwa
from tests.security.support import (ADMIN_TOKEN, CASTS, DC_TOKEN, DRIVERS, LINE_SECRET,
                                    LINE_TOKEN, SECRETS, TG_TOKEN, WA_SECRET, WA_TOKEN,
                                    WA_VERIFY, LogWaiter, all_fakes, config, free_port,
                                    http, log_waiter, running)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VALUES = list(SECRETS.values())


def leaks(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in (text or "")]


@pytest.mark.gen_test(timeout=30)
async def test_no_secret_in_logs_replies_requests_health_metrics_or_config(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    formatted = io.StringIO()
    handler = logging.StreamHandler(formatted)
    handler.setFormatter(logmod.RedactingFormatter(VALUES, tracebacks=True))
    handler.setLevel(logging.DEBUG)
    logs = LogWaiter()
    logging.getLogger().addHandler(handler)
    logging.getLogger().addHandler(logs)
    status_port = free_port()
    bodies: dict[str, bytes] = {}
    try:
        async with all_fakes() as fakes:
            tg, dc, fl, fw, oc = fakes.tg, fakes.dc, fakes.line, fakes.wa, fakes.oc
            tg.script("getUpdates", ftg.bad_gateway(), ftg.drop(), ftg.too_many(0))
            cfg = config(tmp_path, fakes, debug=True, **{"openclaw.timeout_sec": 0.5})
            cfg = configmod.with_overrides(cfg, status={"port": status_port})
            async with running(cfg, fakes) as run:
                drivers = {name: cls(run) for name, cls in DRIVERS.items()}
                health_base = run.webhook_url("line").rsplit("/", 2)[0] + "/healthz"
                seen_health: list = []

                async def snap() -> None:   # /healthz while channels are failing, too
                    for url in (health_base, "http://127.0.0.1:%d/healthz" % status_port):
                        seen_health.append((await http(url)).body)

                admin = {name: CASTS[name].admin for name in CASTS}

                # Healthy round trips first, so every channel has really worked.
                for name, driver in drivers.items():
                    assert (await driver.say(admin[name], "/status")).startswith("ComfyUI")

                # ComfyUI: 403, a 500 echoing the admin token, a timeout, unreachable.
                tg_driver = drivers["telegram"]
                oc.fail_next(1, 403, {"error": "Admin token required"}, path="approvals")
                reply = await tg_driver.say(admin["telegram"], "/approvals")
                assert reply.startswith("HTTP 403 (Admin Token)")
                oc.fail_next(1, 500, {"error": "bad header %s" % ADMIN_TOKEN},
                             path="schedules")
                reply = await drivers["discord"].say(admin["discord"], "/schedules")
                assert "***" in reply and "500" in reply
                oc.delay(2.0, path="system_stats")
                reply = await drivers["line"].say(admin["line"], "/status")
                assert "timed out" in reply, reply
                oc.delay(0, path="system_stats")
                await oc.go_down()
                reply = await drivers["whatsapp"].say(admin["whatsapp"], "/status")
                assert reply.startswith("ComfyUI is not reachable"), reply

                await snap()
                # Platform send failures: 5xx, then auth refused.
                tg.script("sendMessage", ftg.error(500, "Internal Server Error"),
                          ftg.error(401, "Unauthorized"))
                sends = tg.count("sendMessage")
                await tg_driver.inject(admin["telegram"], "/help")
                await tg.wait_until(lambda: tg.count("sendMessage") >= sends + 2)
                dm = "13" + admin["discord"].user[2:]
                dc.script_send(dm, fdc.Response(502, "<html>502 Bad Gateway</html>",
                                                {"Content-Type": "text/html"}),
                               fdc.Response(401, {"message": "401: Unauthorized", "code": 0}))
                sends = len(dc.sends)
                await drivers["discord"].inject(admin["discord"], "/help")
                await dc.wait_for(lambda: len(dc.sends) >= sends + 2, what="discord sends")
                fl.fail("reply", 500, "Internal error")
                fl.fail("push", 401, "Authentication failed")
                calls = len(fl.requests)
                await drivers["line"].inject(admin["line"], "/help")
                await fl.wait_until(lambda: len(fl.requests) >= calls + 2, what="line sends")
                fw.fail(500, 1, "An unknown error occurred")
                fw.fail(401, 190, "Error validating access token")
                calls = len(fw.requests)
                await drivers["whatsapp"].inject(admin["whatsapp"], "/help")
                await fw.wait_until(lambda: len(fw.requests) >= calls + 2, what="wa sends")

                await snap()
                # Forged webhooks and verification GETs (the verify token in the query).
                line_url, wa_url = run.webhook_url("line"), run.webhook_url("whatsapp")
                body = fline.body_of(fline.text_event("/help", user_id=admin["line"].user))
                forged = [
                    await http(line_url, method="POST", body=body,
                               headers={"X-Line-Signature": fline.sign(body, "guess")}),
                    await http(line_url, method="POST", body=body),
                    await http(line_url, method="POST", body=body + b" ", headers={
                        "X-Line-Signature": fline.sign(body, LINE_SECRET)}),
                    await http(wa_url, method="POST", body=b"{}", headers={
                        "X-Hub-Signature-256": fwa.sign(b"{}", "guess")}),
                    await http(wa_url, method="POST", body=b"{}"),
                ]
                assert [r.code for r in forged] == [401] * 5
                verify = "?hub.mode=subscribe&hub.challenge=4242&hub.verify_token="
                right = await http(wa_url + verify + WA_VERIFY)
                wrong = await http(wa_url + verify + WA_VERIFY[:-1])
                assert (right.code, right.body, wrong.code) == (200, b"4242", 403)

                # Media URL errors (the query is never logged).
                base = line_url.rsplit("/", 2)[0]
                name = "a" * 32 + ".png"
                media = [await http(base + path) for path in (
                    "/media/%s?exp=9999999999&sig=%s" % (name, WA_SECRET),
                    "/media/%s?exp=1&sig=%s" % (name, "0" * 64),
                    "/media/..%%2F..%%2Fconfig.yaml?sig=%s" % LINE_SECRET,
                    "/media/%s" % name)]
                assert [r.code for r in media] == [403, 403, 404, 403]

                # Telegram: a revoked token while polling is fatal, logged without it.
                tg.script("getUpdates", ftg.error(401, "Unauthorized"))
                tg.queue_message("/help", user_id=int(CASTS["telegram"].unknown.user))
                channel = run.daemon.channels["telegram"]
                await logs.wait_for("event=channel_stopped platform=telegram", 8)
                assert channel.health.state == "fatal"

                await snap()
                # Health and metrics, on the webhook server and the status server.
                status_base = "http://127.0.0.1:%d" % status_port
                for url in (base + "/healthz", status_base + "/healthz",
                            status_base + "/metrics"):
                    resp = await http(url)
                    assert resp.code in (200, 503), (url, resp.code)
                    bodies[url] = resp.body
                assert b"openclaw_connector_" in bodies[status_base + "/metrics"]
                oc_requests = list(oc.requests)
            # After stop: every in-flight send has finished and been logged.
            platform_bodies = (
                [json.dumps(r.params) for r in tg.requests] +
                [json.dumps(s.payload) for s in dc.sends] +
                [r.body.decode("utf-8", "replace") for r in fl.requests + fw.requests])
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().removeHandler(logs)

    # The error paths really ran (otherwise "no secret" proves nothing).
    out = formatted.getvalue()
    for event in ("event=poll_failed", "event=channel_stopped platform=telegram",
                  "event=send_failed", "event=discord_rest_failed", "event=webhook_rejected",
                  "event=verify_rejected", "event=verify_accepted", "event=reply_failed",
                  "event=send_refused", "event=http_request method=GET path=/media/"):
        assert event in out, event
    # 1. Raw records (message and traceback text) and pytest's own capture.
    for record in caplog.records:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += logging.Formatter().formatException(record.exc_info)
        assert not leaks(text), (leaks(text), text[:300])
    assert not leaks(caplog.text), leaks(caplog.text)
    # 2. The daemon's formatter output.
    assert not leaks(out), leaks(out)
    # 3. Every message body every platform received.
    for text in platform_bodies:
        assert not leaks(text), (leaks(text), text[:300])
    # 4. ComfyUI sees the admin token in its header only, and no other secret at all.
    for r in oc_requests:
        headers = {k.lower(): v for k, v in r.headers.items()}
        assert headers.get("x-openclaw-admin-token") in (None, ADMIN_TOKEN)
        if "/openclaw/" in r.path:
            assert headers.get("x-openclaw-admin-token") == ADMIN_TOKEN, r.path
        rest = dict(headers, **{"x-openclaw-admin-token": ""})
        text = "%s %s %s %s" % (r.path, r.query, r.body, json.dumps(rest))
        assert not leaks(text), (leaks(text), r.path)
    # 5. Health and metrics.
    for url, body in bodies.items():
        assert not leaks(body.decode("utf-8", "replace")), url
    assert len(seen_health) == 6
    for body in seen_health:
        assert not leaks(body.decode("utf-8", "replace")), body[:300]


def test_print_config_and_check_config_show_no_secret(tmp_path):
    """``--print-config`` / ``--check-config`` with every secret set in the file and in
    the environment: the values never appear, the keys do (masked)."""
    data: dict = {"state_dir": str(tmp_path / "state"), "admin_users": ["telegram:1"]}
    for dotted, value in SECRETS.items():
        section, key = dotted.split(".")
        data.setdefault(section, {})[key] = value
    data["whatsapp"]["phone_number_id"] = fwa.PHONE_NUMBER_ID
    path = tmp_path / "openclaw.yaml"
    path.write_text(yaml.safe_dump(data))
    os.chmod(path, 0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_CONNECTOR_")}
    env["PYTHONPATH"] = ROOT
    outputs = []
    for flags, extra in ((["--print-config"], {}), (["--check-config"], {}),
                         (["--print-config"], {"OPENCLAW_CONNECTOR_TELEGRAM_TOKEN":
                                               SECRETS["telegram.token"] + "0",
                                               "OPENCLAW_CONNECTOR_ADMIN_TOKEN":
                                               ADMIN_TOKEN + "-env"})):
        proc = subprocess.run([sys.executable, "-m", "openclaw_connector", "-c", str(path),
                               *flags], env=dict(env, **extra), capture_output=True,
                              text=True, timeout=30, cwd=str(tmp_path))
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout + proc.stderr)
    printed = yaml.safe_load(outputs[0])
    assert printed["telegram"]["token"] == "***" and printed["whatsapp"]["app_secret"] == "***"
    for text in outputs:
        assert not leaks(text), leaks(text)
        assert ADMIN_TOKEN + "-env" not in text and SECRETS["telegram.token"] + "0" not in text


@pytest.mark.gen_test(timeout=20)
async def test_platform_errors_echoing_our_token_are_redacted(tmp_path, caplog):
    """Every platform answers a send with 400 and our own token in its error text (some
    proxies and API gateways do echo the request). The daemon's formatter output, /healthz
    and the chat replies stay clean; the raw records show where the safety net was needed."""
    caplog.set_level(logging.DEBUG)
    formatted = io.StringIO()
    handler = logging.StreamHandler(formatted)
    handler.setFormatter(logmod.RedactingFormatter(VALUES, tracebacks=True))
    logging.getLogger().addHandler(handler)
    try:
        async with all_fakes() as fakes:
            tg, dc, fl, fw = fakes.tg, fakes.dc, fakes.line, fakes.wa
            tg.script("getUpdates", ftg.error(400, "Bad Request: token %s" % TG_TOKEN))
            cfg = config(tmp_path, fakes, debug=True)
            async with running(cfg, fakes) as run:
                drivers = {name: cls(run) for name, cls in DRIVERS.items()}
                admin = {name: CASTS[name].admin for name in CASTS}
                tg.script("sendMessage", ftg.error(400, "Bad Request: %s" % TG_TOKEN))
                dm = "13" + admin["discord"].user[2:]
                dc.script_send(dm, fdc.Response(400, {"message": "bad auth %s" % DC_TOKEN,
                                                      "code": 50035}))
                fl.fail("reply", 400, "Invalid reply token %s" % LINE_TOKEN)
                fl.fail("push", 400, "bad request for %s" % LINE_TOKEN)
                fw.fail(400, 100, "Invalid parameter %s" % WA_TOKEN)
                counts = (tg.count("sendMessage"), len(dc.sends), len(fl.requests),
                          len(fw.requests))
                for name, driver in drivers.items():
                    await driver.inject(admin[name], "/help")
                await tg.wait_until(lambda: tg.count("sendMessage") > counts[0])
                await dc.wait_for(lambda: len(dc.sends) > counts[1], what="discord send")
                await fl.wait_until(lambda: len(fl.requests) >= counts[2] + 2, what="line")
                await fw.wait_until(lambda: len(fw.requests) > counts[3], what="whatsapp")
                health = await http(run.webhook_url("line").rsplit("/", 2)[0] + "/healthz")
    finally:
        logging.getLogger().removeHandler(handler)
    out = formatted.getvalue()
    assert "event=send_refused" in out and "***" in out
    assert not leaks(out), leaks(out)
    assert not leaks(health.body.decode()), health.body


@pytest.mark.gen_test(timeout=30)
async def test_telegram_poll_timeout_logs_no_token(tmp_path, caplog):
    """A getUpdates that never answers ends in the client's own timeout (poll timeout 0 +
    ``telegram.poll_margin_sec``, 0.3 s here): the URL of that call holds the token
    (/bot<token>/getUpdates) and must not reach any log line, Tornado's included."""
    caplog.set_level(logging.DEBUG)
    async with all_fakes() as fakes:
        tg = fakes.tg
        tg.script("getUpdates", ftg.stall())
        cfg = config(tmp_path, fakes, ("telegram",), debug=True,
                     **{"telegram.poll_timeout_sec": 0, "telegram.poll_margin_sec": 0.3})
        async with running(cfg, fakes) as run:
            with log_waiter() as logs:
                await logs.wait_for("event=poll_failed", 20)
            reply = await DRIVERS["telegram"](run).say(CASTS["telegram"].admin, "/help")
            assert reply.startswith("Commands:")
    failed = [r.getMessage() for r in caplog.records if "event=poll_failed" in r.getMessage()]
    assert failed and "imeout" in failed[0], failed
    for record in caplog.records:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += logging.Formatter().formatException(record.exc_info)
        assert TG_TOKEN not in text and TG_TOKEN.split(":")[1] not in text, text[:300]
