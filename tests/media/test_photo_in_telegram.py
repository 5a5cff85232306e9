"""Photo in on Telegram (issue 19): a photo with a ``/run`` caption, a ``/run`` that
replies to a photo, the last photo within ``media.input_window_sec``; the bounded,
checked download; the uploaded file bound to the template's LoadImage input."""

from __future__ import annotations

import logging

import pytest

from tests.fakes.openclaw_media import finish_like_comfy
from tests.fakes.telegram import FakeTelegram
from tests.media.support import (ADMIN, PHOTO, fired_inputs, media_openclaw, submitted_graph,
                                 tg_config)
from tests.support import running_daemon


@pytest.mark.gen_test(timeout=15)
async def test_photo_with_run_caption_uploads_the_photo_and_binds_loadimage(tmp_path, caplog):
    """The uploaded bytes are the photo's; the job's LoadImage names the returned file;
    the bot token appears in no log line although the download URL carries it."""
    caplog.set_level(logging.DEBUG)
    async with media_openclaw() as oc, FakeTelegram() as tg:
        async with running_daemon(tg_config(tmp_path, tg, oc)):
            tg.files.queue_photo(PHOTO, caption="/run invert", user_id=ADMIN)
            queued = await tg.next_answered("sendMessage", timeout=10)
            assert queued.params["text"].startswith("[Queued] invert"), queued.params
            assert len(oc.uploads) == 1
            subfolder, name, data = oc.uploads[0]
            assert data == PHOTO and subfolder == "openclaw"
            assert name == "telegram_%d_1.png" % ADMIN     # generated, never the user's
            assert fired_inputs(oc) == [{"image": "openclaw/" + name}]
            assert submitted_graph(oc)["1"]["inputs"]["image"] == "openclaw/" + name
            finish_like_comfy(oc)
            result = await tg.next_answered("sendPhoto", timeout=10)
            assert result.status == 200
    assert tg.token not in caplog.text
    assert tg.token.split(":")[1] not in caplog.text
    assert "event=photo_uploaded" in caplog.text


@pytest.mark.gen_test(timeout=15)
async def test_run_replying_to_a_photo_uses_that_photo(tmp_path):
    """``/run invert`` as a reply to a photo binds the replied photo (no window needed)."""
    async with media_openclaw() as oc, FakeTelegram() as tg:
        cfg = tg_config(tmp_path, tg, oc, **{"media.input_window_sec": 0.001})
        async with running_daemon(cfg):
            other = tg.files.add(PHOTO)
            replied = {"message_id": 7, "date": 1, "chat": {"id": ADMIN, "type": "private"},
                       "from": {"id": 5, "is_bot": False, "first_name": "B"},
                       "photo": [{"file_id": other.file_id, "file_unique_id": "x",
                                  "width": 640, "height": 480}]}
            tg.queue_message("/run invert", user_id=ADMIN, reply_to_message=replied)
            queued = await tg.next_answered("sendMessage", timeout=10)
        assert queued.params["text"].startswith("[Queued] invert"), queued.params
        assert [u[1:] for u in oc.uploads] == [("telegram_%d_7.png" % ADMIN, PHOTO)]


@pytest.mark.gen_test(timeout=15)
async def test_last_photo_within_the_window_is_used_and_a_lone_photo_gets_no_answer(tmp_path):
    """A photo alone is kept silently; ``/run invert`` then uses it; a template without
    an image input ignores a remembered photo, and refuses one given explicitly."""
    async with media_openclaw() as oc, FakeTelegram() as tg:
        async with running_daemon(tg_config(tmp_path, tg, oc)):
            tg.files.queue_photo(PHOTO, user_id=ADMIN)
            tg.queue_message("/run invert", user_id=ADMIN)
            first = await tg.next_answered("sendMessage", timeout=10)
            tg.queue_message("/run portrait a fox", user_id=ADMIN)
            second = await tg.next_answered("sendMessage", timeout=10)
            tg.files.queue_photo(PHOTO, caption="/run portrait a fox", user_id=ADMIN)
            third = await tg.next_answered("sendMessage", timeout=10)
        assert first.params["text"].startswith("[Queued] invert")
        assert second.params["text"].startswith("[Queued] portrait")
        assert third.params["text"].startswith("Template portrait takes no image input")
        assert "invert" in third.params["text"]
        assert len(tg.texts(ADMIN)) == 3            # the lone photo got no answer
        assert len(oc.uploads) == 1


@pytest.mark.gen_test(timeout=15)
async def test_template_needing_a_photo_without_one_is_refused_with_a_hint(tmp_path):
    async with media_openclaw() as oc, FakeTelegram() as tg:
        async with running_daemon(tg_config(tmp_path, tg, oc)):
            tg.queue_message("/run invert", user_id=ADMIN)
            reply = await tg.next_answered("sendMessage", timeout=10)
        assert reply.params["text"].startswith("Template invert needs a photo.")
        assert "within 10 min" in reply.params["text"]
        assert oc.calls("/triggers/fire") == [] and oc.uploads == []


@pytest.mark.gen_test(timeout=20)
async def test_oversized_photo_is_cut_off_while_streaming(tmp_path):
    """A 15 MB photo whose size nobody announced is refused at a 1 MB cap: the
    download stops early (the fake could not send it all) and nothing is uploaded."""
    big = PHOTO + b"\0" * (15 * 1024 * 1024)
    async with media_openclaw() as oc, FakeTelegram() as tg:
        async with running_daemon(tg_config(tmp_path, tg, oc, **{"media.max_in_mb": 1})):
            stored = tg.files.queue_photo(big, caption="/run invert", user_id=ADMIN, size=0,
                                          announce_length=False)
            reply = await tg.next_answered("sendMessage", timeout=15)
        assert "larger than 1 MB" in reply.params["text"], reply.params
        assert stored.downloads == 1 and stored.sent_bytes < len(big) // 2
        assert oc.uploads == [] and oc.calls("/triggers/fire") == []


@pytest.mark.gen_test(timeout=15)
async def test_announced_size_over_the_cap_is_refused_before_downloading(tmp_path):
    big = PHOTO + b"\0" * (11 * 1024 * 1024)
    async with media_openclaw() as oc, FakeTelegram() as tg:
        async with running_daemon(tg_config(tmp_path, tg, oc)):
            stored = tg.files.queue_photo(big, caption="/run invert", user_id=ADMIN)
            reply = await tg.next_answered("sendMessage", timeout=10)
        assert "larger than 10 MB" in reply.params["text"]
        assert stored.downloads == 0 and oc.uploads == []


@pytest.mark.gen_test(timeout=15)
async def test_text_file_named_png_is_refused(tmp_path):
    """A document that says image/png but holds text fails the magic-byte check."""
    async with media_openclaw() as oc, FakeTelegram() as tg:
        async with running_daemon(tg_config(tmp_path, tg, oc)):
            tg.files.queue_photo(b"just some text, not a picture\n" * 10, caption="/run invert",
                                 user_id=ADMIN, as_document="image/png")
            reply = await tg.next_answered("sendMessage", timeout=10)
        assert reply.params["text"].startswith("That file is not a PNG, JPEG, WEBP or GIF")
        assert oc.uploads == [] and oc.calls("/triggers/fire") == []


@pytest.mark.gen_test(timeout=15)
async def test_reply_to_our_result_reuses_the_output_without_upload(tmp_path):
    """``/run invert`` replying to the bot's result photo binds ``"<name> [output]"``:
    nothing is downloaded from Telegram and nothing is uploaded to ComfyUI."""
    async with media_openclaw() as oc, FakeTelegram() as tg:
        async with running_daemon(tg_config(tmp_path, tg, oc)):
            tg.queue_message("/run poster", user_id=ADMIN)
            await tg.next_answered("sendMessage", timeout=10)
            finish_like_comfy(oc)
            photo = await tg.next_answered("sendPhoto", timeout=10)
            ours = tg.messages[(str(ADMIN), photo.response["result"]["message_id"])]
            tg.queue_message("/run invert", user_id=ADMIN, reply_to_message=ours)
            await tg.wait_until(lambda: any(t.startswith("[Queued] invert")
                                            for t in tg.texts(ADMIN)), timeout=10)
        assert fired_inputs(oc)[-1] == {"image": "openclaw_poster_00001_.png [output]"}
        assert oc.uploads == [] and tg.count("getFile") == 0


@pytest.mark.gen_test(timeout=15)
async def test_lone_photo_in_private_chat_runs_a_default_template_that_takes_an_image(
        tmp_path):
    """With ``default_template: invert`` a photo alone runs it; with a default template
    that takes no image, the photo is only kept (no answer)."""
    async with media_openclaw() as oc, FakeTelegram() as tg:
        async with running_daemon(tg_config(tmp_path, tg, oc, default_template="invert")):
            tg.files.queue_photo(PHOTO, user_id=ADMIN)
            queued = await tg.next_answered("sendMessage", timeout=10)
        assert queued.params["text"].startswith("[Queued] invert")
        assert len(oc.uploads) == 1
    async with media_openclaw() as oc, FakeTelegram() as tg:
        async with running_daemon(tg_config(tmp_path / "b", tg, oc,
                                            default_template="portrait")) as daemon:
            photo = tg.files.queue_photo(PHOTO, user_id=ADMIN)
            await daemon.channels["telegram"].wait_handled(photo.update_id, 5)
        assert tg.texts(ADMIN) == [] and oc.uploads == []
