"""Video and animation out (issue 19, interactive.md §4): the ``anim`` template's
animated WEBP and an mp4 (core ComfyUI lists both under ``images`` with
``animated: [true]``) reach each platform natively, as a file, or as a signed
link; a GIF goes to Telegram's sendAnimation."""

from __future__ import annotations

import pytest

from tests.channels.discord.conftest import discord_config, ready
from tests.channels.webhooks.support import (ADMIN_TOKEN, ALICE_LINE, ALICE_WA, LINE_TOKEN,
                                             PUBLIC, WA_TOKEN, free_port, post_line, post_wa,
                                             webhook_config)
from tests.fakes import line as fline
from tests.fakes import whatsapp as fwa
from tests.fakes.discord import CHANNEL_ID, GUILD_ID, USER_ID
from tests.fakes.openclaw_media import finish_like_comfy, png
from tests.fakes.telegram import FakeTelegram
from tests.media.support import ADMIN, media_openclaw, tg_config
from tests.support import running_daemon
from tests.harness import webhook_url

MP4 = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom" + b"\0" * 200
GIF = b"GIF89a\x10\x00\x10\x00" + b"\0" * 40


def finish_with(oc, name: str, data: bytes, *, still: bool = False) -> None:
    """End the running job with one animated output (and a still first, if asked)."""
    oc.register_view(name, data, subfolder="video")
    images = [{"filename": name, "subfolder": "video", "type": "output"}]
    outputs = {"9": {"images": images, "animated": [True]}}
    if still:
        oc.register_view("frame.png", png(32, 32))
        outputs["8"] = {"images": [{"filename": "frame.png", "subfolder": "", "type": "output"}]}
    oc.model.finish(None, outputs=outputs, duration=0.5)


# --------------------------------------------------------------------------- Telegram

@pytest.mark.gen_test(timeout=20)
async def test_telegram_gets_anim_as_document_mp4_as_video_and_gif_as_animation(tmp_path):
    async with media_openclaw() as oc, FakeTelegram() as tg:
        async with running_daemon(tg_config(tmp_path, tg, oc)):
            tg.queue_message("/run anim", user_id=ADMIN)
            await tg.next_answered("sendMessage", timeout=10)
            finish_like_comfy(oc)
            document = await tg.next_answered("sendDocument", timeout=10)
            for name, data, method in (("clip_00001_.mp4", MP4, "sendVideo"),
                                       ("loop_00001_.gif", GIF, "sendAnimation")):
                tg.queue_message("/run portrait a fox", user_id=ADMIN)
                await tg.wait_until(lambda: oc.model.running is not None, timeout=10)
                finish_with(oc, name, data)
                sent = await tg.next_answered(method, timeout=10)
                part = "video" if method == "sendVideo" else "animation"
                assert sent.status == 200 and sent.files[part].data == data
                assert sent.files[part].filename == name
        assert document.files["document"].filename == "openclaw_anim_00001_.webp"
        assert document.files["document"].data.startswith(b"RIFF")
        assert tg.count("sendPhoto") == 0


# --------------------------------------------------------------------------- Discord

@pytest.mark.gen_test(timeout=20)
async def test_discord_gets_anim_and_mp4_as_attachments(fake_discord, tmp_path):
    fake = fake_discord
    async with media_openclaw() as oc:
        cfg = discord_config(fake, tmp_path / "state", openclaw__url=oc.url,
                             discord__allowed_channels=[CHANNEL_ID],
                             admin_users=["discord:%s" % USER_ID],
                             results__poll_min_sec=0.02, results__poll_max_sec=0.1)
        async with running_daemon(cfg):
            await ready(fake)
            fake.message_create("/run anim", guild_id=GUILD_ID)
            await fake.next_send(1, timeout=10)
            finish_like_comfy(oc)
            anim = await fake.next_send(2, timeout=10)
            fake.message_create("/run portrait a fox", guild_id=GUILD_ID)
            await fake.next_send(3, timeout=10)
            finish_with(oc, "clip_00001_.mp4", MP4)
            video = await fake.next_send(4, timeout=10)
    assert [(f[1], f[2]) for f in anim.files] == [("openclaw_anim_00001_.webp", "image/webp")]
    assert [(f[1], f[2], f[3]) for f in video.files] == [("clip_00001_.mp4", "video/mp4", MP4)]


# --------------------------------------------------------------------------- LINE, WhatsApp

@pytest.mark.gen_test(timeout=20)
async def test_line_gets_anim_as_link_and_mp4_as_video_with_a_preview(tmp_path):
    async with fline.FakeLine(access_token=LINE_TOKEN) as fl, media_openclaw() as oc:
        oc.admin_token = ADMIN_TOKEN
        cfg = webhook_config(tmp_path, line=fl, **{
            "openclaw.url": oc.url, "admin_users": ["line:%s" % ALICE_LINE],
            "results.poll_min_sec": 0.02, "results.poll_max_sec": 0.1})
        async with running_daemon(cfg) as daemon:
            await post_line(webhook_url(daemon, "line"),
                            fline.body_of(fline.text_event("/run anim")))
            await fl.wait_delivered(1)
            finish_like_comfy(oc)
            anim = (await fl.wait_delivered(2))[1]
            await post_line(webhook_url(daemon, "line"),
                            fline.body_of(fline.text_event("/run portrait")))
            await fl.wait_delivered(3)
            finish_with(oc, "clip_00001_.mp4", MP4)
            video = (await fl.wait_delivered(4))[3]
    text = anim["messages"][0]["text"]
    assert "Animation openclaw_anim_00001_.webp: %s/media/" % PUBLIC in text
    # The result's Again/Details buttons (issue 17) ride in a template after the media.
    assert [m["type"] for m in video["messages"]] == ["text", "video", "template"]
    clip = video["messages"][1]
    assert clip["originalContentUrl"].startswith(PUBLIC + "/media/")
    assert ".mp4?" in clip["originalContentUrl"]
    assert clip["previewImageUrl"].startswith(PUBLIC + "/media/") and \
        ".png?" in clip["previewImageUrl"]


@pytest.mark.gen_test(timeout=20)
async def test_whatsapp_gets_anim_as_link_and_mp4_as_video(tmp_path):
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fw, media_openclaw() as oc:
        oc.admin_token = ADMIN_TOKEN
        cfg = webhook_config(tmp_path, wa=fw, **{
            "openclaw.url": oc.url, "admin_users": ["whatsapp:%s" % ALICE_WA],
            "results.poll_min_sec": 0.02, "results.poll_max_sec": 0.1})
        async with running_daemon(cfg) as daemon:
            notify = fwa.notification(messages=(fwa.text_message(ALICE_WA, "/run anim"),))
            await post_wa(webhook_url(daemon, "whatsapp"), notify)
            await fw.wait_sent(1)
            finish_like_comfy(oc)
            await fw.wait_sent(2)
            notify = fwa.notification(messages=(fwa.text_message(ALICE_WA, "/run portrait"),))
            await post_wa(webhook_url(daemon, "whatsapp"), notify)
            await fw.wait_sent(3)
            finish_with(oc, "clip_00001_.mp4", MP4)
            sent = await fw.wait_sent(5)
    assert "Animation openclaw_anim_00001_.webp: %s/media/" % PUBLIC in _wa_text(sent[1])
    # The result's text carries its Again/Details reply buttons (issue 17).
    assert [b["type"] for b in sent[3:]] == ["interactive", "video"]
    assert sent[4]["video"]["link"].startswith(PUBLIC + "/media/")


@pytest.mark.gen_test(timeout=20)
async def test_without_public_base_url_a_video_is_a_clear_note_not_a_silent_drop(tmp_path):
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fw, media_openclaw() as oc:
        oc.admin_token = ADMIN_TOKEN
        cfg = webhook_config(tmp_path, wa=fw, public=False, **{
            "openclaw.url": oc.url, "admin_users": ["whatsapp:%s" % ALICE_WA],
            "results.poll_min_sec": 0.02, "results.poll_max_sec": 0.1})
        async with running_daemon(cfg) as daemon:
            notify = fwa.notification(messages=(fwa.text_message(ALICE_WA, "/run portrait"),))
            await post_wa(webhook_url(daemon, "whatsapp"), notify)
            await fw.wait_sent(1)
            finish_with(oc, "clip_00001_.mp4", MP4)
            sent = await fw.wait_sent(2)
    assert "Video clip_00001_.mp4 is ready but cannot be delivered here: set " \
        "media.public_base_url" in _wa_text(sent[1])


@pytest.mark.gen_test(timeout=20)
async def test_discord_file_over_the_upload_limit_becomes_a_signed_link(fake_discord, tmp_path):
    """Over ``discord.max_file_mb`` with ``media.public_base_url`` set: a link, not a drop."""
    fake = fake_discord
    async with media_openclaw() as oc:
        cfg = discord_config(fake, tmp_path / "state", openclaw__url=oc.url,
                             discord__allowed_channels=[CHANNEL_ID],
                             admin_users=["discord:%s" % USER_ID],
                             discord__max_file_mb=0.0001, status__port=free_port(),
                             media__public_base_url=PUBLIC,
                             results__poll_min_sec=0.02, results__poll_max_sec=0.1)
        async with running_daemon(cfg):
            await ready(fake)
            fake.message_create("/run portrait a fox", guild_id=GUILD_ID)
            await fake.next_send(1, timeout=10)
            finish_with(oc, "clip_00001_.mp4", MP4)
            sent = await fake.next_send(2, timeout=10)
    assert sent.files == []
    assert "clip_00001_.mp4 (0.0 MB, over the Discord upload limit): %s/media/" % PUBLIC \
        in sent.content


@pytest.mark.gen_test(timeout=20)
async def test_line_video_preview_is_the_jobs_first_still_image(tmp_path):
    async with fline.FakeLine(access_token=LINE_TOKEN) as fl, media_openclaw() as oc:
        oc.admin_token = ADMIN_TOKEN
        cfg = webhook_config(tmp_path, line=fl, **{
            "openclaw.url": oc.url, "admin_users": ["line:%s" % ALICE_LINE],
            "results.poll_min_sec": 0.02, "results.poll_max_sec": 0.1})
        async with running_daemon(cfg) as daemon:
            await post_line(webhook_url(daemon, "line"),
                            fline.body_of(fline.text_event("/run portrait")))
            await fl.wait_delivered(1)
            finish_with(oc, "clip_00001_.mp4", MP4, still=True)
            result = (await fl.wait_delivered(2))[1]
    kinds = [m["type"] for m in result["messages"]]
    assert kinds == ["text", "image", "video", "template"], kinds   # + the result's buttons
    image, video = result["messages"][1], result["messages"][2]
    assert video["previewImageUrl"] == image["originalContentUrl"]


def _wa_text(body: dict) -> str:
    """A WhatsApp text body's words, also when it carries reply buttons (interactive)."""
    if body["type"] == "interactive":
        return body["interactive"]["body"]["text"]
    return body["text"]["body"]
