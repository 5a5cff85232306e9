"""Platforms that cannot edit (issue 16): LINE shows its loading animation while the job
runs (1:1 chats only), WhatsApp marks the command read with the typing indicator once,
the console writes one line per state change and per 25 % of steps; then the result."""

from __future__ import annotations

import contextlib

import pytest

from tests.channels.webhooks.support import ALICE_LINE, ALICE_WA, GROUP, WA_TOKEN, \
    LINE_TOKEN, post_line, post_wa, webhook_config
from tests.fakes import line as fline
from tests.fakes import whatsapp as fwa
from tests.jobs.support import TOKEN, GatedFake, job_env
from tests.harness import running_daemon, until, webhook_url


def _oc_keys(oc, admin: str) -> dict:
    return {"openclaw.url": oc.url, "openclaw.admin_token": TOKEN, "admin_users": [admin],
            "results.poll_min_sec": 0.02, "results.poll_max_sec": 0.1}


@pytest.mark.gen_test(timeout=15)
async def test_line_loading_for_a_1to1_chat_and_not_for_a_group(tmp_path):
    """/run in a 1:1 chat: loading/start for the user once the job runs; the same in a
    group: no loading call (LINE cannot show it there); both get their result."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fl, \
            GatedFake(admin_token=TOKEN) as oc:
        cfg = webhook_config(tmp_path, line=fl, **_oc_keys(oc, "line:%s" % ALICE_LINE))
        async with running_daemon(cfg) as daemon:
            url = webhook_url(daemon, "line")
            token = fl.issue_reply_token(to=GROUP)
            resp = await post_line(url, fline.body_of(fline.text_event(
                "/run portrait", group_id=GROUP, reply_token=token)))
            assert resp.code == 200
            await fl.wait_delivered(1)
            group_job = oc.model.running.prompt_id
            await until(lambda: oc.runs.attached_to(group_job))
            oc.finish_job(group_job)
            await fl.wait_delivered(2)
            assert fl.loadings == []
            token = fl.issue_reply_token(to=ALICE_LINE)
            resp = await post_line(url, fline.body_of(fline.text_event(
                "/run portrait", reply_token=token)))
            await fl.wait_delivered(3)
            await fl.wait_until(lambda: len(fl.loadings) == 1, what="loading call")
            oc.finish_job(oc.model.running.prompt_id)
            await fl.wait_delivered(4)
    assert fl.loadings == [{"chatId": ALICE_LINE, "loadingSeconds": 60}]
    assert [d["messages"][0]["text"].split(" ")[0] for d in fl.delivered] == [
        "[Queued]", "[Done]", "[Queued]", "[Done]"]


@pytest.mark.gen_test(timeout=15)
async def test_whatsapp_typing_sent_once_per_command(tmp_path):
    """Mark-read with the typing indicator for the /run message, once, however many
    progress events the run sends; no extra message before the result."""
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fw, \
            GatedFake(admin_token=TOKEN) as oc:
        cfg = webhook_config(tmp_path, wa=fw, **_oc_keys(oc, "whatsapp:%s" % ALICE_WA))
        async with running_daemon(cfg) as daemon:
            command = fwa.text_message(ALICE_WA, "/run portrait")
            resp = await post_wa(webhook_url(daemon, "whatsapp"),
                                 fwa.notification(messages=(command,)))
            assert resp.code == 200
            await fw.wait_sent(1)
            pid = oc.model.running.prompt_id
            await until(lambda: oc.runs.attached_to(pid))
            await fw.wait_until(lambda: len(fw.reads) == 1, what="typing")
            oc.runs.executing("3")
            for step in range(0, 31, 5):
                oc.runs.progress(step, 30, node="3")
            oc.finish_job(pid)
            await fw.wait_sent(2)
    assert fw.reads == [{"messaging_product": "whatsapp", "status": "read",
                         "message_id": command["id"], "typing_indicator": {"type": "text"}}]
    assert [t.split(" ")[0] for t in fw.texts()] == ["[Queued]", "[Done]"]


@pytest.mark.gen_test(timeout=15)
async def test_console_one_line_per_state_and_per_quarter(tmp_path):
    """The console cannot edit: Running once, then a line at 25/50/75/100 %, not one per
    step, then the result."""
    async with job_env(tmp_path, progress__min_interval_sec=0) as (oc, daemon):
        daemon.pipe.send("/run portrait")
        await daemon.out.wait_for("[Queued]")
        pid = oc.model.running.prompt_id
        await until(lambda: oc.runs.attached_to(pid))
        await daemon.out.wait_for("[Running] portrait · %s" % pid[:8])
        oc.runs.executing("3")
        for step in range(0, 21):
            oc.runs.progress(step, 20, node="3")
        await daemon.out.wait_for("KSampler 20/20 · 100 %")
        oc.finish_job(pid)
        await daemon.out.wait_for("[Done] portrait · %s · 1.0 s" % pid[:8])
    lines = [line for line in daemon.out.text.splitlines() if pid[:8] in line]
    progress = [line for line in lines if "KSampler" in line]
    assert [line.split(" · ")[3] for line in progress] == ["25 %", "50 %", "75 %", "100 %"]
    assert sum(line.startswith("[Running]") for line in lines) == 1 + len(progress)


@contextlib.asynccontextmanager
async def _discord_daemon(tmp_path, **extra):
    """(fake Discord, fake OpenClaw) with a daemon on them, READY seen; edits every state."""
    from tests.channels.discord.conftest import ready
    from tests.fakes.discord import CHANNEL_ID, USER_ID, FakeDiscord
    from tests.jobs.support import jobs_config
    fake = FakeDiscord(heartbeat_interval_ms=50).start()
    try:
        async with GatedFake(admin_token=TOKEN) as oc:
            cfg = jobs_config(tmp_path, oc, discord__token=fake.token,
                              discord__api_base=fake.api_base,
                              discord__allowed_channels=[CHANNEL_ID],
                              admin_users=["discord:%s" % USER_ID],
                              progress__min_interval_sec=0, **extra)
            async with running_daemon(cfg):
                await ready(fake)
                yield fake, oc
    finally:
        fake.stop()


async def _run_to_done_on_discord(fake, oc) -> None:
    """The running job reports 15/30 steps, then ends: wait for the progress edit, the
    result message and the [Done] card."""
    pid = oc.model.running.prompt_id
    await until(lambda: oc.runs.attached_to(pid))
    oc.runs.executing("3")
    oc.runs.progress(15, 30, node="3")
    await fake.wait_for(lambda: any("KSampler 15/30 · 50 %" in e.content
                                    for e in fake.edits), what="progress edit")
    oc.finish_job(pid)
    await fake.wait_for(lambda: any(s.content.startswith("[Done]") for s in fake.sends),
                        what="result")
    await fake.wait_for(lambda: fake.edits[-1].content.startswith("[Done] portrait · 1.0 s"),
                        what="[Done] card")


@pytest.mark.gen_test(timeout=20)
async def test_discord_card_is_the_queued_message_patched(tmp_path):
    """Discord: the [Queued] message is PATCHed with progress and the outcome (one message
    id throughout), and the result is a new message."""
    from tests.fakes.discord import CHANNEL_ID, GUILD_ID
    async with _discord_daemon(tmp_path) as (fake, oc):
        fake.message_create("/run portrait", guild_id=GUILD_ID)
        queued = await fake.next_send(1)
        assert queued.content.startswith("[Queued]")
        await _run_to_done_on_discord(fake, oc)
    assert len({(e.channel_id, e.message_id) for e in fake.edits}) == 1
    assert fake.edits[0].channel_id == CHANNEL_ID
    assert sum(s.content.startswith("[Queued]") for s in fake.sends) == 1


@pytest.mark.gen_test(timeout=20)
async def test_discord_slash_run_card_is_the_original_answer_patched(tmp_path):
    """A slash /run: the deferred answer edited to [Queued] is the card — its message
    (the id @original answered with) is PATCHed with progress and the outcome through
    the channel endpoint, which outlives the 15-minute interaction token; the result is a
    new message, sent once."""
    from tests.fakes.discord import CHANNEL_ID
    async with _discord_daemon(tmp_path, discord__slash_commands=True) as (fake, oc):
        item = fake.interaction_create("run", "portrait")
        await fake.wait_for(lambda: item.original is not None, what="@original")
        assert item.original["content"].startswith("[Queued]")
        await _run_to_done_on_discord(fake, oc)
    assert {(e.channel_id, e.message_id) for e in fake.edits} == {
        (CHANNEL_ID, item.message_id)}
    assert sum(s.content.startswith("[Done]") for s in fake.sends) == 1
    assert not any(s.content.startswith("[Queued]") for s in fake.sends)
