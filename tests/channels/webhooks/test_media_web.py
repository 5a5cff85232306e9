"""MediaStore signing/serving and the WebServers listeners (shared ports, health,
metrics, the 1 MiB body limit)."""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import time

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from openclaw_connector import config as configmod
from openclaw_connector.media import MediaStore, MediaTooLarge, MediaUnsupported
from openclaw_connector.messages import ChatRef, Image, Reply
from openclaw_connector.metrics import Metrics
from openclaw_connector.web import WebServers
from tests.fakes import line as fline
from tests.channels.webhooks.support import (ALICE_LINE, LINE_SECRET, Inbox, free_port, get, post_line,
                                    raw_exchange, running_stack, webhook_config)
from tests.harness import make_config

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(200)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def media_cfg(tmp_path, **kw):
    values = {"media.public_base_url": "https://pub.example.test", "media.ttl_sec": 300}
    values.update(kw)
    return make_config(str(tmp_path / "state"), **values)


async def media_server(cfg, media):
    """A WebServers with one dummy webhook route, so the media route is mounted."""
    from tornado.web import RequestHandler
    web = WebServers(cfg, media=media, health=lambda: (200, {"ok": True}), metrics=Metrics())
    web.add_route("127.0.0.1", 0, r"/hook", RequestHandler, {})
    await web.start()
    return web, "http://127.0.0.1:%d" % web.bound_port("127.0.0.1", 0)


@pytest.mark.gen_test(timeout=10)
async def test_media_url_valid_expired_tampered_unknown_and_traversal(tmp_path):
    """Valid → 200 with headers; expired → 410; bad/missing sig → 403; unknown → 404;
    names that are not hex ids → 404 without touching the disk."""
    cfg = media_cfg(tmp_path)
    clock = Clock()
    media = MediaStore(cfg.media, cfg.state_dir, "tok", None, clock=clock)
    await media.start()
    web, base = await media_server(cfg, media)
    try:
        path = media.put(PNG, "image/png")
        m = re.fullmatch(r"/media/([0-9a-f]{32})\.png\?exp=(\d+)&sig=([0-9a-f]{64})", path)
        assert m, path
        name, exp, sig = m.group(1) + ".png", m.group(2), m.group(3)
        ok = await get(base + path)
        head = await get(base + path, method="HEAD")
        bad_sig = await get(base + "/media/%s?exp=%s&sig=%s" % (name, exp, "0" * 64))
        no_sig = await get(base + "/media/%s?exp=%s" % (name, exp))
        longer = await get(base + "/media/%s?exp=%d&sig=%s" % (name, int(exp) + 3600, sig))
        other_id = "f" * 32 + ".png"
        unknown = await get(base + "/media/%s?exp=%s&sig=%s" % (
            other_id, exp, media.sign(other_id, int(exp))))
        traversal = [await get(base + p) for p in (
            "/media/..%2Fconnector.db?exp=1&sig=x", "/media/..%2F..%2Fetc%2Fpasswd",
            "/media/%2e%2e%2fmedia.key", "/media/" + "A" * 32 + ".png",
            "/media/%s.exe?exp=%s&sig=%s" % (m.group(1), exp, sig),
            "/media/%s%%0A?exp=%s&sig=%s" % (name, exp, media.sign(name + "\n", int(exp))))]
        clock.now += 301
        expired = await get(base + path)
    finally:
        await web.stop()
        await media.stop()
    assert ok.code == 200 and ok.body == PNG
    assert ok.headers["Content-Type"] == "image/png"
    assert ok.headers["Content-Length"] == str(len(PNG))
    cache = ok.headers["Cache-Control"]
    assert cache.startswith("private, max-age=") and 295 <= int(cache.split("=")[1]) <= 300
    assert head.code == 200 and head.body == b"" and head.headers["Content-Length"] == str(
        len(PNG))
    assert (bad_sig.code, no_sig.code, longer.code) == (403, 403, 403)
    assert unknown.code == 404
    assert [r.code for r in traversal] == [404] * 6
    assert expired.code == 410


@pytest.mark.gen_test(timeout=10)
async def test_media_files_modes_size_limit_and_sweep(tmp_path):
    """0700 dir, 0600 files; over media.max_mb refused; expired files swept at start."""
    cfg = media_cfg(tmp_path, **{"media.max_mb": 0.001})
    clock = Clock()
    media = MediaStore(cfg.media, cfg.state_dir, "tok", None, clock=clock)
    await media.start()
    path = media.put(b"x" * 1000, "image/jpeg")
    name = path.split("/")[2].split("?")[0]
    file = os.path.join(media.dir, name)
    assert stat.S_IMODE(os.stat(media.dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(file).st_mode) == 0o600 and name.endswith(".jpg")
    with pytest.raises(MediaTooLarge):
        media.put(b"x" * 2000, "image/png")
    with pytest.raises(MediaUnsupported):
        media.put(b"x", "text/html")
    assert os.listdir(media.dir) == [name]
    await media.stop()
    old = time.time() - 301
    os.utime(file, (old, old))
    restarted = MediaStore(cfg.media, cfg.state_dir, "tok", None)
    await restarted.start()
    await restarted.stop()
    assert os.listdir(media.dir) == []


@pytest.mark.gen_test(timeout=10)
async def test_signing_key_survives_restart_with_and_without_admin_token(tmp_path):
    """Random key kept in state_dir (0600); HKDF key from the admin token; URLs stay valid."""
    cfg = media_cfg(tmp_path)
    first = MediaStore(cfg.media, cfg.state_dir, None, None)
    await first.start()
    path = first.put(PNG, "image/png")
    key_file = os.path.join(cfg.state_dir, "media.key")
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert len(open(key_file, "rb").read()) == 32
    second = MediaStore(cfg.media, cfg.state_dir, None, None)
    await second.start()
    name = path.split("/")[2].split("?")[0]
    exp, sig = re.search(r"exp=(\d+)&sig=(\w+)", path).groups()
    assert second.check(name, exp, sig)[0] == 200
    tok_a = MediaStore(cfg.media, cfg.state_dir, "admin-A", None)
    tok_a2 = MediaStore(cfg.media, cfg.state_dir, "admin-A", None)
    tok_b = MediaStore(cfg.media, cfg.state_dir, "admin-B", None)
    for m in (tok_a, tok_a2, tok_b):
        await m.start()
    signed = tok_a.sign(name, int(exp))
    assert tok_a2.check(name, exp, signed)[0] == 200
    assert tok_b.check(name, exp, signed)[0] == 403
    assert second.check(name, exp, signed)[0] == 403
    for m in (first, second, tok_a, tok_a2, tok_b):
        await m.stop()


@pytest.mark.gen_test(timeout=10)
async def test_oversize_image_is_replaced_by_a_note(tmp_path):
    """An image over media.max_mb is not stored; the user gets a text saying so."""
    async with fline.FakeLine(access_token="line-access-token-abcdefghijklmnop") as fake:
        cfg = webhook_config(tmp_path, line=fake, **{"media.max_mb": 0.001})
        async with running_stack(cfg, Inbox()) as stack:
            await stack.channels["line"].send(
                ChatRef("line", ALICE_LINE, ALICE_LINE),
                Reply("done", (Image("big.png", b"x" * 5000), Image("ok.png", b"y" * 10))))
            stored = os.listdir(stack.media.dir)
    kinds = [m["type"] for m in fake.delivered[0]["messages"]]
    assert kinds == ["text", "image"] and len(stored) == 1
    assert "too large" in fake.delivered[0]["messages"][0]["text"]


@pytest.mark.gen_test(timeout=10)
async def test_two_channels_share_one_server_and_health_is_mounted(tmp_path):
    """LINE + WhatsApp on the same bind:port (port 0) → one server; a bare /healthz there
    (200 ``ok`` for a tunnel's probe, nothing from the daemon's own health)."""
    from tests.fakes import whatsapp as fwa
    async with fline.FakeLine() as fl, fwa.FakeWhatsApp() as fw:
        cfg = webhook_config(tmp_path, line=fl, wa=fw)
        async with running_stack(cfg, Inbox(), health=lambda: (503, {"ok": False})) as stack:
            assert len(stack.web._servers) == 1
            assert stack.url("line").rsplit(":", 1)[1].split("/")[0] == \
                stack.url("whatsapp").rsplit(":", 1)[1].split("/")[0]
            health = await get(stack.url("line", "/healthz"))
            metrics = await get(stack.url("line", "/metrics"))
    assert health.code == 200 and health.body == b"ok\n"
    assert metrics.code == 404


@pytest.mark.gen_test(timeout=10)
async def test_separate_ports_and_status_server(tmp_path):
    """Different ports → two servers; status.port → /healthz and /metrics, no media."""
    from tests.fakes import whatsapp as fwa
    async with fline.FakeLine() as fl, fwa.FakeWhatsApp() as fw:
        cfg = webhook_config(tmp_path, line=fl, wa=fw)
        cfg = configmod.with_overrides(cfg, whatsapp={"port": free_port()},
                                       status={"port": free_port()})
        async with running_stack(cfg, Inbox()) as stack:
            stack.metrics.inc("probe_total", help="a probe")
            assert len(stack.web._servers) == 3
            status_base = "http://127.0.0.1:%d" % cfg.status.port
            metrics = await get(status_base + "/metrics")
            health = await get(status_base + "/healthz")
            media = await get(status_base + "/media/" + "a" * 32 + ".png")
            hook = await get(stack.url("whatsapp", "/healthz"))
    assert metrics.code == 200
    assert metrics.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert b"openclaw_connector_probe_total 1" in metrics.body
    assert health.code == 200 and json.loads(health.body) == {"ok": True}
    assert media.code == 404 and hook.code == 200


@pytest.mark.gen_test(timeout=10)
async def test_bind_failure_raises_and_releases(tmp_path):
    """A port in use raises OSError from start() (a configuration problem)."""
    import socket
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    cfg = make_config(str(tmp_path / "s"), **{"status.port": port})
    web = WebServers(cfg, media=None, health=lambda: (200, {}), metrics=Metrics())
    try:
        with pytest.raises(OSError) as info:
            await web.start()
    finally:
        blocker.close()
    assert web._servers == {}
    assert info.value.errno == errno.EADDRINUSE
    assert info.value.strerror == "127.0.0.1:%d: Address already in use" % port


@pytest.mark.gen_test(timeout=10)
async def test_oversized_body_gets_413_before_it_is_sent(tmp_path):
    """Content-Length over 1 MiB → 413 at once, without the server waiting for the body."""
    async with fline.FakeLine() as fake:
        inbox = Inbox()
        async with running_stack(webhook_config(tmp_path, line=fake), inbox) as stack:
            port = stack.web.bound_port("127.0.0.1", 0)
            answer = await raw_exchange(port, (
                b"POST /line/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"X-Line-Signature: abc\r\nContent-Length: %d\r\n\r\n" % (2 << 20)))
            chunk = b"a" * (600 << 10)
            chunked = await raw_exchange(port, (
                b"POST /line/webhook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                + (b"%x\r\n%s\r\n" % (len(chunk), chunk)) * 2))
            client = AsyncHTTPClient(force_instance=True)
            try:
                full = await client.fetch(HTTPRequest(
                    stack.url("line"), method="POST", body=b"{" + b" " * (2 << 20) + b"}",
                    headers={"X-Line-Signature": "x"}, expect_100_continue=True,
                    request_timeout=5), raise_error=False)
            finally:
                client.close()
            under = b'{"events":[],"pad":"' + b"p" * ((1 << 20) - 40) + b'"}'
            fits = await post_line(stack.url("line"), under)
    assert answer.startswith(b"HTTP/1.1 413")
    assert chunked.startswith(b"HTTP/1.1 413")
    assert full.code == 413
    assert len(under) <= 1 << 20 and fits.code == 200
    assert inbox.items == []


@pytest.mark.gen_test(timeout=10)
async def test_access_log_has_path_only(tmp_path, caplog):
    """Tornado's access line goes through our log function: no query string."""
    import logging
    caplog.set_level(logging.INFO)
    async with fline.FakeLine() as fake:
        async with running_stack(webhook_config(tmp_path, line=fake), Inbox()) as stack:
            await get(stack.url("line", "/media/" + "a" * 32 + ".png?exp=1&sig=SECRETSIG"))
            body = fline.body_of()
            await post_line(stack.url("line", "/line/webhook?token=QUERYSECRET"), body,
                            secret=LINE_SECRET)
    assert "event=http_request method=GET path=/media/" in caplog.text
    assert "SECRETSIG" not in caplog.text and "QUERYSECRET" not in caplog.text


def test_stdlib_hkdf_derives_the_key_cryptography_derives():
    """media.hkdf_sha256 equals cryptography's HKDF (SHA-256, no salt, 32 bytes), so URLs
    signed before the switch stay valid."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    from openclaw_connector.media import HKDF_INFO, hkdf_sha256

    for token in (b"t", b"footprint-admin-token-0123456789", "ключ".encode(), b"x" * 300):
        expected = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                        info=HKDF_INFO).derive(token)
        assert hkdf_sha256(token, HKDF_INFO) == expected
