"""Log lines: format, redaction of secrets (also inside exceptions), access log."""

from __future__ import annotations

import io
import logging
import re

import pytest

from openclaw_connector import config as configmod
from openclaw_connector import log as logmod

SECRETS = {
    "OPENCLAW_CONNECTOR_ADMIN_TOKEN": "adminTokenValue-0001",
    "OPENCLAW_CONNECTOR_TELEGRAM_TOKEN": "987654321:AAFakeTelegramTokenForTestsOnly_xyz",
    "OPENCLAW_CONNECTOR_DISCORD_TOKEN": "discordTokenValue.0002.abcdef",
    "OPENCLAW_CONNECTOR_LINE_CHANNEL_SECRET": "lineChannelSecret0003",
    "OPENCLAW_CONNECTOR_LINE_CHANNEL_ACCESS_TOKEN": "lineAccessToken0004",
    "OPENCLAW_CONNECTOR_WHATSAPP_ACCESS_TOKEN": "waAccessToken0005",
    "OPENCLAW_CONNECTOR_WHATSAPP_VERIFY_TOKEN": "waVerifyToken0006",
    "OPENCLAW_CONNECTOR_WHATSAPP_APP_SECRET": "waAppSecret0007",
    "OPENCLAW_CONNECTOR_WHATSAPP_PHONE_NUMBER_ID": "1234567",
}


@pytest.fixture
def captured():
    cfg = configmod.load(None, env=SECRETS)
    stream = io.StringIO()
    handler = logmod.setup("INFO", secrets=cfg.secrets(), stream=stream)
    yield stream, cfg
    logging.getLogger().removeHandler(handler)


def test_line_format(captured):
    stream, _ = captured
    logmod.get("telegram").warning("poll failed status=%d retry_in=%.1fs", 502, 2.0)
    line = stream.getvalue().strip()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING telegram: poll failed "
                        r"status=502 retry_in=2.0s", line), line


def test_no_secret_reaches_the_log_even_in_exceptions(captured):
    stream, cfg = captured
    log = logmod.get("telegram")
    for secret in cfg.secrets():
        log.info("event=x url=https://host/bot%s/getUpdates", secret)
        try:
            raise RuntimeError("request to /bot%s failed, Authorization: Bearer %s" % (
                secret, secret))
        except RuntimeError:
            log.exception("event=failed")
        log.error("event=y %s", {"token": secret})
    output = stream.getvalue()
    assert output.count("\n") >= 3 * len(cfg.secrets())
    for secret in cfg.secrets():
        assert secret not in output
    assert "***" in output


def test_token_shapes_are_redacted_without_config():
    text = ("bot 123456789:AAAbbbCCCdddEEEfffGGGhhhIIIjjjKKK_l and Authorization: Bearer abc.def "
            "and /whatsapp/webhook?hub.mode=subscribe&hub.verify_token=s3cr3t&hub.challenge=9")
    out = logmod.redact(text, [])
    assert "123456789:AAA" not in out and "abc.def" not in out and "s3cr3t" not in out


def test_traceback_only_at_debug():
    stream = io.StringIO()
    handler = logmod.setup("INFO", stream=stream)
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            logmod.get("x").exception("event=oops")
        assert "Traceback" not in stream.getvalue()
        assert "error=ValueError: boom" in stream.getvalue()
        handler = logmod.setup("DEBUG", stream=stream)
        try:
            raise ValueError("boom2")
        except ValueError:
            logmod.get("x").exception("event=oops")
        assert "Traceback" in stream.getvalue()
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)


def test_log_file_reopens_after_rotation(tmp_path):
    path = tmp_path / "c.log"
    handler = logmod.setup("INFO", file=str(path))
    try:
        logmod.get("x").info("event=before")
        path.rename(tmp_path / "c.log.1")
        logmod.reopen()
        logmod.get("x").info("event=after")
        assert "event=before" in (tmp_path / "c.log.1").read_text()
        assert "event=after" in path.read_text()
    finally:
        logging.getLogger().removeHandler(handler)


def test_log_file_lines_are_written_by_the_end_of_the_loop_pass(tmp_path):
    """Inside the event loop an info line reaches the file when the current pass ends
    (one write for many lines); an error line is written at once."""
    import asyncio

    path = tmp_path / "c.log"
    handler = logmod.setup("INFO", file=str(path))
    seen: dict = {}

    async def scenario() -> None:
        logmod.get("x").info("event=one")
        logmod.get("x").info("event=two")
        seen["same_pass"] = path.read_text()
        logmod.get("x").error("event=bad")
        seen["after_error"] = path.read_text()
        # Callbacks run in order: this one comes after the flush the lines scheduled.
        loop = asyncio.get_running_loop()
        after_flush = loop.create_future()
        loop.call_soon(after_flush.set_result, None)
        await asyncio.wait_for(after_flush, 5)
        seen["next_pass"] = path.read_text()

    try:
        asyncio.run(scenario())
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    assert "event=one" not in seen["same_pass"]
    assert "event=two" in seen["after_error"] and "event=bad" in seen["after_error"]
    assert seen["next_pass"].count("\n") == 3
