"""Pure functions of the webhook channels: parsing and signatures."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from openclaw_connector.channels.line import event_to_inbound, parse_events
from openclaw_connector.channels.webhook import (hub_signature, line_signature,
                                                 signature_matches)
from openclaw_connector.channels.whatsapp import _list, iter_values, message_to_inbound
from tests.fakes import line as fline
from tests.fakes import whatsapp as fwa

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(
                        ["type", "mode", "source", "message", "text", "id", "userId",
                         "groupId", "roomId", "replyToken", "mention", "mentionees",
                         "isSelf", "from", "body", "events", "entry", "changes", "value"]),
                        inner, max_size=5), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(payload=JSON)
def test_parsers_never_raise_on_odd_shapes(payload):
    """Any JSON value: LINE/WhatsApp parsing gives events or ValueError, never a crash."""
    now = time.time()
    try:
        for event in parse_events(payload):
            event_to_inbound(event, now)
    except ValueError:
        pass
    try:
        for value in iter_values(payload):
            for message in _list(value.get("messages")):
                message_to_inbound(message, now)
    except ValueError:
        pass
    event_to_inbound(payload, now)
    message_to_inbound(payload, now)


def test_signatures_match_the_fakes_and_compare_strictly():
    body = fline.body_of(fline.text_event("/help"))
    assert line_signature("s3cret", body) == fline.sign(body, "s3cret")
    assert hub_signature("s3cret", body) == fwa.sign(body, "s3cret")
    good = line_signature("s3cret", body)
    assert signature_matches(good, good) and signature_matches(good, " %s " % good)
    assert not signature_matches(good, None) and not signature_matches(good, "")
    assert not signature_matches(good, good[:-2]) and not signature_matches(good, "é" + good)


def test_chatref_json_round_trips_every_field():
    """ChatRef.to_json spells its fields out (speed); it must still carry all of them."""
    import dataclasses

    from openclaw_connector.messages import ChatRef
    ref = ChatRef(platform="line", chat_id="C1", user_id="U1", message_id="m1", is_group=True,
                  reply_token="tok", received_at=12.5)
    assert ChatRef.from_json(ref.to_json()) == ref
    assert set(__import__("json").loads(ref.to_json())) == {
        f.name for f in dataclasses.fields(ChatRef)}
