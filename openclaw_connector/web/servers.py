"""WebServers: the daemon's HTTP listeners (webhooks, media, health, metrics).

Channels register their webhook route with :meth:`WebServers.add_route` in
their constructors; ``start()`` then binds one ``HTTPServer`` per distinct
configured ``(bind, port)``, so LINE and WhatsApp on the same address share a
server (issue 6). Every webhook server also mounts the media route
(``media.path``) and a bare ``GET /healthz`` (200 ``ok``, for a tunnel's probe):
webhook ports face the internet, so they reveal neither the version nor the
channel states (issue 15). When ``status.port`` is set, a status server on
``status.bind:status.port`` answers the full ``GET /healthz`` and
``GET /metrics`` (Prometheus text 0.0.4); it shares a webhook server if the
operator put both on the same address. Scrapes of both log at debug.

A webhook POST (:meth:`WebServers.add_webhook`, a channel's
:class:`~openclaw_connector.web.webhook.WebhookRoute`) does not go through the
Application: each listener's :class:`~openclaw_connector.web.router.ListenerRouter`
answers it with a :class:`~openclaw_connector.web.webhook.WebhookPost` straight
off the HTTP connection, because ``tornado.web``'s per-request machinery was
the largest single cost of an acknowledgement (issue 6). Every other request
(media, health, metrics, WhatsApp's verification GET) is routed by the
Application as usual.

Every Application logs through :func:`openclaw_connector.log.access_log`
(path only: WhatsApp's ``hub.verify_token`` and media signatures arrive in the
query string, faults.md 10). Servers cap non-streamed bodies at 1 MiB and
drop idle connections, so a slow client cannot hold memory or sockets. Each
listener also caps its open connections and backs off accepting when the
process runs out of descriptors, and webhook bodies share one memory budget
(``web/listener.py``, issue 20); a request to any other path may carry at most
OTHER_MAX_BODY bytes, as none of them needs a body.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Optional

import tornado.gen
import tornado.httpserver
import tornado.ioloop
import tornado.netutil
import tornado.web

from openclaw_connector import log as logmod
from openclaw_connector.media import MediaHandler
from openclaw_connector.web.listener import (BodyBudget, ConnectionGuard, GuardedHTTPServer,
                                             raise_fd_limit)
from openclaw_connector.web.router import ListenerRouter
from openclaw_connector.web.webhook import MAX_BODY, BodyDeadlines, WebhookRoute

log = logmod.get("web")

IDLE_CONNECTION_SEC = 75.0   # keep-alive from a tunnel/proxy, then close
BODY_TIMEOUT_SEC = 30.0      # a body that trickles in longer than this is dropped
BODY_SWEEP_SEC = 5.0         # how often webhook bodies are checked against it
STOP_TIMEOUT_SEC = 5.0
OTHER_MAX_BODY = 64 * 1024   # media, health, metrics and WhatsApp's GET take no body
FD_RESERVE = 256             # descriptors kept for state, logs and outgoing calls

HealthFn = Callable[[], "tuple[int, dict]"]


class HealthHandler(tornado.web.RequestHandler):
    """``GET /healthz``: the daemon's ``health()`` as JSON with its status code."""

    def initialize(self, health: HealthFn) -> None:
        self.health = health

    def set_default_headers(self) -> None:
        self.clear_header("Server")
        self.set_header("Cache-Control", "no-store")

    def get(self) -> None:
        status, body = self.health()
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body, sort_keys=True))

    head = get


class BareHealthHandler(tornado.web.RequestHandler):
    """``GET /healthz`` on a webhook port: 200 ``ok`` and nothing else (issue 15)."""

    def set_default_headers(self) -> None:
        self.clear_header("Server")
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Type", "text/plain; charset=utf-8")

    def get(self) -> None:
        self.finish("ok\n")

    head = get


def _access_log(handler: tornado.web.RequestHandler) -> None:
    """Health probes and metric scrapes come every few seconds: debug, not info."""
    if isinstance(handler, (HealthHandler, BareHealthHandler, MetricsHandler)) and \
            handler.get_status() < 400:
        log.debug("event=http_request method=%s path=%s status=%d took_ms=%.1f",
                  handler.request.method, handler.request.path, handler.get_status(),
                  1000.0 * handler.request.request_time())
        return
    logmod.access_log(handler)


class MetricsHandler(tornado.web.RequestHandler):
    """``GET /metrics``: Prometheus text exposition."""

    def initialize(self, metrics: Any) -> None:
        self.metrics = metrics

    def set_default_headers(self) -> None:
        self.clear_header("Server")
        self.set_header("Cache-Control", "no-store")

    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.finish(self.metrics.render())


class WebServers:
    """Route registry plus the listeners it binds; ``ports`` shows real ports."""

    def __init__(self, cfg: Any, *, media: Any = None, health: HealthFn,
                 metrics: Any) -> None:
        self.cfg = cfg
        self.media = media
        self.health = health
        self.metrics = metrics
        self._routes: dict[tuple[str, int], list[tuple[str, type, dict]]] = {}
        self._posts: dict[tuple[str, int], dict[str, WebhookRoute]] = {}
        self._servers: dict[tuple[str, int], tornado.httpserver.HTTPServer] = {}
        self.ports: dict[tuple[str, int], int] = {}
        self.status_key: Optional[tuple[str, int]] = None
        self.body_deadlines = BodyDeadlines(BODY_TIMEOUT_SEC)
        self._body_sweep: Optional[tornado.ioloop.PeriodicCallback] = None
        limits = cfg.http
        self.body_budget = BodyBudget(int(limits.max_buffered_mb * 1024 * 1024), metrics)
        self.guards: dict[tuple[str, int], ConnectionGuard] = {}

    def add_route(self, bind: str, port: int, pattern: str, handler_cls: type,
                  kwargs: dict) -> None:
        """Mount ``handler_cls`` at ``pattern`` (a Tornado URL regex; pass
        ``re.escape(path)`` for a literal path) on the server for ``bind:port``."""
        if self._servers:
            raise RuntimeError("add_route() after start()")
        self._routes.setdefault((bind, port), []).append((pattern, handler_cls, kwargs))

    def add_webhook(self, bind: str, port: int, path: str, endpoint: WebhookRoute) -> None:
        """Answer ``POST path`` (exactly; the query string is ignored) on the server for
        ``bind:port`` with a :class:`WebhookPost` for the channel's ``endpoint``."""
        if self._servers:
            raise RuntimeError("add_webhook() after start()")
        self._posts.setdefault((bind, port), {})[path] = endpoint
        self._routes.setdefault((bind, port), [])

    def bound_port(self, bind: str, port: int) -> int:
        """The port actually bound for configured ``bind:port`` (useful with port 0)."""
        return self.ports[(bind, port)]

    def _app(self, routes: list, *, webhook: bool, status: bool) -> tornado.web.Application:
        handlers: list = list(routes)
        if status:
            handlers.append((r"/healthz", HealthHandler, {"health": self.health}))
        else:
            handlers.append((r"/healthz", BareHealthHandler, {}))
        if webhook and self.media is not None:
            path = self.media.cfg.path.rstrip("/")
            handlers.append((re.escape(path) + r"/([^/]+)", MediaHandler,
                             {"media": self.media}))
        if status:
            handlers.append((r"/metrics", MetricsHandler, {"metrics": self.metrics}))
        return tornado.web.Application(handlers, log_function=_access_log,
                                       compress_response=False, xsrf_cookies=False)

    async def start(self) -> None:
        """Bind every listener; raises OSError (address in use) before serving any."""
        plan: dict[tuple[str, int], dict] = {
            key: {"routes": routes, "webhook": True, "status": False}
            for key, routes in self._routes.items()}
        status_port = self.cfg.status.port
        if status_port is not None:
            key = (self.cfg.status.bind, status_port)
            entry = plan.setdefault(key, {"routes": [], "webhook": False, "status": False})
            entry["status"] = True
            self.status_key = key
        self._check_fd_limit(len(plan))
        bound: list = []
        try:
            for key, entry in plan.items():
                try:
                    sockets = tornado.netutil.bind_sockets(key[1], address=key[0])
                except OSError as exc:
                    # Keep errno (cli.py maps EADDRINUSE etc. to exit 78); name the address.
                    raise OSError(exc.errno, "%s:%d: %s" % (
                        key[0], key[1], exc.strerror or exc)) from None
                bound.append(sockets)
                self.ports[key] = sockets[0].getsockname()[1]
                app = self._app(entry["routes"], webhook=entry["webhook"],
                                status=entry["status"])
                guard = ConnectionGuard("%s:%d" % (key[0], self.ports[key]), self.cfg.http.max_connections,
                                        self.metrics)
                self.guards[key] = guard
                router = ListenerRouter(
                    app, self._posts.get(key, {}), deadlines=self.body_deadlines,
                    guard=guard, budget=self.body_budget, other_max_body=OTHER_MAX_BODY,
                    other_body_timeout_sec=BODY_TIMEOUT_SEC)
                server = GuardedHTTPServer(
                    router,
                    max_body_size=MAX_BODY, idle_connection_timeout=IDLE_CONNECTION_SEC,
                    decompress_request=False)
                server.guard = guard
                server.accept_backoff_sec = self.cfg.http.accept_backoff_sec
                server.add_sockets(sockets)
                self._servers[key] = server
                paths = [p for p, _c, _k in entry["routes"]]
                log.info("event=listening bind=%s port=%d routes=%s%s", key[0],
                         self.ports[key], ",".join(paths) or "-",
                         " status=1" if entry["status"] else "")
        except OSError:
            for sockets in bound:
                for sock in sockets:
                    sock.close()
            await self.stop()
            raise
        if any(self._posts.values()):
            self._body_sweep = tornado.ioloop.PeriodicCallback(
                self.body_deadlines.sweep, BODY_SWEEP_SEC * 1000)
            self._body_sweep.start()

    def _check_fd_limit(self, listeners: int) -> None:
        """Raise the soft descriptor limit if allowed; warn when the caps exceed it."""
        wanted = listeners * self.cfg.http.max_connections + FD_RESERVE
        soft, _hard = raise_fd_limit(wanted)
        if soft < wanted:
            log.warning("event=fd_limit_low nofile=%d listeners=%d max_connections=%d: a "
                        "connection flood could exhaust descriptors before the cap; raise "
                        "LimitNOFILE (ulimit -n) to %d or lower http.max_connections",
                        soft, listeners, self.cfg.http.max_connections, wanted)

    def listener_health(self) -> dict:
        """For ``/healthz``: each listener's connections and the body budget."""
        return {"listeners": {g.name: g.health() for g in self.guards.values()},
                **self.body_budget.health()}

    async def stop(self) -> None:
        """Stop accepting, then close open connections (bounded)."""
        if self._body_sweep is not None:
            self._body_sweep.stop()
            self._body_sweep = None
        servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.stop()
        for server in servers:
            try:
                await tornado.gen.with_timeout(
                    tornado.ioloop.IOLoop.current().time() + STOP_TIMEOUT_SEC,
                    server.close_all_connections())
            except tornado.gen.TimeoutError:
                log.warning("event=web_stop_timeout")

