"""ListenerRouter: what answers each request on one listener.

A ``tornado.routing.Router`` is the ``HTTPServerConnectionDelegate`` of the
listener's ``HTTPServer``; its :meth:`find_handler` sees every request once
the request line and headers are read. A POST to a registered webhook path
gets a :class:`~openclaw_connector.web.webhook.WebhookPost` (an
``HTTPMessageDelegate`` of its own: no ``RequestHandler`` or ``Application``
per-request machinery on the path the platforms hit hardest, issue 6/21);
everything else (media, health, metrics, a webhook path's other methods) goes
to the listener's ``tornado.web.Application`` with a small body limit and a
body timeout. The router also tells the listener's
:class:`~openclaw_connector.web.listener.ConnectionGuard` when a connection
waits (evictable) and when it carries a request (kept).
"""

from __future__ import annotations

from typing import Any, Optional

import tornado.routing
import tornado.web
from tornado import httputil

from openclaw_connector.web.listener import BodyBudget, ConnectionGuard
from openclaw_connector.web.webhook import BodyDeadlines, WebhookPost, WebhookRoute


class ListenerRouter(tornado.routing.Router):
    """Webhook POSTs to their :class:`WebhookPost`, everything else to ``app``."""

    def __init__(self, app: tornado.web.Application, posts: dict[str, WebhookRoute], *,
                 deadlines: BodyDeadlines, guard: ConnectionGuard, budget: BodyBudget,
                 other_max_body: int, other_body_timeout_sec: float) -> None:
        self.app = app
        self.posts = posts
        self.deadlines = deadlines
        self.guard = guard
        self.budget = budget
        self.other_max_body = other_max_body
        self.other_body_timeout_sec = other_body_timeout_sec

    def start_request(self, server_conn: object,
                      request_conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate:
        self.guard.idle(server_conn.stream)   # type: ignore[attr-defined]
        return super().start_request(server_conn, request_conn)

    def find_handler(self, request: httputil.HTTPServerRequest,
                     **kwargs: Any) -> Optional[httputil.HTTPMessageDelegate]:
        connection: Any = request.connection   # tornado's HTTP1Connection
        self.guard.busy(request.server_connection.stream)   # type: ignore[attr-defined]
        if request.method == "POST":
            route = self.posts.get(request.path)
            if route is not None:
                return WebhookPost(route, connection, self.deadlines, self.budget)
        # Webhook bodies are bounded by BodyDeadlines; everything else by Tornado.
        connection.set_body_timeout(self.other_body_timeout_sec)
        connection.set_max_body_size(self.other_max_body)
        return self.app.find_handler(request, **kwargs)

    def on_close(self, server_conn: object) -> None:
        self.app.on_close(server_conn)
