"""Reply to our result on LINE and WhatsApp (issue 19; interactive.md §6.6): a result
batch is several messages (the text, then one per image); quoting any of its images
with ``/run invert`` binds that output as ``"<name> [output]"`` — no download, no
upload. LINE's answer lists every sent message (``sentMessages``), WhatsApp answers
each message with its wamid, and a quote names one in ``quotedMessageId`` /
``context.id``."""

from __future__ import annotations

import pytest

from tests.channels.webhooks.support import (ADMIN_TOKEN, ALICE_LINE, ALICE_WA, LINE_TOKEN,
                                             WA_TOKEN, post_line, post_wa, webhook_config)
from tests.fakes import line as fline
from tests.fakes import whatsapp as fwa
from tests.fakes.openclaw_media import png
from tests.media.support import fired_inputs, media_openclaw
from tests.support import running_daemon
from tests.harness import webhook_url

OUTPUTS = ("result_a.png", "result_b.png", "result_c.png")
FAST = {"results.poll_min_sec": 0.02, "results.poll_max_sec": 0.1}


def finish_with_three_images(oc) -> None:
    """End the running job with three still outputs, in this order."""
    for n, name in enumerate(OUTPUTS):
        oc.register_view(name, png(32, 32, tag=bytes([n])))
    oc.model.finish(None, duration=0.5, outputs={"9": {"images": [
        {"filename": name, "subfolder": "", "type": "output"} for name in OUTPUTS]}})


@pytest.mark.gen_test(timeout=20)
async def test_line_quoting_the_second_image_of_a_result_reuses_that_output(tmp_path):
    async with fline.FakeLine(access_token=LINE_TOKEN) as fl, media_openclaw() as oc:
        oc.admin_token = ADMIN_TOKEN
        cfg = webhook_config(tmp_path, line=fl, **{
            "openclaw.url": oc.url, "admin_users": ["line:%s" % ALICE_LINE], **FAST})
        async with running_daemon(cfg) as daemon:
            await post_line(webhook_url(daemon, "line"),
                            fline.body_of(fline.text_event("/run poster")))
            await fl.wait_delivered(1)
            finish_with_three_images(oc)
            result = (await fl.wait_delivered(2))[1]
            types = [m["type"] for m in result["messages"]]
            assert types[:4] == ["text", "image", "image", "image"], types
            second_image = fl.sent_ids[1][2]        # not the first message of the batch
            run = fline.text_event("/run invert")
            run["message"]["quotedMessageId"] = second_image
            await post_line(webhook_url(daemon, "line"), fline.body_of(run))
            queued = (await fl.wait_delivered(3))[2]
        assert queued["messages"][0]["text"].startswith("[Queued] invert")
        assert fired_inputs(oc)[-1] == {"image": "result_b.png [output]"}
        assert oc.uploads == []


@pytest.mark.gen_test(timeout=20)
async def test_whatsapp_quoting_a_result_image_reuses_that_output(tmp_path):
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fw, media_openclaw() as oc:
        oc.admin_token = ADMIN_TOKEN
        cfg = webhook_config(tmp_path, wa=fw, **{
            "openclaw.url": oc.url, "admin_users": ["whatsapp:%s" % ALICE_WA], **FAST})
        async with running_daemon(cfg) as daemon:
            notify = fwa.notification(messages=(fwa.text_message(ALICE_WA, "/run poster"),))
            await post_wa(webhook_url(daemon, "whatsapp"), notify)
            await fw.wait_sent(1)
            finish_with_three_images(oc)
            sent = await fw.wait_sent(5)            # the text, then one message per image
            assert [b["type"] for b in sent[2:5]] == ["image"] * 3, sent
            second_image = fw.wamids[3]
            run = fwa.text_message(ALICE_WA, "/run invert")
            run["context"] = {"from": "15550001111", "id": second_image}
            await post_wa(webhook_url(daemon, "whatsapp"), fwa.notification(messages=(run,)))
            queued = (await fw.wait_sent(6))[5]
        assert "[Queued] invert" in str(queued)
        assert fired_inputs(oc)[-1] == {"image": "result_b.png [output]"}
        assert oc.uploads == []
