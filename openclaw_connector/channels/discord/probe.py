"""Discord's ``--check`` probe: ``GET /users/@me`` for the identity, ``/gateway/bot`` for
the identify budget (platforms.md, Discord; faults.md #9).

A token of a user account answers 200 without ``bot: true``; no session starts
left means the daemon must stay stopped until they reset, or Discord may reset
the token.
"""

from __future__ import annotations

from openclaw_connector.config import DiscordConfig
from openclaw_connector.net.probe import Prober, unreachable
from openclaw_connector.net.transport import HTTPTransport
from openclaw_connector.probe import ProbeResult, fail, ok


async def probe(cfg: DiscordConfig, http: HTTPTransport, timeout_sec: float) -> ProbeResult:
    """``OK discord: bot @name, R/T session starts left`` or the failure and its fix."""
    prober = Prober(http, timeout_sec)
    headers = {"Authorization": "Bot %s" % cfg.token}
    answer = await prober.get(cfg.api_base + "/users/@me", headers)
    if answer.code == 0:
        return fail("discord", unreachable(cfg.api_base, answer, "check the network, DNS "
                                           "and proxy, or discord.api_base"))
    if answer.code == 401:
        return fail("discord", "401 Unauthorized — the bot token is wrong or was reset; copy "
                    "it again from the Developer Portal (Applications → Bot → Reset Token)")
    if answer.code != 200 or not isinstance(answer.body, dict):
        return fail("discord", "%s from /users/@me — Discord may be down or rate limiting "
                    "this address; run --check again later" % answer.status_text())
    if answer.body.get("bot") is not True:
        return fail("discord", "the token belongs to a user account, not a bot; use the "
                    "token from Developer Portal → Applications → Bot")
    found = "bot @%s" % (answer.body.get("username") or "?")
    gateway = await prober.get(cfg.api_base + "/gateway/bot", headers)
    limit = gateway.field("session_start_limit") if gateway.code == 200 else None
    if not isinstance(limit, dict):
        return ok("discord", found)
    remaining, total = limit.get("remaining"), limit.get("total")
    if remaining == 0:
        hours = float(limit.get("reset_after") or 0) / 3600000.0
        return fail("discord", "%s, but no gateway session starts are left (0/%s); they "
                    "reset in %.1f h — keep the daemon stopped until then, or Discord may "
                    "reset the token" % (found, total, hours))
    return ok("discord", "%s, %s/%s session starts left" % (found, remaining, total))
