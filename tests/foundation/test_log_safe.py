"""The cheap log line (log.SAFE): id-only fields skip the token regexes, and still no
secret or token-shaped value ever reaches a line."""

from __future__ import annotations

import io
import logging

import pytest

from openclaw_connector import config as configmod
from openclaw_connector import log as logmod
from tests.foundation.test_log import SECRETS

UNCONFIGURED_TOKEN = "123456789:AAHunconfiguredTokenShapedValue_abcdef"


class CountingPattern:
    """Wraps one token regex and counts the lines it was run over."""

    def __init__(self, pattern, counter: list) -> None:
        self._pattern, self._counter = pattern, counter
        self.groups = pattern.groups

    def sub(self, repl, text):
        self._counter.append(text)
        return self._pattern.sub(repl, text)


@pytest.fixture
def captured(monkeypatch):
    cfg = configmod.load(None, env=SECRETS)
    stream = io.StringIO()
    handler = logmod.setup("INFO", secrets=cfg.secrets(), stream=stream)
    scanned: list = []
    monkeypatch.setattr(logmod, "_TOKEN_PATTERNS",
                        [CountingPattern(p, scanned) for p in logmod._TOKEN_PATTERNS])
    yield stream, cfg, scanned
    logging.getLogger().removeHandler(handler)


def test_id_only_fields_skip_the_token_regexes(captured):
    """Platform, ids, a command word and numbers: printed as given, no regex run."""
    stream, _cfg, scanned = captured
    logmod.get("router").info("event=command platform=%s user=%s chat=%s command=%s "
                              "took_ms=%.1f", "line", "U" + "a" * 32, -1001234, "status",
                              1.25, extra=logmod.SAFE)
    assert stream.getvalue().endswith("router: event=command platform=line user=U%s "
                                      "chat=-1001234 command=status took_ms=1.2\n" % ("a" * 32))
    assert scanned == []


@pytest.mark.parametrize("value", [
    UNCONFIGURED_TOKEN,                             # token-shaped: too long to be an id
    "Bearer sk-live-abcdef",                        # spaces: user text, not an id
    "x?sig=abcdef&token=qwerty",                    # query syntax
])
def test_anything_not_id_shaped_still_goes_through_redaction(captured, value):
    """A SAFE call with one non-id argument is redacted in full, like any other line."""
    stream, _cfg, scanned = captured
    logmod.get("router").info("event=command text=%s", value, extra=logmod.SAFE)
    assert scanned, "the regexes were skipped for %r" % value
    assert "***" in stream.getvalue()
    assert "abcdef" not in stream.getvalue() and "unconfigured" not in stream.getvalue()


def test_no_configured_secret_reaches_a_safe_line(captured):
    """A configured secret passed as an id-shaped field is still replaced."""
    stream, cfg, _scanned = captured
    for secret in cfg.secrets():
        logmod.get("router").info("event=command user=%s", secret, extra=logmod.SAFE)
    output = stream.getvalue()
    assert output.count("\n") == len(cfg.secrets())
    assert all(secret not in output for secret in cfg.secrets())
