"""WhatsApp's ``--check`` probe: ``GET /{phone_number_id}`` on the Graph API.

Graph error 190 is the access token, 100 (or 404) the phone number id, 10/200
(or 403) a missing ``whatsapp_business_messaging`` permission. The app secret
and verify token cannot be probed: Meta uses them when it calls us.
"""

from __future__ import annotations

from urllib.parse import quote

from openclaw_connector.config import WhatsAppConfig
from openclaw_connector.net.probe import Prober, unreachable
from openclaw_connector.net.transport import HTTPTransport
from openclaw_connector.probe import ProbeResult, fail, ok


async def probe(cfg: WhatsAppConfig, http: HTTPTransport, timeout_sec: float) -> ProbeResult:
    """``OK whatsapp: number +1 555… (Verified Name)`` or the failure and its fix."""
    answer = await Prober(http, timeout_sec).get(
        "%s/%s" % (cfg.api_base, quote(str(cfg.phone_number_id), safe="")),
        {"Authorization": "Bearer %s" % cfg.access_token})
    if answer.code == 200 and isinstance(answer.body, dict):
        number = answer.body.get("display_phone_number") or answer.body.get("id") or "?"
        name = answer.body.get("verified_name")
        return ok("whatsapp", "number %s%s" % (number, " (%s)" % name if name else ""))
    if answer.code == 0:
        return fail("whatsapp", unreachable(cfg.api_base, answer, "check the network, DNS "
                                            "and proxy, or whatsapp.api_base"))
    code = answer.field("error", "code")
    shown = code if code is not None else "?"
    if answer.code == 401 or code == 190:
        return fail("whatsapp", "%s (Graph error %s) — the access token is wrong or expired; "
                    "create a permanent System User token in Meta Business Settings and set "
                    "whatsapp.access_token" % (answer.status_text(), shown))
    if code == 100 or answer.code == 404:
        return fail("whatsapp", "%s (Graph error %s) — whatsapp.phone_number_id is wrong or "
                    "this token cannot see it; copy the Phone number ID from WhatsApp → API "
                    "Setup" % (answer.status_text(), shown))
    if answer.code == 403 or code in (10, 200):
        return fail("whatsapp", "%s (Graph error %s) — the token lacks the "
                    "whatsapp_business_messaging permission; grant it to the System User"
                    % (answer.status_text(), code))
    return fail("whatsapp", "%s from the Graph API — Meta may be down; run --check again "
                "later" % answer.status_text())
