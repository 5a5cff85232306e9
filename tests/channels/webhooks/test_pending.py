"""Acknowledged webhook commands survive a stop/crash before their reply."""

from __future__ import annotations

import asyncio
import time

import pytest

from openclaw_connector.channels.pending import PendingInbounds
from openclaw_connector.messages import ChatRef, Inbound
from openclaw_connector.state import StateStore
from tests.fakes import line as fline
from tests.fakes import whatsapp as fwa
from tests.harness import settle
from tests.channels.webhooks.support import (ALICE_LINE, ALICE_WA, Inbox, post_line, post_wa,
                                    running_stack, webhook_config)


async def _blocked(_inbound) -> None:
    await asyncio.Event().wait()


def held(state) -> list:
    """Commands held in their dedup rows (LINE events, WhatsApp messages)."""
    return state.held_pending("line.event") + state.held_pending("whatsapp.message")


@pytest.mark.gen_test(timeout=10)
async def test_unanswered_commands_are_replayed_by_the_next_start(tmp_path):
    """Commands cut off by a shutdown run again after the restart, once, then are forgotten."""
    async with fline.FakeLine() as fl, fwa.FakeWhatsApp() as fw:
        cfg = webhook_config(tmp_path, line=fl, wa=fw)
        hung = Inbox(_blocked)
        async with running_stack(cfg, hung) as stack:
            event = fline.text_event("/status", reply_token="tok-1", message_id="m1")
            assert (await post_line(stack.url("line"), fline.body_of(event))).code == 200
            msg = fwa.text_message(ALICE_WA, "/jobs", wamid="wamid.P1")
            assert (await post_wa(stack.url("whatsapp"),
                                  fwa.notification(messages=(msg,)))).code == 200
            await hung.wait(2)
            pending = held(stack.state)
            for channel in stack.channels.values():
                await channel._tasks.drain(0.01)      # what a shutdown does to a hung command
        replayed = Inbox()
        async with running_stack(cfg, replayed) as stack:
            items = await replayed.wait(2)
            for channel in stack.channels.values():
                await channel._tasks.drain(1.0)
            left = held(stack.state) + [r for platform in ("line", "whatsapp")
                                        for r in stack.state.pending_inbound(platform)]
        async with running_stack(cfg, replayed) as stack:
            await settle(5)
    assert len(pending) == 2
    by_platform = {i.platform: i for i in items}
    assert by_platform["line"].text == "/status" and by_platform["line"].user_id == ALICE_LINE
    assert by_platform["line"].chat.reply_token == "tok-1"
    assert by_platform["whatsapp"].message_id == "wamid.P1"
    assert by_platform["whatsapp"].chat.user_id == ALICE_WA
    assert left == [] and len(replayed.items) == 2


@pytest.mark.gen_test(timeout=10)
async def test_answered_or_failed_commands_leave_nothing_and_stale_rows_are_dropped(tmp_path):
    """A finished or crashed handler removes its row; a row older than the limit is not run."""
    state = StateStore(str(tmp_path / "s"))
    state.open()
    try:
        pending = PendingInbounds(state, "line", max_age_sec=60)
        chat = ChatRef("line", ALICE_LINE, ALICE_LINE, message_id="1")
        inbound = Inbound("line", ALICE_LINE, ALICE_LINE, "/help", chat, message_id="1")

        async def boom(_i):
            raise RuntimeError("handler bug")

        ok_key = pending.add("e1", inbound)
        await pending.run(ok_key, Inbox(), inbound)
        bad_key = pending.add("e2", inbound)
        with pytest.raises(RuntimeError):
            await pending.run(bad_key, boom, inbound)
        assert state.pending_inbound("line") == []
        pending.add("old", inbound)
        fresh = pending.add("new", inbound)
        rows = {r.key: r for r in state.pending_inbound("line")}
        old = rows["inbound:line:old"]
        from dataclasses import replace
        state.put_pending(replace(old, created=time.time() - 120))
        taken = pending.take_over()
        remaining = [r.key for r in state.pending_inbound("line")]
    finally:
        state.close()
    assert [k for k, _i in taken] == [fresh] and taken[0][1] == inbound
    assert remaining == [fresh]
