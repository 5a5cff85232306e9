"""The fake Discord's application-command side (interactive.md §1.2, §5.2).

``PUT /applications/{app}/guilds/{guild}/commands`` (bulk overwrite, checked
against Discord's limits), ``POST /interactions/{id}/{token}/callback`` (only
for an interaction this fake issued, once, within 3 s), and the interaction
webhook's ``@original`` (PATCH to edit, DELETE), valid after a callback for
15 minutes. The first PATCH makes the answer a message of the channel, answered
with its message object; a non-ephemeral one can then also be edited through
``PATCH /channels/{id}/messages/{id}`` by the bot, an ephemeral one cannot
(discord-api-docs issue 3090). Records live on the FakeDiscord object.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any, Optional

from tests.fakes.discord_wire import Base, Response

ACK_DEADLINE = 3.0
TOKEN_LIFETIME = 15 * 60.0


@dataclass
class Interaction:
    """One interaction the fake emitted, and what the client did with it."""

    id: str
    token: str
    created: float
    d: dict
    callback: Optional[dict] = None
    callback_at: Optional[float] = None
    original: Optional[dict] = None       # the latest PATCH @original body
    message_id: str = ""                  # the message @original became
    deleted: bool = False


def _command_problem(cmd: Any) -> Optional[str]:
    if not isinstance(cmd, dict):
        return "command is not an object"
    if not re.fullmatch(r"[-_a-z0-9]{1,32}", str(cmd.get("name"))):
        return "name must be 1-32 lowercase characters"
    if cmd.get("type", 1) == 1 and not 1 <= len(str(cmd.get("description") or "")) <= 100:
        return "description must be 1-100 characters"
    options = cmd.get("options") or []
    if len(options) > 25:
        return "at most 25 options"
    for opt in options:
        if opt.get("type") not in (3, 4, 5, 10, 11) or \
                not re.fullmatch(r"[-_a-z0-9]{1,32}", str(opt.get("name"))) or \
                not 1 <= len(str(opt.get("description") or "")) <= 100:
            return "invalid option %r" % opt.get("name")
    return None


class GuildCommands(Base):
    def put(self, app_id: str, guild_id: str) -> None:
        fake = self.fake
        if not self.authorized():
            return
        body = json.loads(self.request.body or b"null")
        problem = "body must be a list of at most 100 commands" if not isinstance(
            body, list) or len(body) > 100 else next(
            (p for p in map(_command_problem, body) if p), None)
        if app_id != fake.bot_id:
            problem = "unknown application"
        fake.command_puts.append((app_id, guild_id, body, problem))
        if problem:
            self.answer(Response(400, {"code": 50035, "message": "Invalid Form Body: %s"
                                       % problem}))
        else:
            fake.guild_commands[guild_id] = body
            self.answer(Response(200, [dict(c, id=str(900 + i), application_id=app_id,
                                            guild_id=guild_id) for i, c in enumerate(body)]))
        fake.changed()


class Callback(Base):
    def post(self, interaction_id: str, token: str) -> None:
        fake = self.fake
        item = fake.interactions.get(interaction_id)
        now = time.monotonic()
        if item is None or item.token != token or now - item.created > ACK_DEADLINE:
            self.answer(Response(404, {"code": 10062, "message": "Unknown interaction"}))
        elif item.callback is not None:
            self.answer(Response(400, {"code": 40060, "message":
                                       "Interaction has already been acknowledged."}))
        else:
            item.callback, item.callback_at = json.loads(self.request.body or b"{}"), now
            self.answer(Response(204))
        fake.changed()


class Original(Base):
    def _item(self, app_id: str, token: str) -> Optional[Interaction]:
        item = next((i for i in self.fake.interactions.values() if i.token == token), None)
        if app_id != self.fake.bot_id or item is None or item.callback is None or \
                time.monotonic() - item.created > TOKEN_LIFETIME or item.deleted:
            self.answer(Response(404, {"code": 10015, "message": "Unknown Webhook"}))
            self.fake.changed()
            return None
        return item

    def patch(self, app_id: str, token: str) -> None:
        item = self._item(app_id, token)
        if item is None:
            return
        fake = self.fake
        item.original = json.loads(self.request.body or b"{}")
        if not item.message_id:
            item.message_id = fake.next_message_id()
        message = fake.messages.get(item.message_id) or {
            "id": item.message_id, "channel_id": item.d.get("channel_id", ""),
            "author": {"id": fake.bot_id, "username": fake.bot_name, "bot": True},
            "components": [], "attachments": [], "webhook_id": fake.bot_id}
        message["content"] = item.original.get("content", "")
        ephemeral = int(((item.callback or {}).get("data") or {}).get("flags") or 0) & 64
        if not ephemeral:
            fake.messages[item.message_id] = message
        self.answer(Response(200, message))
        fake.changed()

    def delete(self, app_id: str, token: str) -> None:
        item = self._item(app_id, token)
        if item is None:
            return
        item.deleted = True
        self.answer(Response(204))
        self.fake.changed()


ROUTES = [
    (r"/api/v10/applications/(\d+)/guilds/(\d+)/commands", GuildCommands),
    (r"/api/v10/interactions/(\d+)/([^/]+)/callback", Callback),
    (r"/api/v10/webhooks/(\d+)/([^/]+)/messages/@original", Original),
]
