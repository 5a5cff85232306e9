"""The ``--check`` probe of ComfyUI + OpenClaw, behind :meth:`OpenClawClient.probe`.

``GET /openclaw/health`` (public tier) proves ComfyUI answers and the pack is
loaded; one admin-tier call, ``GET /openclaw/approvals`` (not rate limited,
openclaw-api.md §2.5), proves the admin token, or that loopback convenience
mode works. It sends the daemon's own headers, so it passes here exactly when
it works for the daemon (openclaw-api.md §2.1, §4.1, §4.3).
"""

from __future__ import annotations

from openclaw_connector.config import OpenClawConfig
from openclaw_connector.net.probe import Prober, unreachable
from openclaw_connector.net.resolver import public_url
from openclaw_connector.probe import ProbeResult, fail, ok, skip

ADMIN = "comfyui admin token"


async def probe_comfyui(cfg: OpenClawConfig, prober: Prober,
                        headers: dict[str, str]) -> list[ProbeResult]:
    """Two lines: ``comfyui`` (health) and ``comfyui admin token`` (SKIP when health failed)."""
    base = cfg.url
    answer = await prober.get(base + "/openclaw/health")
    if answer.code == 0:
        return [fail("comfyui", unreachable(
            base, answer, "start ComfyUI, or set openclaw.url to the address it listens on")),
            skip(ADMIN, "ComfyUI is unreachable")]
    if answer.code == 404:
        return [fail("comfyui", "404 on /openclaw/health — ComfyUI answers but the "
                     "ComfyUI-OpenClaw node pack is not loaded; install it and restart ComfyUI"),
                skip(ADMIN, "the OpenClaw pack is not loaded")]
    if answer.code != 200 or not isinstance(answer.body, dict):
        return [fail("comfyui", "%s from /openclaw/health — not an OpenClaw health answer; "
                     "check that openclaw.url points at ComfyUI and read its log"
                     % answer.status_text()),
                skip(ADMIN, "health check failed")]
    version = answer.field("pack", "version") or "unknown version"
    detail = "OpenClaw %s at %s" % (version, public_url(base))
    if answer.field("startup", "ready") is False:
        detail += " (pack still starting up)"
    return [ok("comfyui", detail), await _probe_admin_token(cfg, prober, headers)]


async def _probe_admin_token(cfg: OpenClawConfig, prober: Prober,
                             headers: dict[str, str]) -> ProbeResult:
    """One admin-tier call proves the token is accepted (openclaw-api.md §2.1, §4.3)."""
    token = cfg.admin_token
    answer = await prober.get(cfg.url + "/openclaw/approvals?status=pending", headers)
    if answer.code == 200:
        pending = answer.field("pending_count")
        how = "accepted" if token else "no admin token; the server allows this host"
        return ok(ADMIN, "%s (%s pending approvals)" % (how, pending if pending is not None
                                                        else "?"))
    if answer.code == 0:
        return fail(ADMIN, unreachable(cfg.url, answer, "ComfyUI stopped answering; "
                                       "run --check again"))
    if answer.code == 403:
        said = answer.field("error") or "Forbidden"
        if not token and "Origin" in headers:
            return fail(ADMIN, "403 %s — the server has OPENCLAW_ADMIN_TOKEN set, or refuses "
                        "this host's Origin; set openclaw.admin_token (or "
                        "OPENCLAW_CONNECTOR_ADMIN_TOKEN) to the server's OPENCLAW_ADMIN_TOKEN"
                        % said)
        if not token:
            return fail(ADMIN, "403 %s — ComfyUI is not on this host, so a token is needed: "
                        "set openclaw.admin_token (or OPENCLAW_CONNECTOR_ADMIN_TOKEN) to the "
                        "OPENCLAW_ADMIN_TOKEN value of the ComfyUI server" % said)
        return fail(ADMIN, "403 %s — openclaw.admin_token does not match OPENCLAW_ADMIN_TOKEN "
                    "on the ComfyUI server; copy it again into openclaw.admin_token and rerun "
                    "--check" % said)
    if answer.code == 404:
        return fail(ADMIN, "404 on /openclaw/approvals — the OpenClaw pack did not finish "
                    "starting (its approvals routes are missing); read the ComfyUI log")
    return fail(ADMIN, "%s from /openclaw/approvals — read the ComfyUI log"
                % answer.status_text())
