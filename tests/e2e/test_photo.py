"""Photo in through the real daemon process (issue 19): a Telegram photo with a
``/run`` caption is downloaded through the token-bearing file URL, uploaded to
ComfyUI and bound to LoadImage; no line of the daemon's debug log holds a secret."""

from __future__ import annotations

import pytest

from tests.e2e.process import until
from tests.e2e.world import TG_USER, World
from tests.fakes.openclaw_media import png


@pytest.mark.gen_test(timeout=60)
async def test_telegram_photo_run_in_the_real_daemon_leaks_no_token(tmp_path):
    photo = png(320, 200, tag=b"e2e photo")
    async with World(tmp_path, channels=("telegram",)) as w:
        await w.start_daemon(**{"log.level": "debug"})
        stored = w.telegram.files.queue_photo(photo, caption="/run upscale", user_id=TG_USER,
                                              chat_id=-100999, chat_type="group")
        await until(lambda: any(t.startswith("[Queued] upscale")
                                for t in w.telegram.texts(-100999)), 20, "[Queued] upscale")
        assert await w.daemon.stop() == 0
        assert stored.downloads == 1
        assert [(sub, data) for sub, _name, data in w.openclaw.uploads] == [("openclaw", photo)]
        assert "event=photo_uploaded" in w.daemon.text
        assert w.leaked() == []
        assert w.telegram.token.split(":")[1] not in w.daemon.text
