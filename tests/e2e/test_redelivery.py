"""Inbound delivered more than once, or not at all for a while (faults.md §4 cases 9, 23)."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.world import LINE_USER, WA_USER, World, until
from tests.fakes import line as line_fake
from tests.fakes import whatsapp as wa_fake
from tests.fakes.telegram import stall

MARGIN = 0.5        # telegram.poll_margin_sec: the client's timeout beyond the long poll


@pytest.mark.gen_test(timeout=60)
async def test_same_run_webhook_twice_concurrently_and_redelivered_submits_one_job(tmp_path):
    """/run posted twice at once and once more as a redelivery, on LINE and on WhatsApp:
    every POST gets 200, ComfyUI gets exactly one job per message, one [Queued] each."""
    async with World(tmp_path) as w:
        await w.start_daemon()
        group = w.chat_for("line", 1)
        event = line_fake.text_event("/run portrait", user_id=LINE_USER, group_id=group,
                                     reply_token=w.line.issue_reply_token(to=group))
        again = dict(event, deliveryContext={"isRedelivery": True})
        message = wa_fake.text_message(WA_USER, "/run portrait")
        wa_body = wa_fake.body_of(wa_fake.notification(messages=(message,)))
        line_body = line_fake.body_of(event)
        codes = [r.code for r in await asyncio.gather(
            w.post_webhook("line", line_body), w.post_webhook("line", line_body),
            w.post_webhook("whatsapp", wa_body), w.post_webhook("whatsapp", wa_body))]
        codes += [(await w.post_webhook("line", line_fake.body_of(again))).code,
                  (await w.post_webhook("whatsapp", wa_body)).code]
        await until(lambda: any(t.startswith("[Queued]") for t in w.texts("line", group))
                    and any(t.startswith("[Queued]")
                            for t in w.texts("whatsapp", message["id"])),
                    10, "the [Queued] replies")
        assert await w.daemon.stop() == 0
        assert codes == [200] * 6
        assert len(w.openclaw.calls("/openclaw/triggers/fire", "POST")) == 2
        assert w.openclaw.model.queue_remaining() == 2
        assert sum(t.startswith("[Queued]") for t in w.texts("line", group)) == 1
        assert sum(t.startswith("[Queued]") for t in w.texts("whatsapp", message["id"])) == 1
        assert w.daemon.count("event=webhook_duplicate") == 4


@pytest.mark.gen_test(timeout=60)
async def test_long_poll_that_never_answers_times_out_and_repolls_the_same_offset(tmp_path):
    """getUpdates accepted but never answered (a partition): the daemon gives up after
    poll timeout + margin (1 s + 0.5 s here, from ``telegram.poll_margin_sec``), asks
    again with the same offset and runs the command once."""
    async with World(tmp_path, channels=("telegram",)) as w:
        await w.start_daemon(**{"telegram.poll_margin_sec": MARGIN})
        first = await w.send("telegram", "/help")
        await w.wait_answers(first, "Commands:")
        polls = w.telegram.count("getUpdates")
        w.telegram.script("getUpdates", stall())
        await until(lambda: w.telegram.count("getUpdates") > polls, 10, "the stalled poll")
        stalled = w.telegram.calls("getUpdates")[polls]
        item = await w.send("telegram", "/help")
        await w.wait_answers(item, "Commands:", timeout=30)
        assert await w.daemon.stop() == 0
        retry = w.telegram.calls("getUpdates")[polls + 1]
        assert retry.params.get("offset") == stalled.params.get("offset")
        waited = retry.at - stalled.at
        assert 1 + MARGIN - 0.1 <= waited < 1 + MARGIN + 5, "re-polled after %.1f s" % waited
        assert w.answers(item, "Commands:") == 1
        assert w.telegram.handouts[int(item.msg_id)] == 1
