"""Photo in on WhatsApp (issue 19): an image with a ``/run`` caption; its bytes come
from the media id → URL → download chain, both steps with the Bearer token."""

from __future__ import annotations

import pytest

from tests.channels.webhooks.support import (ADMIN_TOKEN, ALICE_WA, WA_TOKEN, post_wa,
                                             webhook_config)
from tests.fakes import whatsapp as fwa
from tests.media.support import PHOTO, fired_inputs, media_openclaw
from tests.support import running_daemon
from tests.harness import webhook_url


@pytest.mark.gen_test(timeout=15)
async def test_image_with_run_caption_uploads_it(tmp_path, caplog):
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fw, media_openclaw() as oc:
        oc.admin_token = ADMIN_TOKEN
        cfg = webhook_config(tmp_path, wa=fw, **{"openclaw.url": oc.url,
                                                 "admin_users": ["whatsapp:%s" % ALICE_WA]})
        async with running_daemon(cfg) as daemon:
            message = fw.image_message(ALICE_WA, PHOTO, caption="/run invert")
            resp = await post_wa(webhook_url(daemon, "whatsapp"),
                                 fwa.notification(messages=(message,)))
            sent = await fw.wait_sent(1)
        assert resp.code == 200
        blob = fw.media[message["image"]["id"]]
        assert blob.downloads == 1 and blob.refused == 0
        name = "whatsapp_%s_%s.png" % (ALICE_WA, message["id"].replace(".", ""))
        assert [u[1:] for u in oc.uploads] == [(name, PHOTO)]
        assert fired_inputs(oc) == [{"image": "openclaw/" + name}]
        assert sent[0]["text"]["body"].startswith("[Queued] invert")
        assert WA_TOKEN not in caplog.text


@pytest.mark.gen_test(timeout=15)
async def test_run_quoting_an_earlier_image_uses_that_one_not_the_latest(tmp_path):
    """Two images, then ``/run invert`` quoting the first (``context.id``): the first."""
    first_bytes = PHOTO + b"first"
    async with fwa.FakeWhatsApp(access_token=WA_TOKEN) as fw, media_openclaw() as oc:
        oc.admin_token = ADMIN_TOKEN
        cfg = webhook_config(tmp_path, wa=fw, **{"openclaw.url": oc.url,
                                                 "admin_users": ["whatsapp:%s" % ALICE_WA]})
        async with running_daemon(cfg) as daemon:
            first = fw.image_message(ALICE_WA, first_bytes)
            second = fw.image_message(ALICE_WA, PHOTO + b"second")
            await post_wa(webhook_url(daemon, "whatsapp"),
                          fwa.notification(messages=(first, second)))
            await daemon.channels["whatsapp"]._tasks.drain(2.0)
            run = fwa.text_message(ALICE_WA, "/run invert")
            run["context"] = {"from": fw.phone_number_id, "id": first["id"]}
            await post_wa(webhook_url(daemon, "whatsapp"), fwa.notification(messages=(run,)))
            sent = await fw.wait_sent(1)
        assert sent[0]["text"]["body"].startswith("[Queued] invert")
        assert [u[2] for u in oc.uploads] == [first_bytes]
