"""Photo in through a Discord slash command: ``/run`` offers an optional ATTACHMENT
option ``image`` (interactive.md §5.2), and its file takes the same download, check,
upload and bind path as a message's attachment."""

from __future__ import annotations

import pytest

from tests.channels.discord.conftest import discord_config, ready
from tests.fakes.discord import CHANNEL_ID, GUILD_ID, USER_ID
from tests.media.support import PHOTO, fired_inputs, media_openclaw, submitted_graph
from tests.support import running_daemon


def config(fake, tmp_path, oc):
    return discord_config(fake, tmp_path / "state", openclaw__url=oc.url,
                          discord__allowed_channels=[CHANNEL_ID],
                          discord__slash_commands=True,
                          admin_users=["discord:%s" % USER_ID])


async def registered(fake) -> dict:
    """The guild's ``/run`` command, once the daemon registered the menu."""
    fake.guild_create(GUILD_ID)
    await fake.wait_for(lambda: GUILD_ID in fake.guild_commands, what="PUT commands")
    return next(c for c in fake.guild_commands[GUILD_ID] if c["name"] == "run")


@pytest.mark.gen_test(timeout=15)
async def test_run_offers_an_optional_image_attachment_option(fake_discord, tmp_path):
    fake = fake_discord
    async with media_openclaw() as oc:
        async with running_daemon(config(fake, tmp_path, oc)):
            await ready(fake)
            run = await registered(fake)
            status = next(c for c in fake.guild_commands[GUILD_ID] if c["name"] == "status")
    assert [(o["name"], o["type"], o["required"]) for o in run["options"]] == [
        ("text", 3, False), ("image", 11, False)]
    assert [o["name"] for o in status["options"]] == ["text"]     # no photo to give it


@pytest.mark.gen_test(timeout=15)
async def test_slash_run_with_an_image_uploads_it_and_binds_loadimage(fake_discord, tmp_path):
    fake = fake_discord
    async with media_openclaw() as oc:
        async with running_daemon(config(fake, tmp_path, oc)):
            await ready(fake)
            await registered(fake)
            item = fake.interaction_create("run", "invert",
                                           image=fake.attachment(PHOTO, "IMG 0001.png"))
            await fake.wait_for(lambda: item.original is not None, what="edit @original")
        blob = next(iter(fake.attachments.values()))
    assert item.callback == {"type": 5}
    assert item.original["content"].startswith("[Queued] invert"), item.original
    assert blob.downloads == 1                       # fetched from the CDN URL
    name = "discord_%s_i%s.png" % (CHANNEL_ID, item.id)   # ours, not "IMG 0001.png"
    assert [u[1:] for u in oc.uploads] == [(name, PHOTO)]
    assert fired_inputs(oc) == [{"image": "openclaw/" + name}]
    assert submitted_graph(oc)["1"]["inputs"]["image"] == "openclaw/" + name
