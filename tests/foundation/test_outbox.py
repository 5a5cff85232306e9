"""The Outbox's policy on its own (delivery.py), with a scripted channel: resume points,
the attempt cap counted from the last progress, "images refused → the words", a stop
during a wait, durable resume points across a restart, and the Sent/Capabilities data."""

from __future__ import annotations

import asyncio
from typing import Any, Optional

import pytest

from openclaw_connector.backoff import BackoffPolicy
from openclaw_connector.channels import line, whatsapp
from openclaw_connector.channels.telegram import channel as telegram
from openclaw_connector.channels.base import ChannelDeps
from openclaw_connector.channels.console import ConsoleChannel
from openclaw_connector.delivery import DONE, FAILED, PROGRESS, STOPPED, Delivery
from openclaw_connector.messages import Capabilities, ChannelSendError, ChatRef, Image, \
    Reply, Sent
from openclaw_connector.state import StateStore
from tests.harness import outbox_for

CHAT = ChatRef("test", "c1", "u1")
PNG = Image("a.png", b"\x89PNG")


class ScriptedChannel:
    """Sends ``parts`` parts per reply; ``script`` says, per attempt, how far it gets
    before failing: ``(sent_parts, ChannelSendError)`` or None for success."""

    platform = "test"
    capabilities = Capabilities()           # no edits

    def __init__(self, *script: Optional[tuple[int, Exception]]) -> None:
        self.script = list(script)
        self.calls: list[tuple[Reply, int, str]] = []
        self.called = asyncio.Event()

    async def send(self, chat: ChatRef, reply: Reply, *, start_part: int = 0,
                   key: str = "") -> Sent:
        self.calls.append((reply, start_part, key))
        self.called.set()
        step = self.script.pop(0) if self.script else None
        if step is None:
            return Sent("test", chat.chat_id, "m%d" % start_part, "m-last")
        sent_parts, exc = step
        if isinstance(exc, ChannelSendError):
            exc.sent_parts = sent_parts
            exc.sent = Sent("test", chat.chat_id, "m%d" % start_part) \
                if sent_parts > start_part else None
        raise exc


def transient(text: str = "down", **kw: Any) -> ChannelSendError:
    return ChannelSendError(text, **kw)


@pytest.mark.gen_test(timeout=5)
async def test_retry_resumes_at_the_part_that_failed_and_merges_the_ids():
    channel = ScriptedChannel((1, transient()), (2, transient()), None)
    delivery = await outbox_for(channel).deliver(CHAT, Reply("x"), key="k")
    assert [start for _r, start, _k in channel.calls] == [0, 1, 2]
    assert {k for _r, _s, k in channel.calls} == {"k"}
    assert delivery == Delivery(DONE, 3, Sent("test", "c1", "m0", "m-last"))


@pytest.mark.gen_test(timeout=5)
async def test_the_cap_counts_attempts_that_delivered_nothing_new():
    """attempts=2: a reply that gets one part further each time still completes; a part
    that failed twice (the attempt that reached it counts) gives up."""
    going = ScriptedChannel((1, transient()), (2, transient()), (3, transient()), None)
    assert (await outbox_for(going, attempts=2).deliver(CHAT, Reply("x"), key="k")).done
    stuck = ScriptedChannel((1, transient()), (1, transient()), (1, transient()), None)
    delivery = await outbox_for(stuck, attempts=2).deliver(CHAT, Reply("x"), key="k")
    assert delivery.status == FAILED and delivery.attempts == 2 and not delivery.permanent


@pytest.mark.gen_test(timeout=5)
async def test_images_refused_before_any_part_send_the_words_with_a_note():
    channel = ScriptedChannel((0, transient("too big", permanent=True)), None)
    delivery = await outbox_for(channel).deliver(CHAT, Reply("[Done] x", (PNG,)), key="k")
    (_first, (words, start, key)) = channel.calls
    assert delivery.done and start == 0 and key == "k:words" and words.images == ()
    assert words.text == "[Done] x\n(images not attached: the platform refused them)"


@pytest.mark.gen_test(timeout=5)
async def test_images_refused_after_the_caption_send_only_the_note():
    """The caption already went: the fallback must not send it again."""
    channel = ScriptedChannel((1, transient("too big", permanent=True)), None)
    await outbox_for(channel).deliver(CHAT, Reply("[Done] x", (PNG,)), key="k")
    (_first, (words, start, _key)) = channel.calls
    assert words.text == "(images not attached: the platform refused them)" and start == 0


@pytest.mark.gen_test(timeout=5)
async def test_permanent_refusal_of_text_is_not_retried():
    channel = ScriptedChannel((0, transient("blocked", permanent=True)), None)
    delivery = await outbox_for(channel).deliver(CHAT, Reply("hi"), key="k")
    assert delivery.status == FAILED and delivery.permanent and len(channel.calls) == 1


@pytest.mark.gen_test(timeout=5)
async def test_unknown_errors_are_retried_and_a_missing_channel_fails_at_once():
    channel = ScriptedChannel((0, RuntimeError("surprise")), None)
    assert (await outbox_for(channel).deliver(CHAT, Reply("hi"), key="k")).attempts == 2
    missing = await outbox_for(channel).deliver(ChatRef("nope", "c"), Reply("hi"), key="k")
    assert missing.status == FAILED and missing.permanent and missing.attempts == 0


@pytest.mark.gen_test(timeout=5)
async def test_stop_during_a_retry_after_wait_returns_stopped_at_once():
    """A 30 s retry_after: setting the stop event ends the wait now, no further send."""
    stopping = asyncio.Event()
    channel = ScriptedChannel((0, transient("flood", retry_after=30.0)), None)
    outbox = outbox_for(channel, stopping=stopping)
    task = asyncio.ensure_future(outbox.deliver(CHAT, Reply("hi"), key="k"))
    await asyncio.wait_for(channel.called.wait(), 2)
    stopping.set()
    delivery = await asyncio.wait_for(task, 1)
    assert delivery.status == STOPPED and len(channel.calls) == 1


@pytest.mark.gen_test(timeout=5)
async def test_durable_resume_point_survives_a_restart_and_is_cleared_when_done(tmp_path):
    state = StateStore(str(tmp_path / "state"))
    state.open()
    try:
        stopping = asyncio.Event()
        stopping.set()                      # the first wait ends the run: a shutdown
        first = ScriptedChannel((1, transient()))
        stopped = await outbox_for(first, state=state, stopping=stopping).deliver(
            CHAT, Reply("x"), key="w1", durable=True)
        assert stopped.status == STOPPED
        assert state.kv(PROGRESS).get_json("w1") == {"sent_parts": 1, "first_id": "m0"}
        after = ScriptedChannel(None)
        done = await outbox_for(after, state=state).deliver(CHAT, Reply("x"), key="w1",
                                                            durable=True)
        assert [start for _r, start, _k in after.calls] == [1]
        assert done.sent == Sent("test", "c1", "m0", "m-last")
        assert state.kv(PROGRESS).get("w1") is None
    finally:
        state.close()


@pytest.mark.gen_test(timeout=5)
async def test_the_words_only_fallback_never_overwrites_the_results_resume_point(tmp_path):
    """Progress inside the fallback reply belongs to that reply, not to the result a
    restart rebuilds: the stored resume point stays the result's own."""
    state = StateStore(str(tmp_path / "state"))
    state.open()
    try:
        stopping = asyncio.Event()
        stopping.set()
        channel = ScriptedChannel((2, transient("too big", permanent=True)),
                                  (1, transient("flaky")))
        delivery = await outbox_for(channel, state=state, stopping=stopping).deliver(
            CHAT, Reply("[Done] x", (PNG,)), key="w2", durable=True)
        assert delivery.status == STOPPED
        assert state.kv(PROGRESS).get_json("w2") == {"sent_parts": 2, "first_id": "m0"}
    finally:
        state.close()


@pytest.mark.gen_test(timeout=5)
async def test_a_card_on_a_channel_that_cannot_edit_is_sent_once():
    """Without edits the later states are dropped (the result message follows)."""
    channel = ScriptedChannel()
    outbox = outbox_for(channel, card_interval=0)
    for text in ("[Queued]", "[Running]", "[Running] 50%"):
        await outbox.update("job", CHAT, Reply(text))
    assert [r.text for r, _s, _k in channel.calls] == ["[Queued]"]


class EditingChannel(ScriptedChannel):
    capabilities = Capabilities(edit=True)

    def __init__(self) -> None:
        super().__init__()
        self.edits: list[tuple[Sent, str]] = []

    async def edit(self, sent: Sent, reply: Reply) -> Sent:
        self.edits.append((sent, reply.text))
        return sent


@pytest.mark.gen_test(timeout=5)
async def test_a_stop_ends_a_card_update_waiting_for_its_throttle():
    stopping = asyncio.Event()
    channel = EditingChannel()
    outbox = outbox_for(channel, stopping=stopping, card_interval=30.0)
    await outbox.update("job", CHAT, Reply("[Queued]"))
    waiting = asyncio.ensure_future(outbox.update("job", CHAT, Reply("[Running]")))
    stopping.set()
    await asyncio.wait_for(waiting, 1)
    assert channel.edits == [] and len(channel.calls) == 1
    outbox_now = outbox_for(channel, card_interval=0)
    await outbox_now.update("job2", CHAT, Reply("[Queued]"))
    await outbox_now.update("job2", CHAT, Reply("[Running]"))
    assert channel.edits == [(Sent("test", "c1", "m0", "m-last"), "[Running]")]


def test_sent_is_plain_storable_data():
    sent = Sent("telegram", "-100200", "17", "19")
    assert Sent.from_json(sent.to_json()) == sent


def test_capabilities_say_which_channels_edit():
    assert telegram.CAPABILITIES.edit and telegram.CAPABILITIES.max_upload_bytes > 0
    assert not line.CAPABILITIES.edit and not whatsapp.CAPABILITIES.edit
    assert Capabilities() == Capabilities(False, False, 0, False, False, 0)


@pytest.mark.gen_test(timeout=5)
async def test_a_channel_that_cannot_edit_refuses_for_good():
    """The console (like LINE and WhatsApp) has ``edit`` so it fits the Channel
    interface, but an edit is a permanent refusal, as its capabilities say."""
    console = ConsoleChannel(None, _ignore, ChannelDeps(state=None, http=None,
                                                        retry=BackoffPolicy(), metrics=None))
    assert not console.capabilities.edit
    with pytest.raises(ChannelSendError) as err:
        await console.edit(Sent("console", "console", "1", "1"), Reply("x"))
    assert err.value.permanent


async def _ignore(_inbound: Any) -> None:
    return None
