"""Replaying a validly signed webhook body.

LINE and Meta sign the body only: there is no timestamp in the signature, so a
body captured once (a logging proxy, a tunnel's request inspector) stays valid
for ever. Within the dedup memory (``DEDUP_TTL_SEC``, 48 h) a replay is a
duplicate and runs nothing; these tests pin that, and show what happens to an
event older than that memory (also what a late Meta retry looks like: Meta
retries for up to 7 days).
"""

from __future__ import annotations

import time

import pytest

from openclaw_connector.channels.webhook import DEDUP_TTL_SEC
from tests.fakes import line as fline
from tests.fakes import whatsapp as fwa
from tests.security.support import (CASTS, DRIVERS, LINE_SECRET, WA_SECRET, all_fakes, config,
                                    http, oc_traffic, running)

STALE = time.time() - DEDUP_TTL_SEC - 3600       # older than anything we remember


def _body(platform: str, text: str, sent_at: float, event_id: str) -> tuple[bytes, dict]:
    user = CASTS[platform].admin.user
    if platform == "line":
        event = fline.text_event(text, user_id=user, event_id=event_id, message_id=event_id)
        event["timestamp"] = int(sent_at * 1000)
        body = fline.body_of(event)
        return body, {"X-Line-Signature": fline.sign(body, LINE_SECRET)}
    message = fwa.text_message(user, text, wamid="wamid." + event_id, timestamp=sent_at)
    body = fwa.body_of(fwa.notification(messages=(message,)))
    return body, {"X-Hub-Signature-256": fwa.sign(body, WA_SECRET)}


async def _post(run, platform: str, body: bytes, headers: dict) -> int:
    resp = await http(run.webhook_url(platform), method="POST", body=body,
                      headers=dict(headers, **{"Content-Type": "application/json"}))
    await run.daemon.channels[platform]._tasks.drain(5.0)
    return resp.code


@pytest.mark.gen_test(timeout=15)
@pytest.mark.parametrize("platform", ["line", "whatsapp"])
async def test_replay_within_the_dedup_memory_runs_nothing(tmp_path, platform):
    async with all_fakes() as fakes:
        cfg = config(tmp_path, fakes, ("line", "whatsapp"))
        async with running(cfg, fakes) as run:
            body, headers = _body(platform, "/status", time.time(), "EVT000001")
            assert await _post(run, platform, body, headers) == 200
            routed, calls = len(run.tap.records), len(oc_traffic(fakes))
            assert routed == 1 and calls > 0
            for _ in range(3):
                assert await _post(run, platform, body, headers) == 200
            assert len(run.tap.records) == routed and len(oc_traffic(fakes)) == calls


@pytest.mark.gen_test(timeout=15)
@pytest.mark.parametrize("platform", ["line", "whatsapp"])
async def test_signed_event_older_than_the_dedup_memory_is_not_run(tmp_path, platform):
    async with all_fakes() as fakes:
        cfg = config(tmp_path, fakes, ("line", "whatsapp"))
        async with running(cfg, fakes) as run:
            fresh = await DRIVERS[platform](run).say(CASTS[platform].admin, "/help")
            assert fresh.startswith("Commands:")          # the control: fresh events run
            body, headers = _body(platform, "/status", STALE, "EVT000002")
            assert await _post(run, platform, body, headers) == 200   # ack, but ...
            assert len(run.tap.records) == 1, "a 49-hour-old signed event was run"
