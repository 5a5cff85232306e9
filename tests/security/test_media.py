"""Signed media URLs under attack, through the daemon's own webhook server.

Forgery (changed expiry, a signature reused on another id or extension,
truncated, padded, upper-cased, another key's), path traversal (``../``,
``%2e%2e``, encoded slashes, absolute paths, NUL, non-hex ids), methods
(HEAD = headers without a body, everything else but GET 405), expired → 410,
unknown → 404, and no existence oracle: a bad signature is 403 whether or not
the id exists. tests/channels/webhooks/test_media_web.py covers the basic cases with
the MediaStore alone; these go through the running daemon.
"""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from openclaw_connector.media import MediaStore
from tests.security.support import CASTS, DRIVERS, PUBLIC, all_fakes, config, http, running
from tests.harness import make_config

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def _split(signed: str) -> tuple[str, int, str]:
    m = re.fullmatch(r"/media/([0-9a-f]{32}\.png)\?exp=(\d+)&sig=([0-9a-f]{64})", signed)
    assert m, signed
    return m.group(1), int(m.group(2)), m.group(3)


@pytest.mark.gen_test(timeout=20)
async def test_signed_media_urls_resist_forgery_traversal_and_odd_methods(tmp_path):
    async with all_fakes() as fakes:
        cfg = config(tmp_path, fakes, ("line",))
        async with running(cfg, fakes) as run:
            media = run.daemon.media
            base = run.webhook_url("line").rsplit("/", 2)[0]
            one, two = media.put(PNG, "image/png"), media.put(PNG[::-1], "image/png")
            name, exp, sig = _split(one)
            name2, exp2, sig2 = _split(two)
            other_key = MediaStore(cfg.media, str(tmp_path / "other"), "another-admin-token")
            await other_key.start()
            jpg = name.replace(".png", ".jpg")
            unknown = "0" * 32 + ".png"

            async def code(path: str, **kw) -> int:
                return (await http(base + path, **kw)).code

            def url(n: str, e, s: str) -> str:
                return "/media/%s?exp=%s&sig=%s" % (n, e, s)

            ok = await http(base + one)
            assert ok.code == 200 and ok.body == PNG
            forgeries = {
                "longer exp": url(name, exp + 3600, sig),
                "shorter exp": url(name, exp - 1, sig),
                "exp with sign": url(name, "%%2B%d" % exp, sig),        # "+" itself is a space
                "superscript exp": url(name, "\u00b2", sig),        # str.isdigit() is True
                "arabic-indic exp": url(name, "\u0661\u0662", sig),
                "sig of the other id": url(name, exp, sig2),
                "sig moved to the other id": url(name2, exp, sig),
                "other extension": url(jpg, exp, sig),
                "truncated sig": url(name, exp, sig[:-1]),
                "half sig": url(name, exp, sig[:32]),
                "padded sig": url(name, exp, sig + "0"),
                "upper-case sig": url(name, exp, sig.upper()),
                "empty sig": url(name, exp, ""),
                "no sig": "/media/%s?exp=%d" % (name, exp),
                "no exp": "/media/%s?sig=%s" % (name, sig),
                "another key": url(name, exp, other_key.sign(name, exp)),
                "unknown id, bad sig": url(unknown, exp, sig),
                "expired, bad sig": url(name, int(time.time()) - 5, sig),
            }
            got = {label: await code(path) for label, path in forgeries.items()}
            assert got == {label: 403 for label in forgeries}, got
            # "$" in a regex also matches before a final newline: refused either way.
            assert await code(url(name + "%0A", exp, sig)) in (403, 404)

            traversal = {
                "dotdot": "/media/../connector.db",
                "encoded dotdot": "/media/%2e%2e%2fmedia.key",
                "encoded slash": "/media/..%2F..%2Fetc%2Fpasswd",
                "double encoded": "/media/%252e%252e%252fmedia.key",
                "absolute": "/media//etc/passwd",
                "backslash": "/media/..%5Cmedia.key",
                "nul": "/media/%s%%00.png" % name[:-4],
                "upper-case hex": url(name.upper().replace(".PNG", ".png"), exp, sig),
                "short id": url(name[1:], exp, sig),
                "key file": url("media.key", exp, sig),
                "state db": url("state.db", exp, sig),
                "exe": url(name[:-4] + ".exe", exp, sig),
                "no extension": url(name[:-4], exp, sig),
            }
            got = {label: await code(path) for label, path in traversal.items()}
            assert all(c == 404 for c in got.values()), got

            expired_exp = int(time.time()) - 1
            assert await code(url(name, expired_exp, media.sign(name, expired_exp))) == 410
            assert await code(url(unknown, exp, media.sign(unknown, exp))) == 404

            head = await http(base + one, method="HEAD")
            assert head.code == 200 and head.body == b""
            assert head.headers["Content-Length"] == str(len(PNG))
            assert head.headers["Content-Type"] == "image/png"
            assert head.headers["X-Content-Type-Options"] == "nosniff"
            assert head.headers["Cache-Control"].startswith("private, max-age=")
            methods = {m: await code(one, method=m, body=b"x" if m in ("POST", "PUT", "PATCH")
                                     else None)
                       for m in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS")}
            assert methods == {m: 405 for m in methods}, methods
            denied = await http(base + url(name, exp, sig[:-1]))
            assert denied.body == b"" and denied.headers["Cache-Control"] == "no-store"
            assert "Server" not in denied.headers
            # Nothing above changed or removed the stored files.
            assert (await http(base + one)).body == PNG
            assert (await http(base + two)).body == PNG[::-1]
            await other_key.stop()


def test_check_rejects_every_non_ascii_digit_expiry_without_raising(tmp_path):
    """MediaStore.check() is the only gate; no exp string may make it raise."""
    cfg = make_config(str(tmp_path / "state"))
    media = MediaStore(cfg.media, cfg.state_dir, "tok")
    asyncio.run(media.start())
    name = "a" * 32 + ".png"
    for exp in ["\u00b2", "\u0661", "\u2467", "\uff11", "1\u00b2", "１２３", "1" * 13, "-1",
                " 1", "1 ", "0x10", "1e3", ""]:
        assert media.check(name, exp, "0" * 64)[0] == 403, exp
    asyncio.run(media.stop())


@pytest.mark.gen_test(timeout=20)
async def test_image_urls_delivered_to_line_and_whatsapp_work_once_and_not_modified(tmp_path):
    """A finished job's image goes to LINE and WhatsApp as a signed URL under
    media.public_base_url; that exact URL serves the bytes (GET and HEAD), and the same
    URL with the other image's signature, a later expiry or a cut signature does not."""
    async with all_fakes() as fakes:
        oc = fakes.oc
        oc.register_view("out.png", PNG)
        cfg = config(tmp_path, fakes, ("line", "whatsapp"))
        async with running(cfg, fakes) as run:
            base = run.webhook_url("line").rsplit("/", 2)[0]
            urls = []
            for name, key in (("line", "originalContentUrl"), ("whatsapp", "link")):
                reply = await DRIVERS[name](run).say(CASTS[name].admin, "/run portrait")
                pid = re.search(r"Prompt: (\S+)", reply).group(1)
                oc.finish_job(pid, images=["out.png"])
                if name == "line":
                    await fakes.line.wait_until(lambda: any(
                        m["type"] == "image" for d in fakes.line.delivered
                        for m in d["messages"]), what="LINE image")
                    urls += [m[key] for d in fakes.line.delivered for m in d["messages"]
                             if m["type"] == "image"]
                else:
                    await fakes.wa.wait_until(lambda: any(
                        b.get("type") == "image" for b in fakes.wa.sent), what="WA image")
                    urls += [b["image"][key] for b in fakes.wa.sent if b.get("type") == "image"]
            assert len(urls) == 2 and all(u.startswith(PUBLIC + "/media/") for u in urls)
            local = [base + u[len(PUBLIC):] for u in urls]
            for url in local:
                got = await http(url)
                assert got.code == 200 and got.body == PNG
                head = await http(url, method="HEAD")
                assert head.code == 200 and head.body == b""
            (n1, e1, s1), (n2, e2, s2) = [_split(u[len(PUBLIC):]) for u in urls]
            for path in ("/media/%s?exp=%d&sig=%s" % (n1, e1, s2),
                         "/media/%s?exp=%d&sig=%s" % (n2, e2, s1),
                         "/media/%s?exp=%d&sig=%s" % (n1, e1 + 1, s1),
                         "/media/%s?exp=%d&sig=%s" % (n1, e1, s1[:40])):
                assert (await http(base + path)).code == 403, path
