"""A command that carried a photo survives a crash with its photo (issue 19): the
pending row of a webhook or Discord command keeps ``photo`` and ``reply_to``."""

from __future__ import annotations

from openclaw_connector.channels.pending import PendingInbounds
from openclaw_connector.messages import ChatRef, Inbound, PhotoRef
from openclaw_connector.state import StateStore


def test_pending_rows_keep_the_photo_and_the_reply_target(tmp_path):
    photo = PhotoRef("line", "C1", "m9", "m9", 123, "image/png")
    chat = ChatRef("line", "C1", "U1", "m10")
    inbound = Inbound("line", "U1", "C1", "/run invert", chat, message_id="m10",
                      photo=photo, reply_to="m9")
    state = StateStore(str(tmp_path / "state"))
    state.open()
    try:
        PendingInbounds(state, "line", seen_ns="line.event").admit("ev1", inbound)
        PendingInbounds(state, "discord").add("m11", inbound)
        held = PendingInbounds(state, "line", seen_ns="line.event").take_over()
        rows = PendingInbounds(state, "discord").take_over()
    finally:
        state.close()
    assert [i.photo for _k, i in held] == [photo] and [i.reply_to for _k, i in held] == ["m9"]
    assert [i for _k, i in rows] == [inbound]
