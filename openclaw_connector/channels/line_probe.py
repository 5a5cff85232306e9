"""LINE's ``--check`` probe: ``GET /v2/bot/info`` proves the channel access token.

The channel secret cannot be probed (it only signs webhooks LINE sends us);
line.py's signature check is what proves it, at the first webhook.
"""

from __future__ import annotations

from openclaw_connector.config import LineConfig
from openclaw_connector.net.probe import Prober, unreachable
from openclaw_connector.net.transport import HTTPTransport
from openclaw_connector.probe import ProbeResult, fail, ok


async def probe(cfg: LineConfig, http: HTTPTransport, timeout_sec: float) -> ProbeResult:
    """``OK line: bot Name (@basic)`` or the failure and its fix."""
    answer = await Prober(http, timeout_sec).get(
        cfg.api_base + "/v2/bot/info", {"Authorization": "Bearer %s" % cfg.channel_access_token})
    if answer.code == 200 and isinstance(answer.body, dict):
        name = answer.body.get("displayName") or "?"
        basic = answer.body.get("basicId")
        return ok("line", "bot %s%s" % (name, " (%s)" % basic if basic else ""))
    if answer.code == 0:
        return fail("line", unreachable(cfg.api_base, answer, "check the network, DNS and "
                                        "proxy, or line.api_base"))
    if answer.code == 401:
        return fail("line", "401 Unauthorized — the channel access token is wrong or expired; "
                    "issue a long-lived one in the LINE Developers console (Messaging API tab) "
                    "and set line.channel_access_token")
    return fail("line", "%s from /v2/bot/info — LINE may be down; run --check again later"
                % answer.status_text())
