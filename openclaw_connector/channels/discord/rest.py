"""Discord REST: authenticated requests with per-bucket and global rate limits.

:class:`RateLimits` is the pure bookkeeping (``X-RateLimit-*`` headers, 429
bodies, the Cloudflare-ban circuit); :class:`DiscordRest` makes one attempt
per call through it with explicit timeouts: it waits for a bucket it knows is
empty (pacing, not a retry), and a failure comes back as ChannelSendError for
the Outbox (``delivery.py``) to retry, a 429 with its ``retry_after`` (the
bucket remembers the same deadline, so the wait is not doubled). A 429
without a JSON body is a Cloudflare ban, so every call stops for
``ban_backoff_sec`` (≥ 60 s) instead of hammering (faults.md §2 item 8).

Follows platforms.md §2 (REST: rate limits).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from tornado.httpclient import HTTPClientError, HTTPRequest, HTTPResponse

from openclaw_connector import __version__
from openclaw_connector import log as logmod
from openclaw_connector.backoff import wait_or_stop
from openclaw_connector.config import DiscordConfig
from openclaw_connector.messages import ChannelSendError
from openclaw_connector.metrics import Metrics
from openclaw_connector.net.retry import retry_after

log = logmod.get("discord")

MAX_WAIT = 120.0                # a longer rate-limit wait is handed back to the caller
RETRY_STATUSES = {500, 502, 503, 504, 524, 599}
USER_AGENT = "DiscordBot (https://github.com/openclaw/openclaw-connector, %s)" % __version__


@dataclass
class _Bucket:
    remaining: int = 1
    reset_at: float = 0.0


class RateLimits:
    """Per-bucket and global waits learned from response headers (monotonic clock)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._route_bucket: dict[str, str] = {}
        self._buckets: dict[str, _Bucket] = {}
        self.global_until = 0.0
        self.ban_until = 0.0

    def _key(self, route: str, major: str) -> str:
        return "%s:%s" % (self._route_bucket.get(route, route), major)

    def wait_time(self, route: str, major: str) -> float:
        """Seconds to wait before a request on ``route`` for ``major`` may go out."""
        now = self._clock()
        wait = max(0.0, self.global_until - now)
        bucket = self._buckets.get(self._key(route, major))
        if bucket is not None and bucket.remaining <= 0 and bucket.reset_at > now:
            wait = max(wait, bucket.reset_at - now)
        return wait

    def banned_for(self) -> float:
        return max(0.0, self.ban_until - self._clock())

    def update(self, route: str, major: str, headers: Any) -> None:
        """Learn the bucket's state from ``X-RateLimit-*`` headers."""
        bucket_id = headers.get("X-RateLimit-Bucket")
        if bucket_id:
            self._route_bucket[route] = bucket_id
        remaining, after = headers.get("X-RateLimit-Remaining"), \
            headers.get("X-RateLimit-Reset-After")
        if remaining is None or after is None:
            return
        try:
            bucket = _Bucket(int(remaining), self._clock() + float(after))
        except ValueError:
            return
        self._buckets[self._key(route, major)] = bucket
        self._prune()

    def _prune(self) -> None:
        """Forget buckets whose window has passed (one per channel we ever answered)."""
        if len(self._buckets) < 256:
            return
        now = self._clock()
        self._buckets = {k: b for k, b in self._buckets.items() if b.reset_at > now}

    def limited(self, route: str, major: str, retry_after: float, is_global: bool) -> None:
        """A JSON 429: pause the bucket, or every call when ``global`` is true."""
        until = self._clock() + max(0.0, retry_after)
        if is_global:
            self.global_until = max(self.global_until, until)
        else:
            self._buckets[self._key(route, major)] = _Bucket(0, until)
            self._prune()

    def ban(self, seconds: float) -> None:
        self.ban_until = max(self.ban_until, self._clock() + seconds)


def parse_429(body: bytes, headers: Any) -> Optional[tuple[float, bool]]:
    """``(retry_after, global)`` from a Discord 429, or None for a ban (no JSON body)."""
    try:
        data = json.loads(body or b"")
    except ValueError:
        return None
    wait = retry_after(None, data)      # the body's: without it, a ban
    if wait is None:
        return None
    is_global = bool(data.get("global")) or \
        str(headers.get("X-RateLimit-Global", "")).lower() == "true"
    return wait, is_global


class DiscordRest:
    """One bot's REST client over the daemon's HTTP transport (keep-alive, proxies)."""

    def __init__(self, cfg: DiscordConfig, http: Any, *, stopping: asyncio.Event,
                 metrics: Metrics) -> None:
        self._base = cfg.api_base.rstrip("/")
        self._token = cfg.token or ""
        self._http = http
        self._stopping = stopping
        self._ban_backoff = cfg.ban_backoff_sec
        # Uploads of several MiB: request_timeout_sec is the whole call.
        self._connect_timeout, self._request_timeout = (cfg.connect_timeout_sec,
                                                        cfg.request_timeout_sec)
        self._metrics = metrics
        self.limits = RateLimits()

    def _request(self, method: str, path: str, body: Optional[bytes],
                 content_type: str) -> HTTPRequest:
        headers = {"Authorization": "Bot %s" % self._token, "User-Agent": USER_AGENT}
        if body is not None:
            headers["Content-Type"] = content_type
        return HTTPRequest(self._base + path, method=method, headers=headers, body=body,
                           connect_timeout=self._connect_timeout,
                           request_timeout=self._request_timeout)

    async def get(self, path: str) -> HTTPResponse:
        """One GET with no retry (callers decide); the response whatever its status."""
        return await self._http.fetch(self._request("GET", path, None, ""), raise_error=False)

    async def call(self, method: str, path: str, *, route: str, major: str,
                   body: Optional[bytes], content_type: str = "application/json") -> Any:
        """Send one request, honouring known rate limits; the decoded JSON answer.

        One attempt: 429 raises with ``retry_after``, 5xx and connection errors
        raise a transient error, anything else a permanent one (ChannelSendError).
        Callers make a retry idempotent (``nonce`` + ``enforce_nonce``).
        """
        banned = self.limits.banned_for()
        if banned > 0:
            raise ChannelSendError("discord REST paused after a Cloudflare ban",
                                   retry_after=banned)
        wait = self.limits.wait_time(route, major)
        if wait > MAX_WAIT:
            raise ChannelSendError("discord rate limit", retry_after=wait)
        if wait > 0 and await wait_or_stop(self._stopping, wait):
            raise ChannelSendError("discord channel stopping", retry_after=wait)
        request = self._request(method, path, body, content_type)
        try:
            resp = await self._http.fetch(request, raise_error=False)
        except (OSError, HTTPClientError) as exc:
            # raise_error=False still raises when no response came (refused,
            # timed out): a transient failure, as status 599.
            resp = HTTPResponse(request, 599, error=exc)
        self.limits.update(route, major, resp.headers)
        if 200 <= resp.code < 300:
            try:
                return json.loads(resp.body or b"null")
            except ValueError:
                return None
        if resp.code == 429:
            self._count("rate_limited")
            verdict = parse_429(resp.body, resp.headers)
            if verdict is None:
                self.limits.ban(self._ban_backoff)
                log.error("event=discord_ban route=%s pause_s=%.0f hint=a 429 without a "
                          "JSON body is a Cloudflare ban; all REST calls paused",
                          route, self._ban_backoff)
                raise ChannelSendError("discord 429 without JSON (Cloudflare ban)",
                                       retry_after=self._ban_backoff)
            retry_after, is_global = verdict
            log.warning("event=discord_rate_limited route=%s major=%s retry_after=%.3f "
                        "global=%s", route, major, retry_after, is_global)
            self.limits.limited(route, major, retry_after, is_global)
            raise ChannelSendError("discord rate limited (429)", retry_after=retry_after)
        if resp.code in RETRY_STATUSES:
            self._count("retry")
            log.warning("event=discord_rest_failed route=%s status=%d", route, resp.code)
            raise ChannelSendError("discord send failed: %s" % self._describe(resp))
        self._count("refused")
        raise ChannelSendError("discord refused: %s" % self._describe(resp), permanent=True)

    def _describe(self, resp: HTTPResponse) -> str:
        """The failure in words; a server that echoes our token gets it masked."""
        text = _describe(resp)
        return text.replace(self._token, "***") if self._token else text

    def _count(self, outcome: str) -> None:
        self._metrics.inc("discord_rest_errors_total", outcome=outcome,
                          help="Discord REST calls that did not succeed at once")


def _describe(resp: HTTPResponse) -> str:
    """``status=... code=... message=...`` for a failed response (never the URL)."""
    if resp.code == 599:
        return "status=599 error=%s" % (logmod.one_line_error(resp.error)
                                        if resp.error else "connection failed")
    text = "status=%d" % resp.code
    try:
        data = json.loads(resp.body or b"")
    except ValueError:
        return text
    if isinstance(data, dict):
        text += " code=%s message=%s" % (data.get("code"), data.get("message"))
    return text
