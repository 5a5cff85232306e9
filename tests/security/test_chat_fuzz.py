"""Fuzzed Telegram updates and Discord MESSAGE_CREATE payloads (hypothesis) against one
real daemon with both channels on, fed through the fakes (getUpdates, the gateway).

Invariants after each example: the channel is still up (no fatal state, no new
gateway session), no ERROR log line or logged exception, every update is
handled or skipped (Telegram's offset moves past it), and no sender outside
the allowlists ever got a reply. Example counts follow ``SECURITY_FUZZ_EXAMPLES``
like test_webhook_fuzz.py.
"""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes import discord as fdc
from tests.security.background import BackgroundDaemon
from tests.security.strategies import COMMANDS, JSON, TEXTS, budget, maybe
from tests.security.support import CASTS

TG, DC = CASTS["telegram"], CASTS["discord"]


@pytest.fixture(scope="module")
def bg(tmp_path_factory):
    with BackgroundDaemon(tmp_path_factory.mktemp("chatfuzz"), ("telegram", "discord"),
                          openclaw={"templates": {}}) as d:
        yield d


def _allowed(cast, user: str, chat: str) -> bool:
    return user in set(cast.allowed_users) | {cast.admin.user} or chat in cast.allowed_chats


def invariants(bg: BackgroundDaemon, before: dict) -> None:
    logs = bg.records[before["logs"]:]
    bad = [r for r in logs if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [r.getMessage()[:300] for r in bad]
    for inbound, reply in bg.run.tap.records:
        cast = CASTS[inbound.platform]
        if not _allowed(cast, inbound.user_id, inbound.chat_id):
            assert reply is None, (inbound.platform, inbound.user_id, inbound.text)
    for name in ("telegram", "discord"):
        assert bg.run.daemon.channels[name].health.state != "fatal", name


# --------------------------------------------------------------------------- Telegram

TG_IDS = st.sampled_from([int(s.user) for s in TG.roles()] + [int(TG.chat.chat), 0, -1])
TG_MESSAGE = maybe(st.fixed_dictionaries({}, optional={
    "message_id": maybe(st.integers(0, 10 ** 6)),
    "from": maybe(st.fixed_dictionaries({}, optional={
        "id": maybe(TG_IDS), "is_bot": maybe(st.booleans()),
        "username": maybe(st.text(max_size=8))})),
    "chat": maybe(st.fixed_dictionaries({}, optional={
        "id": maybe(TG_IDS),
        "type": maybe(st.sampled_from(["private", "group", "supergroup", "channel"]))})),
    "text": maybe(TEXTS),
    "entities": maybe(st.lists(maybe(st.fixed_dictionaries({}, optional={
        "type": maybe(st.sampled_from(["mention", "bot_command", "text_mention"])),
        "offset": maybe(st.integers(-5, 50) | st.floats()),
        "length": maybe(st.integers(-5, 50) | st.floats()),
        "user": maybe(st.fixed_dictionaries({"id": maybe(st.integers())}))})), max_size=3)),
    "reply_to_message": maybe(st.fixed_dictionaries({"from": maybe(st.fixed_dictionaries(
        {"id": maybe(st.integers())}))}))}))
TG_UPDATE = st.one_of(
    st.fixed_dictionaries({}, optional={"message": TG_MESSAGE,
                                        "edited_message": TG_MESSAGE,
                                        "callback_query": JSON}),
    st.dictionaries(st.text(max_size=10).filter(lambda k: k != "update_id"), JSON,
                    max_size=3))


@budget(100)
@given(update=TG_UPDATE)
def test_telegram_updates_fuzz(bg, update):
    before = bg.snapshot()
    tg = bg.fakes.tg
    channel = bg.run.daemon.channels["telegram"]

    async def feed() -> int:
        uid = tg.queue_update(update)
        await channel.wait_handled(uid, 5)
        return uid
    uid = bg.call(feed)
    assert channel.introspect().offset > uid
    invariants(bg, before)


# --------------------------------------------------------------------------- Discord

DC_IDS = st.sampled_from([s.user for s in DC.roles()])
DC_MESSAGE = st.fixed_dictionaries({
    "id": st.integers(10 ** 17, 10 ** 17 + 10 ** 6).map(str),
    "channel_id": st.sampled_from([DC.chat.chat, "1200000000000000999", "13000000000000001"]),
    "content": st.sampled_from(COMMANDS) | st.text(max_size=40),
    "author": st.fixed_dictionaries({"id": DC_IDS, "username": st.text(max_size=8)},
                                    optional={"bot": st.booleans()}),
}, optional={
    "guild_id": st.sampled_from([fdc.GUILD_ID]),
    "type": st.sampled_from([0, 19, 7, 20]),
    "mentions": st.lists(st.fixed_dictionaries({"id": st.sampled_from([fdc.BOT_ID, "1"])}),
                         max_size=2),
    "webhook_id": st.text(max_size=5),
    "attachments": st.lists(JSON, max_size=1),
})


@budget(80)
@given(d=DC_MESSAGE)
def test_discord_message_create_fuzz(bg, d):
    """Well-typed MESSAGE_CREATE payloads with random values, then an admin sentinel DM:
    the gateway stays up, nobody outside the lists is answered."""
    before = bg.snapshot()
    dc = bg.fakes.dc
    identifies = len(dc.identifies)
    admin_dm = "13" + DC.admin.user[2:]

    async def feed() -> None:
        dc.emit("MESSAGE_CREATE", d)
        sent = len(dc.sends)
        dc.message_create("/help", author_id=DC.admin.user, channel_id=admin_dm)
        await dc.wait_for(lambda: any(s.channel_id == admin_dm for s in dc.sends[sent:]),
                          5, "sentinel reply")
    bg.call(feed)
    # A resume after a late heartbeat ACK (the loop is shared with the fakes) is fine;
    # a new session would mean the payload broke the connection.
    assert len(dc.identifies) == identifies
    invariants(bg, before)


def test_telegram_update_with_an_infinite_entity_offset_is_not_stuck(bg):
    """Python's json reads ``Infinity``; ``int(inf)`` raised OverflowError inside
    parse_update, the update stayed pending forever and came back after every restart."""
    tg, channel = bg.fakes.tg, bg.run.daemon.channels["telegram"]
    before = bg.snapshot()
    admin = int(TG.admin.user)

    async def feed() -> int:
        uid = tg.queue_update({"message": {
            "message_id": 77, "from": {"id": admin}, "chat": {"id": admin, "type": "private"},
            "text": "@ourbot /help",
            "entities": [{"type": "mention", "offset": float("inf"), "length": 7}]}})
        await channel.wait_handled(uid, 5)
        return uid
    uid = bg.call(feed)
    assert channel.introspect().offset > uid
    invariants(bg, before)
    assert bg.run.tap.records[-1][1].text.startswith("Commands:")
