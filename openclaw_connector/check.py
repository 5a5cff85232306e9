"""``openclaw-connectord -c FILE --check``: prove the config works against the real services.

Runs after the config has been loaded and validated. Contacts ComfyUI
(``GET /openclaw/health``, then one admin-tier call with the admin token,
openclaw-api.md §2.1, §4.1, §4.3) and the identity endpoint of each enabled
platform (platforms.md): Telegram ``getMe``, Discord ``GET /users/@me`` (and
``/gateway/bot`` for the identify budget, faults.md #9), LINE
``GET /v2/bot/info``, WhatsApp ``GET /{phone_number_id}``. Prints one line
per check, ``OK   name: what was found`` or ``FAIL name: what happened — the
fix`` (``WARN`` lines do not fail), then the webhook URLs to paste into the
LINE and WhatsApp consoles, and returns exit status 0 only if every check
passed. The admin call carries the daemon's own headers
(:func:`~openclaw_connector.openclaw.request_headers`), so loopback
convenience mode (no token, the server's own ``Origin``) passes here exactly
when it works for the daemon.

Every request uses the configured base URL and ``openclaw.timeout_sec`` as
its connect and request timeout. No line ever holds a secret: URLs are shown
as ``scheme://host`` only and every line is also passed through the log
redaction with the configured secrets.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from http.client import responses
from typing import Any, Awaitable, Callable, Optional, TextIO
from urllib.parse import quote

from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.simple_httpclient import HTTPTimeoutError

from openclaw_connector import log as logmod
from openclaw_connector.net.proxy import Proxy
from openclaw_connector.net.transport import HTTPTransport, build_transport
from openclaw_connector.net.resolver import public_url
from openclaw_connector.openclaw.client import request_headers


@dataclass(frozen=True)
class Result:
    """One check: ``status`` is OK, FAIL or SKIP; ``detail`` is what was found or the fix."""

    name: str
    status: str
    detail: str

    @property
    def passed(self) -> bool:
        return self.status != "FAIL"

    def line(self) -> str:
        return "%-4s %s: %s" % (self.status, self.name, self.detail)


def ok(name: str, detail: str) -> Result:
    return Result(name, "OK", detail)


def fail(name: str, detail: str) -> Result:
    return Result(name, "FAIL", detail)


def warn(name: str, detail: str) -> Result:
    return Result(name, "WARN", detail)


@dataclass(frozen=True)
class Answer:
    """What came back: an HTTP status and parsed JSON, or ``code == 0`` and a network error."""

    code: int
    body: Any = None
    error: str = ""


class Prober:
    """GETs with explicit timeouts that never raise; owns nothing but a borrowed client."""

    def __init__(self, http: HTTPTransport, timeout_sec: float) -> None:
        self._http = http
        self._timeout = timeout_sec

    async def get(self, url: str, headers: Optional[dict] = None) -> Answer:
        request = HTTPRequest(url, method="GET", headers=headers or {},
                              connect_timeout=self._timeout, request_timeout=self._timeout,
                              follow_redirects=False)
        try:
            response = await self._http.fetch(request, raise_error=False)
        except HTTPTimeoutError:
            return Answer(0, error="timed out after %gs" % self._timeout)
        except HTTPClientError as exc:  # 599 without a timeout: the stream closed
            return Answer(0, error=exc.message or "connection closed without an answer")
        except OSError as exc:  # refused, DNS (gaierror), TLS (SSLError)
            return Answer(0, error=exc.strerror or logmod.one_line_error(exc))
        except Exception as exc:  # anything else: the type name is the clue
            return Answer(0, error=logmod.one_line_error(exc))
        try:
            body = json.loads(response.body or b"null")
        except ValueError:
            body = None
        return Answer(response.code, body)


def _unreachable(base: str, answer: Answer, fix: str) -> str:
    return "cannot reach %s (%s) — %s" % (public_url(base), answer.error, fix)


def _status(answer: Answer) -> str:
    return ("%d %s" % (answer.code, responses.get(answer.code, ""))).strip()


def _field(body: Any, *keys: str) -> Any:
    for key in keys:
        body = body.get(key) if isinstance(body, dict) else None
    return body


# --------------------------------------------------------------------------- ComfyUI / OpenClaw

async def check_comfyui(cfg: Any, probe: Prober) -> list[Result]:
    """``/openclaw/health`` (public tier), then the admin token on ``/openclaw/approvals``."""
    base = cfg.openclaw.url
    answer = await probe.get(base + "/openclaw/health")
    if answer.code == 0:
        return [fail("comfyui", _unreachable(
            base, answer, "start ComfyUI, or set openclaw.url to the address it listens on")),
            Result("comfyui admin token", "SKIP", "ComfyUI is unreachable")]
    if answer.code == 404:
        return [fail("comfyui", "404 on /openclaw/health — ComfyUI answers but the "
                     "ComfyUI-OpenClaw node pack is not loaded; install it and restart ComfyUI"),
                Result("comfyui admin token", "SKIP", "the OpenClaw pack is not loaded")]
    if answer.code != 200 or not isinstance(answer.body, dict):
        return [fail("comfyui", "%s from /openclaw/health — not an OpenClaw health answer; "
                     "check that openclaw.url points at ComfyUI and read its log"
                     % _status(answer)),
                Result("comfyui admin token", "SKIP", "health check failed")]
    version = _field(answer.body, "pack", "version") or "unknown version"
    ready = _field(answer.body, "startup", "ready")
    detail = "OpenClaw %s at %s" % (version, public_url(base))
    if ready is False:
        detail += " (pack still starting up)"
    return [ok("comfyui", detail), await check_admin_token(cfg, probe)]


async def check_admin_token(cfg: Any, probe: Prober) -> Result:
    """One admin-tier call proves the token is accepted (openclaw-api.md §2.1, §4.3).

    ``/openclaw/approvals`` is used rather than ``/openclaw/jobs`` because it
    is not rate limited (§2.5).
    """
    name = "comfyui admin token"
    token = cfg.openclaw.admin_token
    headers = request_headers(cfg.openclaw)
    answer = await probe.get(cfg.openclaw.url + "/openclaw/approvals?status=pending", headers)
    if answer.code == 200:
        pending = _field(answer.body, "pending_count")
        how = "accepted" if token else "no admin token; the server allows this host"
        return ok(name, "%s (%s pending approvals)" % (how, pending if pending is not None
                                                       else "?"))
    if answer.code == 0:
        return fail(name, _unreachable(cfg.openclaw.url, answer, "ComfyUI stopped answering; "
                                       "run --check again"))
    if answer.code == 403:
        said = _field(answer.body, "error") or ""
        if not token and "Origin" in headers:
            return fail(name, "403 %s — the server has OPENCLAW_ADMIN_TOKEN set, or refuses "
                        "this host's Origin; set openclaw.admin_token (or "
                        "OPENCLAW_CONNECTOR_ADMIN_TOKEN) to the server's OPENCLAW_ADMIN_TOKEN"
                        % (said or "Forbidden"))
        if not token:
            return fail(name, "403 %s — ComfyUI is not on this host, so a token is needed: "
                        "set openclaw.admin_token (or OPENCLAW_CONNECTOR_ADMIN_TOKEN) to the "
                        "OPENCLAW_ADMIN_TOKEN value of the ComfyUI server"
                        % (said or "Forbidden"))
        return fail(name, "403 %s — openclaw.admin_token does not match OPENCLAW_ADMIN_TOKEN "
                    "on the ComfyUI server; copy it again into openclaw.admin_token and rerun "
                    "--check" % (said or "Forbidden"))
    if answer.code == 404:
        return fail(name, "404 on /openclaw/approvals — the OpenClaw pack did not finish "
                    "starting (its approvals routes are missing); read the ComfyUI log")
    return fail(name, "%s from /openclaw/approvals — read the ComfyUI log" % _status(answer))


# --------------------------------------------------------------------------- platforms

async def check_telegram(cfg: Any, probe: Prober) -> Result:
    """``getMe``: 401 is a revoked/wrong token, 404 a malformed one (platforms.md §1)."""
    c = cfg.telegram
    answer = await probe.get("%s/bot%s/getMe" % (c.api_base, c.token))
    again = "copy it again from @BotFather (/mybots → API Token)"
    if answer.code == 200 and _field(answer.body, "ok") is True:
        name = _field(answer.body, "result", "username") or "?"
        return ok("telegram", "bot @%s" % name)
    if answer.code == 0:
        return fail("telegram", _unreachable(c.api_base, answer, "check the network, DNS "
                                             "and proxy, or telegram.api_base"))
    if answer.code == 401:
        return fail("telegram", "401 Unauthorized — the token is wrong or was revoked; " + again)
    if answer.code == 404:
        return fail("telegram", "404 Not Found — the token is malformed; " + again)
    return fail("telegram", "%s from getMe — Telegram may be down; run --check again later"
                % _status(answer))


async def check_discord(cfg: Any, probe: Prober) -> Result:
    """``/users/@me`` for the identity, ``/gateway/bot`` for the identify budget."""
    c = cfg.discord
    headers = {"Authorization": "Bot %s" % c.token}
    answer = await probe.get(c.api_base + "/users/@me", headers)
    if answer.code == 0:
        return fail("discord", _unreachable(c.api_base, answer, "check the network, DNS "
                                            "and proxy, or discord.api_base"))
    if answer.code == 401:
        return fail("discord", "401 Unauthorized — the bot token is wrong or was reset; copy "
                    "it again from the Developer Portal (Applications → Bot → Reset Token)")
    if answer.code != 200 or not isinstance(answer.body, dict):
        return fail("discord", "%s from /users/@me — Discord may be down or rate limiting "
                    "this address; run --check again later" % _status(answer))
    if answer.body.get("bot") is not True:
        return fail("discord", "the token belongs to a user account, not a bot; use the "
                    "token from Developer Portal → Applications → Bot")
    found = "bot @%s" % (answer.body.get("username") or "?")
    gateway = await probe.get(c.api_base + "/gateway/bot", headers)
    limit = _field(gateway.body, "session_start_limit") if gateway.code == 200 else None
    if not isinstance(limit, dict):
        return ok("discord", found)
    remaining, total = limit.get("remaining"), limit.get("total")
    if remaining == 0:
        hours = float(limit.get("reset_after") or 0) / 3600000.0
        return fail("discord", "%s, but no gateway session starts are left (0/%s); they "
                    "reset in %.1f h — keep the daemon stopped until then, or Discord may "
                    "reset the token" % (found, total, hours))
    return ok("discord", "%s, %s/%s session starts left" % (found, remaining, total))


async def check_line(cfg: Any, probe: Prober) -> Result:
    """``GET /v2/bot/info`` proves the channel access token (the secret cannot be probed)."""
    c = cfg.line
    answer = await probe.get(c.api_base + "/v2/bot/info",
                             {"Authorization": "Bearer %s" % c.channel_access_token})
    if answer.code == 200 and isinstance(answer.body, dict):
        name = answer.body.get("displayName") or "?"
        basic = answer.body.get("basicId")
        return ok("line", "bot %s%s" % (name, " (%s)" % basic if basic else ""))
    if answer.code == 0:
        return fail("line", _unreachable(c.api_base, answer, "check the network, DNS and "
                                         "proxy, or line.api_base"))
    if answer.code == 401:
        return fail("line", "401 Unauthorized — the channel access token is wrong or expired; "
                    "issue a long-lived one in the LINE Developers console (Messaging API tab) "
                    "and set line.channel_access_token")
    return fail("line", "%s from /v2/bot/info — LINE may be down; run --check again later"
                % _status(answer))


async def check_whatsapp(cfg: Any, probe: Prober) -> Result:
    """``GET /{phone_number_id}``: Graph error 190 is the token, 100 the phone number id."""
    c = cfg.whatsapp
    answer = await probe.get("%s/%s" % (c.api_base, quote(str(c.phone_number_id), safe="")),
                             {"Authorization": "Bearer %s" % c.access_token})
    if answer.code == 200 and isinstance(answer.body, dict):
        number = answer.body.get("display_phone_number") or answer.body.get("id") or "?"
        name = answer.body.get("verified_name")
        return ok("whatsapp", "number %s%s" % (number, " (%s)" % name if name else ""))
    if answer.code == 0:
        return fail("whatsapp", _unreachable(c.api_base, answer, "check the network, DNS and "
                                             "proxy, or whatsapp.api_base"))
    code = _field(answer.body, "error", "code")
    if answer.code == 401 or code == 190:
        return fail("whatsapp", "%s (Graph error %s) — the access token is wrong or expired; "
                    "create a permanent System User token in Meta Business Settings and set "
                    "whatsapp.access_token" % (_status(answer), code if code is not None else "?"))
    if code == 100 or answer.code == 404:
        return fail("whatsapp", "%s (Graph error %s) — whatsapp.phone_number_id is wrong or "
                    "this token cannot see it; copy the Phone number ID from WhatsApp → API "
                    "Setup" % (_status(answer), code if code is not None else "?"))
    if answer.code == 403 or code in (10, 200):
        return fail("whatsapp", "%s (Graph error %s) — the token lacks the "
                    "whatsapp_business_messaging permission; grant it to the System User"
                    % (_status(answer), code))
    return fail("whatsapp", "%s from the Graph API — Meta may be down; run --check again later"
                % _status(answer))


# --------------------------------------------------------------------------- local and driver

def check_network(cfg: Any) -> list[Result]:
    """Which proxy the platform calls (and the Discord gateway) go through."""
    net = cfg.network
    if not net.proxy and not net.http_proxy:
        return []
    used = [Proxy.from_url(url) for url in (net.proxy, net.http_proxy) if url]
    return [ok("proxy", "platform API calls%s go through %s (loopback, %s and "
               "network.no_proxy are dialled directly)" % (
                   " and the Discord gateway" if cfg.discord.on and net.proxy else "",
                   ", ".join("%s:%d" % (p.host, p.port) for p in used),
                   public_url(cfg.openclaw.url)))]


def check_state_dir(cfg: Any) -> Result:
    """The state directory exists and is writable, or can be created."""
    path = os.path.abspath(cfg.state_dir)
    if os.path.isdir(path):
        if os.access(path, os.W_OK | os.X_OK):
            return ok("state_dir", "%s is writable" % path)
        return fail("state_dir", "%s is not writable by this user — chown it to the "
                    "service user or set state_dir" % path)
    parent = os.path.dirname(path)
    while parent and not os.path.isdir(parent):
        parent = os.path.dirname(parent)
    if parent and os.access(parent, os.W_OK | os.X_OK):
        return ok("state_dir", "%s will be created" % path)
    return fail("state_dir", "%s does not exist and %s is not writable — create it for the "
                "service user or set state_dir" % (path, parent or "/"))


PLATFORM_CHECKS: dict[str, Callable[[Any, Prober], Awaitable[Result]]] = {
    "telegram": check_telegram,
    "discord": check_discord,
    "line": check_line,
    "whatsapp": check_whatsapp,
}


async def collect(cfg: Any, http: HTTPTransport) -> list[Result]:
    """Every check, run concurrently, in a stable order."""
    probe = Prober(http, cfg.openclaw.timeout_sec)
    platforms = [name for name in PLATFORM_CHECKS if getattr(cfg, name).on]
    comfyui, channels = await asyncio.gather(
        check_comfyui(cfg, probe),
        asyncio.gather(*(PLATFORM_CHECKS[name](cfg, probe) for name in platforms)))
    enabled = ", ".join(cfg.enabled_channels()) or "none"
    results = [ok("config", "%s (channels: %s)" % (cfg.source or "defaults", enabled)),
               check_state_dir(cfg)]
    results.extend(comfyui)
    results.extend(channels)
    for text in cfg.warnings():
        where, _sep, sentence = text.partition(": ")
        results.append(warn(where, sentence))
    results.extend(check_network(cfg))
    return results


def webhook_lines(cfg: Any) -> list[str]:
    """The URLs to paste into the LINE / Meta consoles, and where the tunnel points."""
    lines = []
    base = cfg.media.public_base_url
    for name, what in (("line", "LINE Developers → Messaging API → Webhook URL"),
                       ("whatsapp", "Meta app → WhatsApp → Configuration → Callback URL")):
        c = getattr(cfg, name)
        if not c.on:
            continue
        local = "http://%s:%d" % (c.bind, c.port)
        lines.append("URL  %s webhook: %s%s — paste into %s; the tunnel forwards to %s" % (
            name, base or "https://<your tunnel host>", c.path, what, local))
    return lines


def ffmpeg_line() -> str:
    """Whether ``ffmpeg`` is installed (issue 19); information, not a check: nothing
    needs it, since no output is transcoded."""
    from openclaw_connector.media_out import ffmpeg_path
    path = ffmpeg_path()
    if path:
        return ("INFO ffmpeg: found at %s, not used: videos and animations are sent as they "
                "are (native video, file or signed link)" % path)
    return ("INFO ffmpeg: not on PATH (optional): videos and animations are sent as they "
            "are; GIF and animated WEBP reach LINE and WhatsApp as signed links")


async def run_checks(cfg: Any, out: TextIO) -> int:
    """Run every check, print one line each; the exit status: 0 if all passed, else 1.

    ``cli.py --check`` runs it with ``asyncio.run``.
    """
    # The daemon's own transport, so a proxy (network.*) is used here as it will be there.
    http = build_transport(cfg)
    try:
        results = await collect(cfg, http)
    finally:
        http.close()
    secrets = cfg.secrets()
    for result in results:
        out.write(logmod.redact(result.line(), secrets) + "\n")
    # ffmpeg would matter where animations cannot be shown natively: LINE, WhatsApp.
    media = [ffmpeg_line()] if cfg.line.on or cfg.whatsapp.on else []
    for line in webhook_lines(cfg) + media:
        out.write(logmod.redact(line, secrets) + "\n")
    failed = sum(1 for r in results if not r.passed)
    out.write("%d checks, %d failed\n" % (len(results), failed))
    out.flush()
    return 0 if failed == 0 else 1
