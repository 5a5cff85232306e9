"""Photo in on LINE (issue 19): image events carry no caption, so a ``/run`` uses the
last image the same user sent within ``media.input_window_sec``; after it, the run is
refused with a hint. The bytes come from the content API on ``line.data_api_base``."""

from __future__ import annotations

import pytest

from tests.channels.webhooks.support import (ADMIN_TOKEN, ALICE_LINE, LINE_TOKEN, post_line,
                                             webhook_config)
from tests.fakes import line as fline
from tests.media.support import PHOTO, fired_inputs, media_openclaw
from tests.support import running_daemon
from tests.harness import webhook_url


def config(tmp_path, fl, oc, **overrides):
    return webhook_config(tmp_path, line=fl, **{
        "openclaw.url": oc.url, "line.data_api_base": fl.url,
        "admin_users": ["line:%s" % ALICE_LINE], **overrides})


@pytest.mark.gen_test(timeout=15)
async def test_image_then_run_within_the_window_uploads_the_image(tmp_path):
    async with fline.FakeLine(access_token=LINE_TOKEN) as fl, media_openclaw() as oc:
        oc.admin_token = ADMIN_TOKEN
        async with running_daemon(config(tmp_path, fl, oc)) as daemon:
            image = fline.image_event(fl, PHOTO, reply_token=fl.issue_reply_token())
            assert (await post_line(webhook_url(daemon, "line"), fline.body_of(image))).code == 200
            await daemon.channels["line"]._tasks.drain(2.0)
            assert fl.delivered == []                   # a lone image gets no answer
            run = fline.text_event("/run invert", reply_token=fl.issue_reply_token())
            await post_line(webhook_url(daemon, "line"), fline.body_of(run))
            sent = await fl.wait_delivered(1)
        blob = fl.contents[image["message"]["id"]]
        assert blob.downloads == 1 and blob.refused == 0     # with the Bearer token
        name = "line_%s_%s.png" % (ALICE_LINE, image["message"]["id"])
        assert [u[1:] for u in oc.uploads] == [(name, PHOTO)]
        assert fired_inputs(oc) == [{"image": "openclaw/" + name}]
        assert sent[0]["messages"][0]["text"].startswith("[Queued] invert")


@pytest.mark.gen_test(timeout=15)
async def test_run_after_the_window_is_refused_with_a_hint(tmp_path):
    async with fline.FakeLine(access_token=LINE_TOKEN) as fl, media_openclaw() as oc:
        oc.admin_token = ADMIN_TOKEN
        cfg = config(tmp_path, fl, oc, **{"media.input_window_sec": 0.001})
        async with running_daemon(cfg) as daemon:
            image = fline.image_event(fl, PHOTO)
            await post_line(webhook_url(daemon, "line"), fline.body_of(image))
            await daemon.channels["line"]._tasks.drain(2.0)
            run = fline.text_event("/run invert", reply_token=fl.issue_reply_token())
            await post_line(webhook_url(daemon, "line"), fline.body_of(run))
            sent = await fl.wait_delivered(1)
        text = sent[0]["messages"][0]["text"]
        assert text.startswith("Template invert needs a photo. Send a photo, then /run invert")
        assert oc.uploads == [] and fl.contents[image["message"]["id"]].downloads == 0


@pytest.mark.gen_test(timeout=15)
async def test_run_quoting_an_earlier_image_uses_that_one(tmp_path):
    """Two images, then ``/run invert`` whose ``quotedMessageId`` names the first."""
    async with fline.FakeLine(access_token=LINE_TOKEN) as fl, media_openclaw() as oc:
        oc.admin_token = ADMIN_TOKEN
        async with running_daemon(config(tmp_path, fl, oc)) as daemon:
            first = fline.image_event(fl, PHOTO + b"first")
            second = fline.image_event(fl, PHOTO + b"second")
            await post_line(webhook_url(daemon, "line"), fline.body_of(first, second))
            await daemon.channels["line"]._tasks.drain(2.0)
            run = fline.text_event("/run invert", reply_token=fl.issue_reply_token())
            run["message"]["quotedMessageId"] = first["message"]["id"]
            await post_line(webhook_url(daemon, "line"), fline.body_of(run))
            sent = await fl.wait_delivered(1)
        assert sent[0]["messages"][0]["text"].startswith("[Queued] invert")
        assert [u[2] for u in oc.uploads] == [PHOTO + b"first"]
