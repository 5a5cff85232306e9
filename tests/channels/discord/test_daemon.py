"""The whole daemon in-process against the fake Discord and the fake ComfyUI/OpenClaw."""

from __future__ import annotations

import pytest

from tests.channels.discord.conftest import discord_config, ready
from tests.fakes.discord import BOT_ID, CHANNEL_ID, GUILD_ID
from tests.fakes.openclaw import FakeOpenClaw
from tests.harness import running_daemon

OTHER_CHANNEL = "1200000000000000777"


@pytest.mark.gen_test(timeout=15)
async def test_status_in_allowed_channel_gets_a_reply_referencing_the_command(
        fake_discord, tmp_path):
    """identify -> READY -> /status in an allowed channel -> a reply to that message."""
    fake = fake_discord
    async with FakeOpenClaw() as oc:
        cfg = discord_config(fake, tmp_path / "state", openclaw__url=oc.url,
                             discord__allowed_channels=[CHANNEL_ID])
        async with running_daemon(cfg) as daemon:
            await ready(fake)
            command = fake.message_create("/status", guild_id=GUILD_ID)
            sent = await fake.next_send()
            assert daemon.channels["discord"].health.state == "ok"
    assert sent.channel_id == CHANNEL_ID and sent.reference == command["id"]
    assert "ComfyUI" in sent.content


@pytest.mark.gen_test(timeout=15)
async def test_non_allowed_channel_bots_and_self_get_no_reply(fake_discord, tmp_path):
    """Only the allowed channel is answered; others, bots and our own messages are not."""
    fake = fake_discord
    cfg = discord_config(fake, tmp_path / "state", discord__allowed_channels=[OTHER_CHANNEL])
    async with running_daemon(cfg):
        await ready(fake)
        fake.message_create("/help", guild_id=GUILD_ID)                      # not allowed
        fake.message_create("/help", channel_id=OTHER_CHANNEL, guild_id=GUILD_ID, bot=True)
        fake.message_create("/help", channel_id=OTHER_CHANNEL, guild_id=GUILD_ID,
                            author_id=BOT_ID)
        allowed = fake.message_create("/help", channel_id=OTHER_CHANNEL, guild_id=GUILD_ID)
        sent = await fake.next_send()
    assert len(fake.sends) == 1 and sent.channel_id == OTHER_CHANNEL
    assert sent.reference == allowed["id"] and "/help" in sent.content


@pytest.mark.gen_test(timeout=15)
async def test_heartbeat_keeps_schedule_while_comfyui_is_slow(fake_discord, tmp_path):
    """/status waits on a stalled ComfyUI; beats keep their 50 ms schedule meanwhile."""
    fake = fake_discord
    async with FakeOpenClaw() as oc:
        gate = oc.hold("system_stats")
        cfg = discord_config(fake, tmp_path / "state", openclaw__url=oc.url,
                             discord__allowed_channels=[CHANNEL_ID])
        async with running_daemon(cfg):
            await ready(fake)
            fake.message_create("/status", guild_id=GUILD_ID)
            await oc.wait_request("system_stats")
            n0 = max(1, len(fake.heartbeats))
            await fake.wait_for(lambda: len(fake.heartbeats) >= n0 + 8, what="8 beats")
            beats = [b.at for b in fake.heartbeats[n0:]]
            assert not fake.sends                     # the command is still in flight
            gate.set()
            sent = await fake.next_send()
    gaps = [b - a for a, b in zip(beats, beats[1:])]
    assert max(gaps) < 0.05 * 2.5, gaps
    assert "ComfyUI" in sent.content and len(fake.connections) == 1


@pytest.mark.gen_test(timeout=15)
async def test_fatal_discord_leaves_the_console_running(fake_discord, tmp_path, discord_log):
    """4014 stops only Discord: the console still answers /help."""
    fake = fake_discord
    fake.reject_identify_code = 4014
    cfg = discord_config(fake, tmp_path / "state")
    async with running_daemon(cfg, console=True) as daemon:
        await fake.wait_for(lambda: fake.identifies and fake.live is None, what="close")
        daemon.pipe.send("/help")
        await daemon.out.wait_for("/status")
        line = await discord_log.wait_for("event=channel_stopped")
        assert "Message Content intent" in line
        assert daemon.channels["discord"].health.state == "fatal"
        assert len(fake.connections) == 1
