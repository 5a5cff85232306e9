"""Photo in on Discord (issue 19): an attachment with a ``/run`` message, a ``/run``
that replies to a message with a photo (``referenced_message``), and a 30 MB
photo that is cut off at the cap while it streams."""

from __future__ import annotations

import pytest

from tests.channels.discord.conftest import discord_config, ready
from tests.fakes.discord import CHANNEL_ID, GUILD_ID, USER_ID
from tests.media.support import PHOTO, fired_inputs, media_openclaw, submitted_graph
from tests.support import running_daemon


def config(fake, tmp_path, oc, **overrides):
    return discord_config(fake, tmp_path / "state", openclaw__url=oc.url,
                          discord__allowed_channels=[CHANNEL_ID],
                          admin_users=["discord:%s" % USER_ID], **overrides)


@pytest.mark.gen_test(timeout=15)
async def test_attachment_with_run_uploads_it_and_binds_loadimage(fake_discord, tmp_path):
    fake = fake_discord
    async with media_openclaw() as oc:
        async with running_daemon(config(fake, tmp_path, oc)):
            await ready(fake)
            d = fake.message_create("/run invert", guild_id=GUILD_ID,
                                    attachments=(fake.attachment(PHOTO, "IMG 0001.png"),))
            sent = await fake.next_send(timeout=10)
        assert sent.content.startswith("[Queued] invert"), sent.content
        name = "discord_%s_%s.png" % (CHANNEL_ID, d["id"])
        assert [u[1:] for u in oc.uploads] == [(name, PHOTO)]
        assert fired_inputs(oc) == [{"image": "openclaw/" + name}]
        assert submitted_graph(oc)["1"]["inputs"]["image"] == "openclaw/" + name


@pytest.mark.gen_test(timeout=15)
async def test_run_replying_to_a_photo_message_uses_its_attachment(fake_discord, tmp_path):
    fake = fake_discord
    async with media_openclaw() as oc:
        async with running_daemon(config(fake, tmp_path, oc,
                                         media__input_window_sec=0.001)):
            await ready(fake)
            original = {"id": "1299999999999999999", "channel_id": CHANNEL_ID,
                        "author": {"id": "5", "username": "bob"}, "content": "",
                        "type": 0, "attachments": [fake.attachment(PHOTO)]}
            fake.message_create("/run invert", guild_id=GUILD_ID, extra={
                "type": 19, "message_reference": {"message_id": original["id"],
                                                  "channel_id": CHANNEL_ID},
                "referenced_message": original})
            sent = await fake.next_send(timeout=10)
        assert sent.content.startswith("[Queued] invert"), sent.content
        assert [u[1:] for u in oc.uploads] == [
            ("discord_%s_%s.png" % (CHANNEL_ID, original["id"]), PHOTO)]


@pytest.mark.gen_test(timeout=20)
async def test_30_mb_photo_is_aborted_at_the_cap_without_buffering_it(fake_discord, tmp_path):
    """The attachment claims a small size and comes chunked: the cap still holds,
    enforced while the body streams, and the fake could not send the whole file."""
    fake = fake_discord
    big = PHOTO + b"\0" * (30 * 1024 * 1024)
    async with media_openclaw() as oc:
        async with running_daemon(config(fake, tmp_path, oc)):
            await ready(fake)
            item = fake.attachment(big, announce_length=False)
            item["size"] = 1000
            fake.message_create("/run invert", guild_id=GUILD_ID, attachments=(item,))
            sent = await fake.next_send(timeout=15)
        blob = next(iter(fake.attachments.values()))
        assert "larger than 10 MB" in sent.content, sent.content
        assert blob.downloads == 1 and blob.sent_bytes < 20 * 1024 * 1024
        assert oc.uploads == [] and oc.calls("/triggers/fire") == []


@pytest.mark.gen_test(timeout=15)
async def test_reply_to_our_result_reuses_the_output_without_download(fake_discord, tmp_path):
    """The bot's result message → its output file, as ``"<name> [output]"``."""
    from tests.fakes.openclaw_media import finish_like_comfy
    fake = fake_discord
    async with media_openclaw() as oc:
        async with running_daemon(config(fake, tmp_path, oc, results__poll_min_sec=0.02,
                                         results__poll_max_sec=0.1)):
            await ready(fake)
            fake.message_create("/run poster", guild_id=GUILD_ID)
            await fake.next_send(1, timeout=10)
            finish_like_comfy(oc)
            await fake.next_send(2, timeout=10)
            await fake.wait_for(lambda: any(m["content"].startswith("[Done]")
                                            for m in fake.messages.values()))
            ours = next(m for m in fake.messages.values() if m["content"].startswith("[Done]"))
            fake.message_create("/run invert", guild_id=GUILD_ID, extra={
                "type": 19, "message_reference": {"message_id": ours["id"]},
                "referenced_message": ours})
            queued = await fake.next_send(3, timeout=10)
        assert queued.content.startswith("[Queued] invert"), queued.content
        assert fired_inputs(oc)[-1] == {"image": "openclaw_poster_00001_.png [output]"}
        assert oc.uploads == []


@pytest.mark.gen_test(timeout=15)
async def test_reply_without_referenced_message_fetches_the_replied_message(fake_discord,
                                                                            tmp_path):
    """Discord leaves ``referenced_message`` out: the bot GETs the message for its photo."""
    fake = fake_discord
    async with media_openclaw() as oc:
        async with running_daemon(config(fake, tmp_path, oc,
                                         media__input_window_sec=0.001)):
            await ready(fake)
            photo_msg = fake.message_create("", author_id="5",
                                            attachments=(fake.attachment(PHOTO),))
            fake.message_create("/run invert", guild_id=GUILD_ID, extra={
                "type": 19, "message_reference": {"message_id": photo_msg["id"]}})
            sent = await fake.next_send(timeout=10)
        assert sent.content.startswith("[Queued] invert"), sent.content
        assert fake.fetched == [photo_msg["id"]]
        assert [u[2] for u in oc.uploads] == [PHOTO]
