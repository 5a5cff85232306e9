"""Previews on the live card (issue 16, ``progress.previews``): the card becomes a photo of
ComfyUI's latest preview frame (Telegram editMessageMedia, then captions; Discord
attachment replace), at most every 5 s; off by default."""

from __future__ import annotations

import json
import struct

import pytest

from openclaw_connector.jobs.runs import parse_preview
from tests.fakes.telegram import FakeTelegram
from tests.jobs.support import GatedFake, TOKEN
from tests.jobs.test_card import CHAT, _card_id, _cfg, _edits, _queued
from tests.harness import running_daemon, until

JPEG = b"\xff\xd8\xff\xe0" + b"preview-1" * 20
JPEG2 = b"\xff\xd8\xff\xe0" + b"preview-2" * 20


def test_parse_preview_frames():
    assert parse_preview(struct.pack(">II", 1, 1) + JPEG) == (JPEG, "image/jpeg")
    assert parse_preview(struct.pack(">II", 1, 2) + b"png") == (b"png", "image/png")
    meta = json.dumps({"node_id": "3", "prompt_id": "p", "image_type": "image/png"}).encode()
    assert parse_preview(struct.pack(">II", 4, len(meta)) + meta + b"png") == (b"png",
                                                                               "image/png")
    text = struct.pack(">II", 3, 1) + b"3hello"          # PROGRESS_TEXT: not a preview
    assert parse_preview(text) is None and parse_preview(b"\0\0") is None
    assert parse_preview(struct.pack(">II", 1, 9) + JPEG) is None


@pytest.mark.gen_test(timeout=20)
async def test_telegram_card_becomes_the_preview_photo_then_captions(tmp_path):
    async with GatedFake(admin_token=TOKEN) as oc, FakeTelegram() as tg:
        async with running_daemon(_cfg(tmp_path, oc, tg, progress__previews=True,
                                       progress__min_interval_sec=0)):
            tg.queue_message("/run portrait", chat_id=int(CHAT))
            pid = await _queued(tg, oc, set())
            card = _card_id(tg, pid)
            await until(lambda: oc.runs.attached_to(pid))
            oc.runs.executing("3")
            oc.runs.progress(5, 30, node="3")
            await tg.wait_until(lambda: any("5/30" in t for t in _edits(tg, card)))
            assert oc.runs.preview(JPEG)
            await tg.wait_until(lambda: len(tg.media_edits) == 1)
            assert oc.runs.preview(JPEG2)                # within 5 s: not shown yet
            oc.runs.progress(6, 30, node="3")
            await tg.wait_until(lambda: any("6/30" in t for t in _edits(tg, card)))
            oc.finish_job(pid)
            await tg.wait_until(lambda: any(t.startswith("[Done]") for t in tg.texts(CHAT)))
            await tg.wait_until(lambda: _edits(tg, card)[-1].startswith("[Done] portrait"))
    ((chat, mid, name, data),) = tg.media_edits
    assert (chat, mid, name, data) == (CHAT, card, "preview.jpg", JPEG)
    media = json.loads(tg.calls("editMessageMedia")[0].params["media"])
    assert media["type"] == "photo" and "KSampler 5/30" in media["caption"]
    after = [r for r in tg.requests if r.key.startswith("edit")]
    after = after[[r.key for r in after].index("editmessagemedia") + 1:]
    assert after and {r.key for r in after} == {"editmessagecaption"}
    assert all(r.status == 200 for r in after)


@pytest.mark.gen_test(timeout=20)
async def test_previews_off_by_default_frames_ignored(tmp_path):
    async with GatedFake(admin_token=TOKEN) as oc, FakeTelegram() as tg:
        async with running_daemon(_cfg(tmp_path, oc, tg, progress__min_interval_sec=0)):
            tg.queue_message("/run portrait", chat_id=int(CHAT))
            pid = await _queued(tg, oc, set())
            card = _card_id(tg, pid)
            await until(lambda: oc.runs.attached_to(pid))
            assert oc.runs.preview(JPEG)
            oc.runs.executing("3")
            oc.runs.progress(7, 30, node="3")
            await tg.wait_until(lambda: any("7/30" in t for t in _edits(tg, card)))
    assert tg.media_edits == [] and tg.count("editMessageMedia") == 0


@pytest.mark.gen_test(timeout=20)
async def test_discord_card_preview_replaces_the_attachment(tmp_path):
    from tests.channels.discord.conftest import ready
    from tests.fakes.discord import CHANNEL_ID, GUILD_ID, USER_ID, FakeDiscord
    from tests.jobs.support import jobs_config
    fake = FakeDiscord(heartbeat_interval_ms=50).start()
    try:
        async with GatedFake(admin_token=TOKEN) as oc:
            cfg = jobs_config(tmp_path, oc, discord__token=fake.token,
                              discord__api_base=fake.api_base,
                              discord__allowed_channels=[CHANNEL_ID],
                              admin_users=["discord:%s" % USER_ID],
                              progress__min_interval_sec=0, progress__previews=True)
            async with running_daemon(cfg):
                await ready(fake)
                fake.message_create("/run portrait", guild_id=GUILD_ID)
                await fake.next_send(1)
                pid = oc.model.running.prompt_id
                await until(lambda: oc.runs.attached_to(pid))
                oc.runs.executing("3")
                oc.runs.progress(3, 30, node="3")
                oc.runs.preview(JPEG)
                await fake.wait_for(lambda: any(e.files for e in fake.edits), what="preview")
                oc.runs.progress(4, 30, node="3")
                await fake.wait_for(lambda: "4/30" in fake.edits[-1].content, what="4/30")
    finally:
        fake.stop()
    (with_file,) = [e for e in fake.edits if e.files]
    assert with_file.payload["attachments"] == [{"id": 0, "filename": "preview.jpg"}]
    assert with_file.files == [("files[0]", "preview.jpg", "image/jpeg", JPEG)]
    assert "attachments" not in fake.edits[-1].payload          # text edits keep the photo
