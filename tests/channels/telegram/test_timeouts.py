"""telegram.request_timeout_sec bounds a send: a Bot API that never answers is a
retryable ChannelSendError after that long, not after the old fixed 60 s."""

from __future__ import annotations

import time

import pytest

from openclaw_connector.messages import ChannelSendError, ChatRef, Reply
from tests.fakes.telegram import FakeTelegram
from tests.channels.telegram.support import Inbox, running_channel

ALICE = ChatRef(platform="telegram", chat_id="42", user_id="42", message_id="7")


@pytest.mark.gen_test(timeout=10)
async def test_send_to_a_silent_api_gives_up_after_request_timeout_sec(tmp_path):
    """With request_timeout_sec 0.3 a stalled sendMessage fails in well under a second."""
    async with FakeTelegram() as tg:
        tg.stall_chat(42)
        async with running_channel(tmp_path, tg, Inbox(),
                                   telegram__request_timeout_sec=0.3) as ch:
            began = time.monotonic()
            with pytest.raises(ChannelSendError) as err:
                await ch.send(ALICE, Reply(text="hi"))
            took = time.monotonic() - began
        assert tg.count("sendMessage") == 1
    assert not err.value.permanent
    assert 0.25 <= took < 3.0
