"""Results through real channels: Telegram (multipart upload) and LINE (signed media
URL), with /run typed on the platform, and a platform refusing sends before accepting."""

from __future__ import annotations

import pytest

from tests.fakes import line as fline
from tests.fakes import telegram as ftg
from tests.fakes.telegram import FakeTelegram
from tests.jobs.support import PNG, TOKEN, GatedFake, jobs_config, until
from tests.harness import running_daemon, webhook_url
from tests.channels.webhooks.support import ALICE_LINE, LINE_TOKEN, PUBLIC, post_line, webhook_config


def _two_images(fake) -> list[str]:
    fake.register_view("a.png", PNG + b"A")
    fake.register_view("b.png", PNG + b"B")
    return ["a.png", "b.png"]


def _telegram_cfg(tmp_path, oc, tg, **extra):
    return jobs_config(tmp_path, oc, telegram__token=ftg.TOKEN, telegram__api_base=tg.url,
                       telegram__poll_timeout_sec=1, telegram__allowed_users=["1111"],
                       admin_users=["telegram:1111"], **extra)


@pytest.mark.gen_test(timeout=15)
async def test_telegram_run_then_two_images_uploaded_as_multipart(tmp_path):
    async with GatedFake(admin_token=TOKEN) as oc, FakeTelegram() as tg:
        async with running_daemon(_telegram_cfg(tmp_path, oc, tg)):
            tg.queue_message("/run portrait")
            await tg.wait_until(lambda: any("[Queued]" in t for t in tg.texts()))
            (job,) = [oc.model.running]
            oc.finish_job(job.prompt_id, images=_two_images(oc), duration=3.25)
            await tg.wait_until(lambda: tg.count("sendPhoto") >= 2)
    done = [t for t in tg.texts() if t.startswith("[Done]")]
    assert done == ["[Done] portrait · %s · 3.2 s · 2 images\nseed=0" % job.prompt_id[:8]]
    photos = tg.calls("sendPhoto")
    assert [p.files["photo"].filename for p in photos] == ["a.png", "b.png"]
    assert photos[0].files["photo"].data == PNG + b"A"
    assert photos[0].files["photo"].content_type == "image/png"
    assert {p.chat_id for p in photos} == {"1111"}


@pytest.mark.gen_test(timeout=15)
async def test_platform_refuses_twice_then_accepts_one_delivery(tmp_path):
    """502, 502, then OK: the result reaches the chat once, nothing is re-run."""
    async with GatedFake(admin_token=TOKEN) as oc, FakeTelegram() as tg:
        async with running_daemon(_telegram_cfg(tmp_path, oc, tg)) as daemon:
            pid = oc.submit("portrait")
            await daemon.jobs.watch_prompt(pid, "portrait", _tg_chat())
            tg.script("sendMessage", ftg.bad_gateway(), ftg.bad_gateway(), ftg.bad_gateway(),
                      ftg.bad_gateway())
            oc.finish_job(pid, images=_two_images(oc))
            await tg.wait_until(lambda: tg.count("sendPhoto") >= 2)
            await until(lambda: daemon.jobs.introspect().pending == [])
    ok = [r for r in tg.calls("sendMessage") if r.status == 200]
    assert len(ok) == 1 and ok[0].params["text"].startswith("[Done] portrait")
    assert len(tg.calls("sendMessage")) == 5
    assert tg.count("sendPhoto") == 2
    assert len(oc.calls("/openclaw/triggers/fire")) == 0


def _tg_chat():
    from openclaw_connector.messages import ChatRef
    return ChatRef(platform="telegram", chat_id="1111", user_id="1111")


@pytest.mark.gen_test(timeout=15)
async def test_line_run_then_two_images_pushed_as_signed_media_urls(tmp_path):
    async with fline.FakeLine(access_token=LINE_TOKEN) as fl, \
            GatedFake(admin_token=TOKEN) as oc:
        cfg = webhook_config(tmp_path, line=fl, **{
            "openclaw.url": oc.url, "openclaw.admin_token": TOKEN,
            "admin_users": ["line:%s" % ALICE_LINE], "results.poll_min_sec": 0.02,
            "results.poll_max_sec": 0.1})
        async with running_daemon(cfg) as daemon:
            url = webhook_url(daemon, "line")
            token = fl.issue_reply_token(to=ALICE_LINE)
            resp = await post_line(url, fline.body_of(fline.text_event(
                "/run portrait", reply_token=token)))
            assert resp.code == 200
            await fl.wait_delivered(1)
            assert "[Queued]" in fl.texts()[0]
            job = oc.model.running
            oc.finish_job(job.prompt_id, images=_two_images(oc))
            sent = await fl.wait_delivered(2)
    result = sent[1]
    assert result["to"] == ALICE_LINE
    texts = [m["text"] for m in result["messages"] if m["type"] == "text"]
    assert texts == ["[Done] portrait · %s · 1.0 s · 2 images\nseed=0" % job.prompt_id[:8]]
    images = [m for m in result["messages"] if m["type"] == "image"]
    assert len(images) == 2
    for m in images:
        assert m["originalContentUrl"].startswith(PUBLIC + "/media/")
        assert m["previewImageUrl"] == m["originalContentUrl"]


@pytest.mark.gen_test(timeout=15)
async def test_non_admin_on_telegram_admin_approves_on_console_both_get_the_result(tmp_path):
    """The requester hears [Approved] and gets the images; the approving admin too."""
    async with GatedFake(admin_token=TOKEN) as oc, FakeTelegram() as tg:
        cfg = jobs_config(tmp_path, oc, telegram__token=ftg.TOKEN, telegram__api_base=tg.url,
                          telegram__poll_timeout_sec=1, telegram__allowed_users=["2222"])
        async with running_daemon(cfg, console=True) as daemon:
            tg.queue_message("/run portrait", user_id=2222)
            await tg.wait_until(lambda: any("[Approval Requested]" in t for t in tg.texts()))
            (aid,) = oc.model.approvals
            daemon.pipe.send("/approve %s" % aid)
            await daemon.out.wait_for("Executed: ")
            await tg.wait_until(lambda: any(t.startswith("[Approved]") for t in tg.texts()))
            pid = oc.model.approvals[aid]["metadata"]["executed_prompt_id"]
            oc.finish_job(pid, images=_two_images(oc))
            await tg.wait_until(lambda: tg.count("sendPhoto") >= 2)
            text = await daemon.out.wait_for("[image] b.png")
            await until(lambda: daemon.jobs.introspect().pending == [])
    approved = [t for t in tg.texts() if t.startswith("[Approved]")]
    assert approved == ["[Approved] %s · portrait by console:console. Executed: %s"
                        % (aid, pid)]
    assert [t for t in tg.texts() if t.startswith("[Done]")] == [
        "[Done] portrait · %s · 1.0 s · 2 images\nseed=0" % pid[:8]]
    assert text.count("[Done] portrait · %s" % pid[:8]) == 1
    assert {p.chat_id for p in tg.calls("sendPhoto")} == {"2222"}


@pytest.mark.gen_test(timeout=15)
async def test_whatsapp_run_then_images_sent_as_media_links(tmp_path):
    from tests.fakes import whatsapp as fwa
    from tests.channels.webhooks.support import ALICE_WA, WA_TOKEN, post_wa
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fw, \
            GatedFake(admin_token=TOKEN) as oc:
        cfg = webhook_config(tmp_path, wa=fw, **{
            "openclaw.url": oc.url, "openclaw.admin_token": TOKEN,
            "admin_users": ["whatsapp:%s" % ALICE_WA], "results.poll_min_sec": 0.02,
            "results.poll_max_sec": 0.1})
        async with running_daemon(cfg) as daemon:
            url = webhook_url(daemon, "whatsapp")
            resp = await post_wa(url, fwa.notification(
                messages=(fwa.text_message(ALICE_WA, "/run portrait"),)))
            assert resp.code == 200
            await fw.wait_sent(1)
            assert fw.texts()[0].startswith("[Queued]")
            job = oc.model.running
            oc.finish_job(job.prompt_id, images=_two_images(oc))
            sent = await fw.wait_sent(4)
    assert fw.texts()[1] == "[Done] portrait · %s · 1.0 s · 2 images\nseed=0" % job.prompt_id[:8]
    links = [b["image"]["link"] for b in sent[2:] if b.get("type") == "image"]
    assert len(links) == 2 and all(u.startswith(PUBLIC + "/media/") for u in links)
    assert {b["to"] for b in sent} == {ALICE_WA}


@pytest.mark.gen_test(timeout=15)
async def test_discord_run_then_images_uploaded_as_attachments(tmp_path):
    from tests.channels.discord.conftest import ready
    from tests.fakes.discord import CHANNEL_ID, GUILD_ID, USER_ID, FakeDiscord
    fake = FakeDiscord(heartbeat_interval_ms=50).start()
    try:
        async with GatedFake(admin_token=TOKEN) as oc:
            cfg = jobs_config(tmp_path, oc, discord__token=fake.token,
                              discord__api_base=fake.api_base,
                              discord__allowed_channels=[CHANNEL_ID],
                              admin_users=["discord:%s" % USER_ID])
            async with running_daemon(cfg):
                await ready(fake)
                command = fake.message_create("/run portrait", guild_id=GUILD_ID)
                queued = await fake.next_send(1)
                assert queued.content.startswith("[Queued]")
                job = oc.model.running
                oc.finish_job(job.prompt_id, images=_two_images(oc))
                await fake.wait_for(lambda: sum(len(s.files) for s in fake.sends) >= 2,
                                    5.0, "two attachments")
    finally:
        fake.stop()
    assert any(s.content == "[Done] portrait · %s · 1.0 s · 2 images\nseed=0" % job.prompt_id[:8]
               for s in fake.sends)
    files = [f for s in fake.sends for f in s.files]
    assert [(f[1], f[3]) for f in files] == [("a.png", PNG + b"A"), ("b.png", PNG + b"B")]
    assert {s.channel_id for s in fake.sends} == {CHANNEL_ID}
    assert queued.reference == command["id"]
