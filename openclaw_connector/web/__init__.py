"""The daemon's HTTP listeners (issue 14: one package beside the channels, never importing one).

* ``servers.py`` — :class:`WebServers`: the route registry, one guarded
  ``HTTPServer`` per configured address, health and metrics handlers;
* ``router.py`` — :class:`ListenerRouter`, the ``tornado.routing.Router`` of
  each listener: a webhook POST goes straight to a :class:`WebhookPost`, every
  other request to the listener's ``tornado.web.Application``;
* ``webhook.py`` — the webhook POST fast path and the :class:`WebhookRoute`
  Protocol a channel registers through;
* ``listener.py`` — what a flood may cost: connection cap, accept back-off,
  body memory budget (issue 20).
"""

from openclaw_connector.web.servers import HealthFn, WebServers
from openclaw_connector.web.webhook import (MAX_BODY, BodyDeadlines, WebhookEndpoint,
                                            WebhookPost, WebhookRoute)

__all__ = ["BodyDeadlines", "HealthFn", "MAX_BODY", "WebServers", "WebhookEndpoint",
           "WebhookPost", "WebhookRoute"]
