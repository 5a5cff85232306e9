"""Telegram's ``--check`` probe: ``getMe`` proves the bot token (platforms.md §1).

401 is a revoked or wrong token, 404 a malformed one (the token is part of the
path, so Telegram cannot route it). The URL holds the token: only
``scheme://host`` of ``api_base`` ever reaches a line.
"""

from __future__ import annotations

from openclaw_connector.config import TelegramConfig
from openclaw_connector.net.probe import Prober, unreachable
from openclaw_connector.net.transport import HTTPTransport
from openclaw_connector.probe import ProbeResult, fail, ok


async def probe(cfg: TelegramConfig, http: HTTPTransport, timeout_sec: float) -> ProbeResult:
    """``getMe``: ``OK telegram: bot @name`` or the failure and its fix."""
    answer = await Prober(http, timeout_sec).get("%s/bot%s/getMe" % (cfg.api_base, cfg.token))
    again = "copy it again from @BotFather (/mybots → API Token)"
    if answer.code == 200 and answer.field("ok") is True:
        return ok("telegram", "bot @%s" % (answer.field("result", "username") or "?"))
    if answer.code == 0:
        return fail("telegram", unreachable(cfg.api_base, answer, "check the network, DNS "
                                            "and proxy, or telegram.api_base"))
    if answer.code == 401:
        return fail("telegram", "401 Unauthorized — the token is wrong or was revoked; " + again)
    if answer.code == 404:
        return fail("telegram", "404 Not Found — the token is malformed; " + again)
    return fail("telegram", "%s from getMe — Telegram may be down; run --check again later"
                % answer.status_text())
