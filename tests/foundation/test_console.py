"""The console channel over a pipe, with the daemon in-process."""

from __future__ import annotations

import pytest

from tests.harness import make_config, running_daemon


@pytest.mark.gen_test(timeout=10)
async def test_help_over_a_pipe(tmp_path):
    async with running_daemon(make_config(tmp_path), console=True) as daemon:
        daemon.pipe.send("/HELP")
        text = await daemon.out.wait_for("Commands:")
        assert "/help - show the commands you may use" in text


@pytest.mark.gen_test(timeout=10)
async def test_replies_come_in_the_order_typed_and_eof_stops(tmp_path):
    async with running_daemon(make_config(tmp_path), console=True) as daemon:
        daemon.pipe.send("/one")
        daemon.pipe.send("not a command")
        daemon.pipe.send("/help")
        daemon.pipe.close()
        await daemon.wait()
        text = daemon.out.text
        assert daemon.stop_reason == "console end of input"
    first = text.index("Unknown command /one.")
    second = text.index("Commands start with /.")
    third = text.index("Commands:")
    assert first < second < third


@pytest.mark.gen_test(timeout=10)
async def test_unbalanced_quote_gets_one_line(tmp_path):
    async with running_daemon(make_config(tmp_path), console=True) as daemon:
        daemon.pipe.send('/run tpl prompt="a cat\'s hat')
        text = await daemon.out.wait_for("Unbalanced quote")
        assert "Traceback" not in text
