"""Follow-up buttons under a result (issue 17): ``templates.<id>.followups`` shows one
button per follow-up after Again and Details; a tap runs the target template on the
result's first image as ``"<subfolder>/<name> [output]"`` (no download, no upload),
through the router like any command. Every platform against its fake."""

from __future__ import annotations

import copy
import logging

import pytest

from tests.channels.discord.conftest import discord_config, fake_discord, ready  # noqa: F401
from tests.channels.telegram.support import telegram_config
from tests.channels.webhooks.support import ADMIN_TOKEN, ALICE_LINE, ALICE_WA, GROUP, \
    LINE_TOKEN, WA_TOKEN, post_line, post_wa, webhook_config
from tests.channels.webhooks.test_daemon_webhooks import daemon_url
from tests.fakes import line as fline
from tests.fakes import whatsapp as fwa
from tests.fakes.discord import CHANNEL_ID, GUILD_ID
from tests.fakes.openclaw import DEFAULT_TEMPLATES, FakeOpenClaw
from tests.fakes.telegram import FakeTelegram
from tests.jobs.support import PNG, TOKEN
from tests.media.support import fired_inputs, submitted_graph
from tests.support import running_daemon

ADMIN = 42
DISCORD_ADMIN = "1000000000000000042"
POLL = {"results.poll_min_sec": 0.02, "results.poll_max_sec": 0.1}


def _loads(name: str, inputs: list) -> dict:
    return {"allowed_inputs": inputs, "defaults": {},
            "graph": {"1": {"class_type": "LoadImage", "inputs": {"image": "{{%s}}" % inputs[0]}},
                      "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": name}}}}


# portrait, upscale (input "image"), and targets whose image input has other names.
# fix's LoadImage reads "source", which it does not declare: templates.fix.image_input.
TEMPLATES = dict(copy.deepcopy(DEFAULT_TEMPLATES), big=_loads("big", ["init_image"]),
                 fix=dict(_loads("fix", ["source"]), allowed_inputs=["strength"]),
                 sketch=_loads("sketch", ["input_image"]))


def _tg_markup(tg, chat):
    """(message id, buttons) of the bot's message in ``chat`` that carries a keyboard."""
    for (chat_id, mid), message in sorted(tg.messages.items()):
        if chat_id == str(chat) and message.get("reply_markup"):
            return mid, tg.buttons(chat, mid)
    raise AssertionError("no keyboard in %s" % chat)


def _tg_cfg(tmp_path, tg, oc, followups=None, allowed=(ADMIN,)):
    """A Telegram daemon config: ``ADMIN`` the admin, ``portrait`` with ``followups``."""
    return telegram_config(tmp_path, tg, **POLL, **{
        "telegram.allowed_users": [str(user) for user in allowed],
        "admin_users": ["telegram:%d" % ADMIN], "openclaw.url": oc.url,
        "openclaw.admin_token": TOKEN,
        "templates": {"portrait": {"followups": followups or {"Upscale": "upscale"}}}})


@pytest.mark.gen_test(timeout=15)
async def test_telegram_followup_runs_the_target_on_the_result_image(tmp_path, caplog):
    """Upscale and Bigger follow Again and Details; the targets without an image input
    (portrait) or unknown to OpenClaw get no button and one log line each; a tap on
    Upscale submits upscale with image="sub/a.png [output]" and uploads nothing."""
    caplog.set_level(logging.INFO)
    followups = {"Upscale": "upscale", "Bigger": "big", "Remix": "portrait",
                 "Ghost": "nosuch"}
    async with FakeOpenClaw(admin_token=TOKEN, templates=TEMPLATES) as oc, \
            FakeTelegram() as tg:
        cfg = _tg_cfg(tmp_path, tg, oc, followups)
        async with running_daemon(cfg):
            tg.queue_message("/run portrait a red fox", user_id=ADMIN)
            await tg.wait_until(lambda: any("[Queued]" in t for t in tg.texts(ADMIN)))
            oc.register_view("a.png", PNG, "sub")
            oc.register_view("b.png", PNG, "sub")
            oc.finish_job(images=[("a.png", "sub"), ("b.png", "sub")])
            await tg.wait_until(lambda: any(m.get("reply_markup") for m in tg.messages.values()))
            mid, buttons = _tg_markup(tg, ADMIN)
            assert [b["text"] for b in buttons] == ["Again", "Details", "Upscale", "Bigger"]
            assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)
            tg.queue_callback(buttons[2]["callback_data"], message_id=mid, user_id=ADMIN)
            fire = await oc.wait_request("/triggers/fire", "POST", count=2)
            await tg.wait_until(lambda: any("[Queued] upscale" in t for t in tg.texts(ADMIN)))
            tg.queue_callback(buttons[3]["callback_data"], message_id=mid, user_id=ADMIN)
            bigger = await oc.wait_request("/triggers/fire", "POST", count=3)
        assert fire.json["template_id"] == "upscale"
        assert fire.json["inputs"] == {"image": "sub/a.png [output]"}
        assert bigger.json["template_id"] == "big"
        assert bigger.json["inputs"] == {"init_image": "sub/a.png [output]"}
        assert submitted_graph(oc)["1"]["inputs"]["image"] == "sub/a.png [output]"
        assert oc.uploads == []
    assert "event=followup_skipped template=portrait target=portrait reason=no_image_input" \
        in caplog.text
    assert "event=followup_skipped template=portrait target=nosuch reason=unknown_target" \
        in caplog.text


@pytest.mark.gen_test(timeout=15)
async def test_a_followup_tap_is_a_command_of_the_tapper(tmp_path):
    """A non-admin's tap on a follow-up goes through the approval gate, as typed."""
    member = 43
    async with FakeOpenClaw(admin_token=TOKEN, templates=TEMPLATES) as oc, \
            FakeTelegram() as tg:
        cfg = _tg_cfg(tmp_path, tg, oc, allowed=(ADMIN, member))
        async with running_daemon(cfg):
            group = -1001234567890
            tg.queue_message("/run portrait a fox", user_id=ADMIN, chat_id=group,
                             chat_type="supergroup")
            await tg.wait_until(lambda: any("[Queued]" in t for t in tg.texts(group)))
            oc.register_view("a.png", PNG)
            oc.finish_job(images=["a.png"])
            await tg.wait_until(lambda: any(m.get("reply_markup") for m in tg.messages.values()))
            mid, buttons = _tg_markup(tg, group)
            assert buttons[-1]["text"] == "Upscale"
            tg.queue_callback(buttons[-1]["callback_data"], message_id=mid, user_id=member,
                              chat_id=group, chat_type="supergroup")
            await tg.wait_until(lambda: any("[Approval Requested]" in t
                                            for t in tg.texts(group)))
        assert [r.json["require_approval"] for r in oc.calls("/triggers/fire", "POST")] == \
            [False, True]
        assert fired_inputs(oc)[-1] == {"image": "a.png [output]"}


@pytest.mark.gen_test(timeout=15)
async def test_discord_followups_use_the_configured_input_and_temp_files(fake_discord,  # noqa: F811
                                                                         tmp_path):
    """On Discord the follow-up is a button in the action row; a temp output is bound
    as "<name> [temp]"; the configured image_input wins; a video-only job gets none."""
    fake = fake_discord
    async with FakeOpenClaw(admin_token=TOKEN, templates=TEMPLATES) as oc:
        cfg = discord_config(fake, tmp_path / "state", **{
            "openclaw__url": oc.url, "openclaw__admin_token": TOKEN,
            "discord__allowed_channels": [CHANNEL_ID],
            "admin_users": ["discord:%s" % DISCORD_ADMIN], "results__poll_min_sec": 0.02,
            "results__poll_max_sec": 0.1,
            "templates": {"portrait": {"followups": {"Fix": "fix", "Sketch": "sketch"}},
                          "fix": {"image_input": "source"}}})
        async with running_daemon(cfg):
            await ready(fake)
            fake.message_create("/run portrait a red fox", guild_id=GUILD_ID,
                                author_id=DISCORD_ADMIN)
            await oc.wait_request("/triggers/fire", "POST")
            oc.register_view("t.png", PNG, "", "temp")
            oc.finish_job(images=[("t.png", "", "temp")])
            await fake.wait_for(lambda: [m for m in fake.messages.values()
                                         if "[Done]" in m["content"]], what="done")
            message = next(m for m in fake.messages.values() if "[Done]" in m["content"])
            buttons = fake.buttons(message["id"])
            assert [b["label"] for b in buttons] == ["Again", "Details", "Fix", "Sketch"]
            fake.component_click(message["id"], buttons[2]["custom_id"], user_id=DISCORD_ADMIN)
            fix = await oc.wait_request("/triggers/fire", "POST", count=2)
            fake.component_click(message["id"], buttons[3]["custom_id"], user_id=DISCORD_ADMIN)
            sketch = await oc.wait_request("/triggers/fire", "POST", count=3)
        assert fix.json["inputs"] == {"source": "t.png [temp]"}
        assert sketch.json["inputs"] == {"input_image": "t.png [temp]"}


@pytest.mark.gen_test(timeout=15)
async def test_a_video_only_result_gets_no_followups(tmp_path, caplog):
    """Follow-ups take a still image: a job that made only a video shows Again and
    Details alone, and nothing is logged as skipped."""
    caplog.set_level(logging.INFO)
    async with FakeOpenClaw(admin_token=TOKEN, templates=TEMPLATES) as oc, \
            FakeTelegram() as tg:
        cfg = _tg_cfg(tmp_path, tg, oc)
        async with running_daemon(cfg):
            tg.queue_message("/run portrait a clip", user_id=ADMIN)
            await tg.wait_until(lambda: any("[Queued]" in t for t in tg.texts(ADMIN)))
            oc.register_view("clip.mp4", b"\0" * 64)
            oc.finish_job(images=["clip.mp4"])
            await tg.wait_until(lambda: any(m.get("reply_markup") for m in tg.messages.values()))
            _mid, buttons = _tg_markup(tg, ADMIN)
        assert [b["text"] for b in buttons] == ["Again", "Details"]
    assert "event=followup_skipped" not in caplog.text


@pytest.mark.gen_test(timeout=15)
async def test_line_shows_four_buttons_and_the_rest_as_commands(tmp_path):
    """LINE's buttons template holds four actions: Again, Details and two follow-ups
    are buttons, the third follow-up comes as a command to type; tapping a follow-up
    runs it on the result image."""
    followups = {"Upscale": "upscale", "Bigger": "big", "Sketch": "sketch"}
    async with fline.FakeLine(access_token=LINE_TOKEN) as fl, \
            FakeOpenClaw(admin_token=ADMIN_TOKEN, templates=TEMPLATES) as oc:
        cfg = webhook_config(tmp_path, line=fl, **POLL, **{
            "openclaw.url": oc.url, "admin_users": ["line:%s" % ALICE_LINE],
            "templates": {"portrait": {"followups": followups}}})
        async with running_daemon(cfg) as daemon:
            await post_line(daemon_url(daemon, "line"), fline.body_of(fline.text_event(
                "/run portrait a red fox", user_id=ALICE_LINE, group_id=GROUP)))
            await oc.wait_request("/triggers/fire", "POST")
            oc.register_view("a.png", PNG)
            oc.finish_job(images=["a.png"])
            await fl.wait_until(lambda: fline.postbacks(fl.delivered), what="template")
            actions = fline.postbacks(fl.delivered)
            assert [a["label"] for a in actions] == ["Again", "Details", "Upscale", "Bigger"]
            assert 'Sketch: /run sketch input_image="a.png [output]"' in fl.texts()
            event = fline.postback_event(actions[2]["data"], user_id=ALICE_LINE,
                                         group_id=GROUP)
            assert (await post_line(daemon_url(daemon, "line"),
                                    fline.body_of(event))).code == 200
            fire = await oc.wait_request("/triggers/fire", "POST", count=2)
        assert fire.json["template_id"] == "upscale"
        assert fire.json["inputs"] == {"image": "a.png [output]"}


@pytest.mark.gen_test(timeout=20)
async def test_whatsapp_three_actions_are_buttons_and_more_are_commands(tmp_path):
    """Again, Details and one follow-up fit WhatsApp's three reply buttons; its tap runs
    upscale on the image. The upscale result has two follow-ups (four actions), so
    all of them come as commands to type."""
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fw, \
            FakeOpenClaw(admin_token=ADMIN_TOKEN, templates=TEMPLATES) as oc:
        cfg = webhook_config(tmp_path, wa=fw, **POLL, **{
            "openclaw.url": oc.url, "admin_users": ["whatsapp:%s" % ALICE_WA],
            "templates": {"portrait": {"followups": {"Upscale": "upscale"}},
                          "upscale": {"followups": {"Bigger": "big", "Sketch": "sketch"}}}})
        async with running_daemon(cfg) as daemon:
            url = daemon_url(daemon, "whatsapp")
            await post_wa(url, fwa.notification(messages=(
                fwa.text_message(ALICE_WA, "/run portrait a red fox"),)))
            await oc.wait_request("/triggers/fire", "POST")
            oc.register_view("a.png", PNG)
            oc.finish_job(images=["a.png"])
            await fw.wait_until(lambda: [b for b in fw.sent if b.get("type") == "interactive"],
                                what="buttons")
            buttons = next(fwa.reply_buttons(b) for b in fw.sent
                           if b.get("type") == "interactive")
            assert [b["title"] for b in buttons] == ["Again", "Details", "Upscale"]
            await post_wa(url, fwa.notification(messages=(
                fwa.button_reply(ALICE_WA, buttons[2]["id"], title="Upscale"),)))
            fire = await oc.wait_request("/triggers/fire", "POST", count=2)
            oc.register_view("up.png", PNG)
            oc.finish_job(images=["up.png"])
            await fw.wait_until(lambda: any("Bigger: /run big" in t for t in fw.texts()),
                                what="commands")
        assert fire.json["inputs"] == {"image": "a.png [output]"}
        assert 'Bigger: /run big init_image="up.png [output]"\n' \
               'Sketch: /run sketch input_image="up.png [output]"' in \
               "\n".join(fw.texts())


@pytest.mark.gen_test(timeout=15)
async def test_an_unreadable_catalogue_leaves_the_followup_out(tmp_path, caplog):
    """When OpenClaw refuses its template list, the result still comes with Again and
    Details; the follow-up is left out with one line saying why."""
    caplog.set_level(logging.INFO)
    async with FakeOpenClaw(admin_token=TOKEN, templates=TEMPLATES) as oc, \
            FakeTelegram() as tg:
        cfg = _tg_cfg(tmp_path, tg, oc)
        oc.fail_next(20, 403, {"ok": False, "error": "forbidden"}, path="/openclaw/templates")
        async with running_daemon(cfg):
            tg.queue_message("/run portrait seed=3", user_id=ADMIN)
            await tg.wait_until(lambda: any("[Queued]" in t for t in tg.texts(ADMIN)))
            oc.register_view("a.png", PNG)
            oc.finish_job(images=["a.png"])
            await tg.wait_until(lambda: any(m.get("reply_markup") for m in tg.messages.values()))
            _mid, buttons = _tg_markup(tg, ADMIN)
        assert [b["text"] for b in buttons] == ["Again", "Details"]
    assert "event=followup_skipped template=portrait target=upscale " \
           "reason=catalogue_unreachable" in caplog.text
