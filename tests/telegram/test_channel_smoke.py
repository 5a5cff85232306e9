import pytest

from openclaw_connector.messages import ChatRef, Reply
from tests.fakes.telegram import FakeTelegram
from tests.telegram.support import Inbox, running_channel


@pytest.mark.gen_test(timeout=10)
async def test_smoke(tmp_path):
    async with FakeTelegram() as tg:
        inbox = Inbox()
        async with running_channel(tmp_path, tg, inbox) as ch:
            tg.queue_message("/help", user_id=42)
            items = await inbox.wait(1)
            assert items[0].text == "/help"
            assert items[0].bot_name == "ourbot"
            await ch.send(items[0].chat, Reply(text="hi"))
            assert tg.texts("42") == ["hi"]
