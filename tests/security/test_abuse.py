"""Issue 20, in-process: abuse and bad luck through the public surface.

A connection flood and a body flood on loopback (bounded in count and time),
a state disk that fills (a small tmpfs; skipped with the reason when it
cannot be mounted), unsigned WhatsApp, absurd webhook fields, forged log
lines, sender-chosen metric labels and rows, an empty database file, one
deleted while running, and pending commands too old to run.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import sqlite3
import subprocess
import time
from dataclasses import replace
from typing import Any, AsyncIterator

import pytest

from openclaw_connector import config as configmod
from openclaw_connector import log as logmod
from openclaw_connector.messages import ChatRef, Inbound
from openclaw_connector.state import StateStore
from tests.fakes import line as fline
from tests.fakes import telegram as ftg
from tests.fakes import whatsapp as fwa
from tests.fakes.openclaw import FakeOpenClaw
from tests.harness import running_daemon, settle, until, webhook_url
from tests.channels.telegram.support import Inbox as TgInbox
from tests.channels.telegram.support import running_channel
from tests.channels.webhooks.support import (ADMIN_TOKEN, ALICE_LINE, ALICE_WA, LINE_TOKEN, WA_TOKEN,
                                    Inbox, free_port, get, post_line, post_wa, raw_exchange,
                                    running_stack, webhook_config)


daemon_url = webhook_url


# --------------------------------------------------------------------------- unsigned WhatsApp

@pytest.mark.gen_test(timeout=15)
async def test_insecure_unsigned_whatsapp_never_runs_admin_commands(tmp_path):
    """With insecure_unsigned, a forged "from" of the admin's number is not an admin:
    /trace (admin only) is refused, /help still answers; signed, the admin is one."""
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fw, \
            FakeOpenClaw(admin_token=ADMIN_TOKEN) as oc:
        cfg = webhook_config(tmp_path, wa=fw, **{"openclaw.url": oc.url,
                                                 "admin_users": ["whatsapp:" + ALICE_WA]})
        loose = configmod.with_overrides(cfg, whatsapp={"app_secret": None,
                                                        "insecure_unsigned": True})
        async with running_daemon(loose) as daemon:
            for wamid, text in (("wamid.U1", "/trace abc"), ("wamid.U2", "/help")):
                msg = fwa.text_message(ALICE_WA, text, wamid=wamid)
                resp = await post_wa(daemon_url(daemon, "whatsapp"),
                                     fwa.notification(messages=(msg,)), secret=None)
                assert resp.code == 200
            unsigned = await fw.wait_sent(2)
        async with running_daemon(cfg) as daemon:
            msg = fwa.text_message(ALICE_WA, "/trace abc", wamid="wamid.S1")
            await post_wa(daemon_url(daemon, "whatsapp"), fwa.notification(messages=(msg,)))
            signed = (await fw.wait_sent(3))[2]
    bodies = sorted(m["text"]["body"] for m in unsigned)
    assert bodies[0].startswith("Access denied: /trace is for admins")
    assert bodies[1].startswith("Commands:")
    assert not signed["text"]["body"].startswith("Access denied")


def test_whatsapp_numbers_are_normalised_or_refused_with_the_fix():
    """"+1 555-123 4567" becomes the wa_id Meta sends; a national 0… number is refused."""
    base = {"whatsapp.access_token": "t", "whatsapp.verify_token": "v",
            "whatsapp.app_secret": "s", "whatsapp.phone_number_id": "1"}
    cfg = configmod.load(None, env={}, overrides=dict(
        base, **{"whatsapp.allowed_users": ["+1 555-123 4567", "15550001111"],
                 "admin_users": ["whatsapp:+44 7700 900123"]}))
    assert cfg.whatsapp.allowed_users == ("15551234567", "15550001111")
    assert cfg.admin_users == ("whatsapp:447700900123",)
    with pytest.raises(configmod.ConfigError) as info:
        configmod.load(None, env={}, overrides=dict(
            base, **{"whatsapp.allowed_users": ["07700 900123"]}))
    assert "whatsapp.allowed_users (from the command line)[0]" in str(info.value)
    assert "national-format" in str(info.value) and "without the 0" in str(info.value)


# --------------------------------------------------------------------------- floods

@pytest.mark.gen_test(timeout=20)
async def test_idle_connection_flood_is_capped_and_a_webhook_still_gets_in(tmp_path):
    """60 idle sockets against a cap of 20: the oldest idle ones are closed, a signed
    webhook still gets 200, and /healthz and /metrics show the cap."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fl, \
            FakeOpenClaw(admin_token=ADMIN_TOKEN) as oc:
        status_port = free_port()
        cfg = webhook_config(tmp_path, line=fl, **{"openclaw.url": oc.url,
                                                   "http.max_connections": 20,
                                                   "status.port": status_port})
        async with running_daemon(cfg) as daemon:
            port = daemon.web.bound_port(cfg.line.bind, cfg.line.port)
            listener = "127.0.0.1:%d" % port
            writers = []
            try:
                for _ in range(60):
                    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    writers.append(writer)
                shed = lambda: sum(daemon.metrics.value(  # noqa: E731
                    "http_connections_shed_total", listener=listener, action=a)
                    for a in ("evicted", "refused"))
                await until(lambda: shed() >= 40, 10, "40 connections shed")
                health = json.loads((await get("http://127.0.0.1:%d/healthz"
                                               % status_port)).body)
                token = fl.issue_reply_token(to=ALICE_LINE)
                resp = await post_line(daemon_url(daemon, "line"), fline.body_of(
                    fline.text_event("/help", reply_token=token)))
                answered = await fl.wait_delivered(1)
                metrics = (await get("http://127.0.0.1:%d/metrics" % status_port)).body.decode()
            finally:
                for writer in writers:
                    writer.close()
    state = health["http"]["listeners"][listener]
    assert state["connections"] <= 20 and state["max_connections"] == 20
    assert resp.code == 200 and answered[0]["messages"][0]["text"].startswith("Commands:")
    assert "openclaw_connector_http_connections_shed_total{" in metrics
    assert 'openclaw_connector_http_connections{listener="%s"}' % listener in metrics


@pytest.mark.gen_test(timeout=15)
async def test_bodies_beyond_the_global_budget_get_503_with_retry_after(tmp_path):
    """One slow 40 kB body holds the budget (50 kB): a second one is refused with 503 and
    Retry-After before it is read; once the first is gone, webhooks are accepted again."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fl:
        cfg = webhook_config(tmp_path, line=fl, **{"http.max_buffered_mb": 0.05})
        inbox = Inbox()
        async with running_stack(cfg, inbox) as stack:
            port = stack.web.bound_port(cfg.line.bind, cfg.line.port)
            head = (b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"X-Line-Signature: x\r\nContent-Length: 40000\r\n\r\n" % cfg.line.path.encode())
            _reader, slow = await asyncio.open_connection("127.0.0.1", port)
            slow.write(head + b"{" * 100)
            await until(lambda: stack.web.body_budget.used >= 40000, 5, "budget taken")
            refused = await raw_exchange(port, head + b"{" * 100)
            slow.close()
            await until(lambda: stack.web.body_budget.used == 0, 5, "budget released")
            ok = await post_line(stack.url("line"), fline.body_of(fline.text_event("/help")))
            await inbox.wait(1)
    assert refused.startswith(b"HTTP/1.1 503") and b"Retry-After: 5" in refused
    assert ok.code == 200 and [i.text for i in inbox.items] == ["/help"]
    assert stack.metrics.value("http_body_budget_refused_total") == 1


# --------------------------------------------------------------------------- full disk

@contextlib.contextmanager
def small_tmpfs(path: Any, size: str = "2m"):
    """A tmpfs of ``size`` at ``path``; the test is skipped when it cannot be mounted."""
    os.makedirs(path, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs to fill (needs root): %s" % done.stderr.strip())
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(path: Any) -> None:
    """Write a ballast file until the filesystem is full."""
    with open(os.path.join(path, "ballast"), "wb", buffering=0) as fh:
        for size in (65536, 4096, 512):    # big steps, then the last few pages
            try:
                while True:
                    fh.write(b"\0" * size)
            except OSError:
                pass


@pytest.mark.gen_test(timeout=30)
async def test_full_state_disk_answers_503_until_writes_work_again(tmp_path, caplog):
    """Disk full: a webhook gets 503 + Retry-After (LINE redelivers), /healthz says the
    state is not writable, the metric is 1, and the failure is logged once; with space
    again the redelivery gets 200 and the command ran exactly once."""
    caplog.set_level(logging.INFO)
    with small_tmpfs(tmp_path / "disk") as disk:
        async with fline.FakeLine(access_token=LINE_TOKEN) as fl, \
                FakeOpenClaw(admin_token=ADMIN_TOKEN) as oc:
            status_port = free_port()
            cfg = webhook_config(disk, line=fl, **{"openclaw.url": oc.url,
                                                   "state_check_sec": 0.05,
                                                   "status.port": status_port})
            async with running_daemon(cfg) as daemon:
                url = daemon_url(daemon, "line")
                first = await post_line(url, fline.body_of(fline.text_event("/help")))
                fill(disk)
                full = fline.text_event("/help", event_id="01HFULLDISK0000000000000001")
                refused = [await post_line(url, fline.body_of(full)),
                           await post_line(url, fline.body_of(fline.text_event("/help")))]
                health = await get("http://127.0.0.1:%d/healthz" % status_port)
                gauge = daemon.metrics.value("state_write_failing")
                os.unlink(disk / "ballast")
                await until(lambda: not daemon.state.write_failing, 10, "writes recover")
                again = await post_line(url, fline.body_of(dict(
                    full, deliveryContext={"isRedelivery": True})))
                await fl.wait_delivered(3)
                await settle(20)
                delivered = len(fl.delivered)
    assert first.code == 200
    assert [r.code for r in refused] == [503, 503]
    assert refused[0].headers.get("Retry-After") == "5"
    assert health.code == 503 and json.loads(health.body)["state"]["writable"] is False
    assert gauge == 1.0 and again.code == 200
    assert delivered == 3          # first, and each refused event once (no rerun)
    assert caplog.text.count("event=state_write_failed") == 1
    assert "event=state_write_recovered" in caplog.text


@pytest.mark.gen_test(timeout=30)
async def test_full_state_disk_keeps_telegram_updates_unconfirmed(tmp_path):
    """While the pending record cannot be written, no getUpdates confirms the update;
    once the disk has space, the next poll does."""
    with small_tmpfs(tmp_path / "disk") as disk:
        async with ftg.FakeTelegram() as fake:
            inbox = TgInbox()
            state = StateStore(str(disk / "state"))
            state.open()
            try:
                async with running_channel(tmp_path, fake, inbox, state=state,
                                           telegram__poll_timeout_sec=0) as channel:
                    await fake.wait_until(lambda: fake.count("getUpdates") >= 1)
                    fill(disk)
                    uid = fake.queue_message("/status")
                    await inbox.wait(1)
                    polls = fake.count("getUpdates")
                    await fake.wait_until(lambda: channel.health.state == "state")
                    held = [c.params.get("offset") for c in fake.calls("getUpdates")[polls:]]
                    os.unlink(disk / "ballast")
                    await fake.wait_until(lambda: any(
                        c.params.get("offset") == uid + 1 for c in fake.calls("getUpdates")))
            finally:
                state.close()
    assert all(offset is None or offset <= uid for offset in held)


# --------------------------------------------------------------------------- bad input

@pytest.mark.gen_test(timeout=10)
async def test_a_400_digit_timestamp_skips_nothing_else_in_the_batch(tmp_path):
    """A WhatsApp message whose timestamp is a 400-digit integer does not fail the POST:
    the batch is answered 200 and the other message runs."""
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fw:
        inbox = Inbox()
        async with running_stack(webhook_config(tmp_path, wa=fw), inbox) as stack:
            odd = fwa.text_message(ALICE_WA, "/jobs", wamid="wamid.BIG")
            good = fwa.text_message(ALICE_WA, "/status", wamid="wamid.OK")
            raw = fwa.body_of(fwa.notification(messages=(dict(odd, timestamp="@@"), good)))
            raw = raw.replace(b'"@@"', b"9" * 400)
            resp = await post_wa(stack.url("whatsapp"), None, raw=raw)
            await inbox.wait(2)
    assert resp.code == 200
    assert sorted(i.text for i in inbox.items) == ["/jobs", "/status"]


@pytest.mark.gen_test(timeout=10)
async def test_cr_lf_in_a_platform_id_cannot_forge_a_log_line(tmp_path):
    """A LINE user id carrying CR/LF and a fake log line stays on one escaped line."""
    forged = "U" + "f" * 32 + "\r\n2026-01-01T00:00:00.000Z ERROR daemon: event=forged"
    stream = io.StringIO()
    handler = logmod.setup("INFO", stream=stream)
    try:
        async with fline.FakeLine(access_token=LINE_TOKEN) as fl, \
                FakeOpenClaw(admin_token=ADMIN_TOKEN) as oc:
            cfg = webhook_config(tmp_path, line=fl, **{"openclaw.url": oc.url})
            async with running_daemon(cfg) as daemon:
                await post_line(daemon_url(daemon, "line"), fline.body_of(
                    fline.text_event("/help", user_id=forged)))
                await until(lambda: "event=sender_denied" in stream.getvalue(), 5, "denied")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert not any(line.startswith("2026-01-01T00:00:00.000Z") for line in lines)
    assert any("\\r\\n2026-01-01T00:00:00.000Z ERROR daemon: event=forged" in line
               for line in lines)


@pytest.mark.gen_test(timeout=15)
async def test_sender_chosen_values_add_no_series_and_no_lasting_rows(tmp_path):
    """200 invented WhatsApp status strings make one "other" series, not 200; 50
    strangers' last-inbound times go to expiring rows, none to the permanent kv."""
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fw:
        async with running_stack(webhook_config(tmp_path, wa=fw), Inbox()) as stack:
            statuses = [{"id": "wamid.S%d" % i, "status": "st-%d" % i,
                         "timestamp": str(int(time.time())), "recipient_id": ALICE_WA}
                        for i in range(200)]
            await post_wa(stack.url("whatsapp"), fwa.notification(statuses=tuple(statuses)))
            strangers = tuple(fwa.text_message("1555000%04d" % i, "hi", wamid="wamid.X%d" % i)
                              for i in range(50))
            await post_wa(stack.url("whatsapp"), fwa.notification(messages=strangers))
            rendered = stack.metrics.render()
            db = sqlite3.connect(stack.state.path)
            try:
                kv = db.execute("SELECT COUNT(*) FROM kv WHERE key LIKE 'whatsapp.%'").fetchone()
                expiring = db.execute("SELECT COUNT(*), MAX(expires) FROM kv_expiring "
                                      "WHERE key LIKE 'whatsapp.last_inbound.%'").fetchone()
            finally:
                db.close()
    series = [line for line in rendered.splitlines()
              if line.startswith("openclaw_connector_whatsapp_statuses_total{")]
    assert series == ['openclaw_connector_whatsapp_statuses_total{status="other"} 200']
    assert kv == (0,) and expiring[0] == 50 and expiring[1] <= time.time() + 24 * 3600 + 5


def test_expiring_rows_are_swept(tmp_path):
    now = [1000.0]
    store = StateStore(str(tmp_path), clock=lambda: now[0])
    store.open()
    try:
        for i in range(10):
            store.put_expiring("per.sender.%d" % i, "x", 60)
        assert store.get_expiring("per.sender.3") == "x"
        now[0] += 61
        assert store.get_expiring("per.sender.3") is None
        store.check()
        left = store._db.execute("SELECT COUNT(*) FROM kv_expiring").fetchone()[0]
    finally:
        store.close()
    assert left == 0


# --------------------------------------------------------------------------- state file

@pytest.mark.parametrize("content", [b"", None], ids=["empty", "unreadable"])
def test_empty_or_unreadable_database_is_moved_aside_not_taken_as_fresh(tmp_path, caplog,
                                                                       content):
    """A 0-byte (or unreadable) connector.db is not a fresh install: it is moved aside
    with an ERROR, as a corrupt one is."""
    path = tmp_path / "connector.db"
    if content is None:
        if os.geteuid() == 0:
            pytest.skip("root reads any file, so it cannot be unreadable here")
        path.write_bytes(b"SQLite format 3\0" + b"\0" * 4080)
        os.chmod(path, 0)
    else:
        path.write_bytes(content)
    store = StateStore(str(tmp_path))
    store.open()
    store.set("k", "v")
    store.close()
    moved = [p for p in os.listdir(tmp_path) if ".corrupt-" in p]
    assert moved and "event=state_corrupt" in caplog.text
    assert [r.levelno for r in caplog.records if "state_corrupt" in r.getMessage()] == \
        [logging.ERROR]


@pytest.mark.gen_test(timeout=10)
async def test_database_deleted_while_running_is_written_back(tmp_path, caplog):
    """rm connector.db under a running store: the next check notices (inode) and writes
    the open database back to the path, pending data included."""
    store = StateStore(str(tmp_path / "s"), check_sec=0.02)
    await store.start()
    try:
        store.set("telegram.offset", "77")
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(store.path + suffix)
        await until(lambda: os.path.exists(store.path), 5, "database written back")
        store.set("after", "1")
    finally:
        await store.stop()
    db = sqlite3.connect(store.path)
    try:
        rows = dict(db.execute("SELECT key, value FROM kv").fetchall())
    finally:
        db.close()
    assert rows["telegram.offset"] == "77" and rows["after"] == "1"
    assert "event=state_file_lost" in caplog.text and "reason=deleted" in caplog.text


# --------------------------------------------------------------------------- old pending

@pytest.mark.gen_test(timeout=10)
async def test_a_pending_command_too_old_to_run_is_explained_in_its_chat(tmp_path):
    """A LINE command acknowledged two hours before the restart is not run; its sender
    is told why (never a silent drop), and the row is gone."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fl:
        cfg = webhook_config(tmp_path, line=fl)
        seed = StateStore(cfg.state_dir)
        seed.open()
        from openclaw_connector.channels.pending import PendingInbounds
        chat = ChatRef("line", ALICE_LINE, ALICE_LINE, message_id="m9")
        key = PendingInbounds(seed, "line").add(
            "ev9", Inbound("line", ALICE_LINE, ALICE_LINE, "/run solid seed=7", chat,
                           message_id="m9"))
        row = next(r for r in seed.pending_inbound("line") if r.key == key)
        seed.put_pending(replace(row, created=time.time() - 2 * 3600))
        seed.close()
        inbox = Inbox()
        async with running_stack(cfg, inbox) as stack:
            told = await fl.wait_delivered(1)
            await stack.channels["line"]._tasks.drain(1.0)
            left = stack.state.pending_inbound("line")
    text = told[0]["messages"][0]["text"]
    assert told[0]["api"] == "push" and told[0]["to"] == ALICE_LINE
    assert '"/run solid seed=7"' in text and "was not run" in text and "2 h" in text
    assert inbox.items == [] and left == []


# --------------------------------------------------------------------------- informational

@pytest.mark.gen_test(timeout=10)
async def test_telegram_automatic_forward_is_not_a_command(tmp_path):
    """A linked channel's post forwarded into the group (sender 777000) runs nothing."""
    async with ftg.FakeTelegram() as fake:
        inbox = TgInbox()
        async with running_channel(tmp_path, fake, inbox) as channel:
            forwarded = fake.queue_message("/status", user_id=777000, chat_id=-100123,
                                           chat_type="supergroup", username="Telegram",
                                           is_automatic_forward=True)
            typed = fake.queue_message("/status")
            await channel.wait_handled(forwarded, 5)
            await inbox.wait(1)
            await channel.wait_handled(typed, 5)
    assert [i.chat_id for i in inbox.items] == ["1111"]


@pytest.mark.gen_test(timeout=10)
async def test_comfyui_error_text_reaching_chat_is_scrubbed_and_capped(tmp_path):
    """A node's exception text with an API key and a long digest is relayed without
    them, and at most 300 characters of it."""
    from openclaw_connector.openclaw.types import outcome_from_history
    secret = "sk-live-0123456789abcdefghijklmnopqrstuvwxyz"
    entry = {"status": {"status_str": "error", "messages": [
        ["execution_error", {"node_type": "APINode", "node_id": "4",
                             "exception_message": "auth failed api_key=%s\n%s %s" % (
                                 secret, "deadbeef" * 8, "x " * 400)}]]},
        "outputs": {}}
    outcome = outcome_from_history("p1", {"p1": entry})
    assert secret not in outcome.error_message and "deadbeef" * 8 not in outcome.error_message
    assert "\n" not in outcome.error_message and len(outcome.error_message) <= 300
    assert outcome.error_message.startswith("auth failed api_key=***")


@pytest.mark.gen_test(timeout=15)
async def test_comfyui_error_answer_relayed_to_chat_carries_no_token(tmp_path):
    """An HTTP 500 whose error text holds a key and a wall of text reaches the chat
    scrubbed and capped."""
    from tests.commands.helpers import TOKEN, config
    secret = "sk-live-0123456789abcdefghijklmnopqrstuvwxyz"
    async with FakeOpenClaw(admin_token=TOKEN) as fake:
        async with running_daemon(config(tmp_path, fake.url), console=True) as daemon:
            fake.fail_next(3, 500, {"error": "node crashed: api_key=%s %s" % (
                secret, "lorem " * 400)})
            daemon.pipe.send("/trace abc")
            await daemon.out.wait_for("HTTP 500", timeout=5)
            await settle(20)
            out = daemon.out.text
    line = next(line for line in out.splitlines() if "HTTP 500" in line)
    assert secret not in out and "api_key=***" in line
    assert len(line) < 400


def test_a_full_log_disk_falls_back_to_stderr_and_comes_back(tmp_path):
    """The log file's disk fills: one log_file_failed warning on the fallback stream,
    no line lost, no exception to the caller; with space again the file is used."""
    with small_tmpfs(tmp_path / "logdisk", size="256k") as disk:
        fallback = io.StringIO()
        handler = logmod.setup("INFO", file=str(disk / "c.log"), stream=fallback,
                               retry_sec=0.01)
        try:
            log = logmod.get("flood")
            fill(disk)
            for i in range(40):
                log.info("event=line n=%d pad=%s", i, "x" * 1000)
            os.unlink(disk / "ballast")
            deadline = time.monotonic() + 5
            while "event=log_file_restored" not in (disk / "c.log").read_text():
                assert time.monotonic() < deadline, "the log file was never used again"
                log.info("event=after")
            log.info("event=back")
        finally:
            logging.getLogger().removeHandler(handler)
            handler.close()
        text = (disk / "c.log").read_text()
    assert fallback.getvalue().count("event=log_file_failed") == 1
    seen = fallback.getvalue() + text
    assert all("event=line n=%d " % i in seen for i in range(40))
    assert "event=back" in text
