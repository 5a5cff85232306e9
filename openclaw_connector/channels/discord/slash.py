"""Discord application (slash) commands: registered per guild, answered through the router.

With ``discord.slash_commands: true`` the channel registers the command menu
(:class:`~openclaw_connector.menu.CommandMenu`) as guild commands with one
bulk overwrite, ``PUT /applications/{app}/guilds/{guild}/commands``, for each
guild that holds an allowed channel (the application id comes from READY
``d.application.id``, the guilds from GUILD_CREATE ``channels``). Guild
commands update at once and need no MESSAGE_CONTENT intent
(interactive.md §5.2).

An ``INTERACTION_CREATE`` of type 2 becomes an ordinary :class:`Inbound` whose
text is the command line a person would have typed (``/run portrait a red
fox``), so the router stays platform-blind; a command whose menu item
``takes_photo`` (``/run``) also offers an optional ATTACHMENT option
``image``, whose file becomes the Inbound's photo just like a message's
attachment (``media_in.option_photo``). Discord wants an answer within
3 s, so the channel acks with type 5 (deferred, "thinking…") before the
command runs, then edits ``@original`` with the reply; the interaction token
is valid 15 minutes, so a job's later result goes out as a normal channel
message (interactive.md §1.2). A command that gets no reply (a sender
nobody allowed) has its "thinking…" message deleted.
"""

from __future__ import annotations

import json
import time
from typing import Any, Optional

from openclaw_connector import log as logmod
from openclaw_connector.channels.discord.media_in import ATTACHMENT_OPTION, option_photo
from openclaw_connector.messages import ChatRef, Inbound

log = logmod.get("discord")

OPTION_NAME = "text"
IMAGE_OPTION = "image"
STRING_OPTION = 3
TOKEN_LIFETIME = 14 * 60.0          # s; Discord's 15 min, less a margin for the edit itself
CALLBACK_ROUTE = "POST /interactions/{id}/{token}/callback"
ORIGINAL_ROUTE = "PATCH /webhooks/{app}/{token}/messages/@original"
DELETE_ROUTE = "DELETE /webhooks/{app}/{token}/messages/@original"
REGISTER_ROUTE = "PUT /applications/{app}/guilds/{guild}/commands"
DEFERRED = 5                        # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE


def command_bodies(menu: Any) -> list[dict]:
    """The menu as CHAT_INPUT commands, each with one optional STRING option for the
    arguments (typed as after ``/word`` in a message), plus an optional ATTACHMENT
    option for a command that takes a photo."""
    out = []
    for item in tuple(menu.general) + tuple(menu.admin):
        name = item.word.lower()
        if not (1 <= len(name) <= 32 and all(c.isalnum() or c in "-_" for c in name)):
            continue
        options = [{"type": STRING_OPTION, "name": OPTION_NAME, "required": False,
                    "description": "arguments, as you would type them after /%s" % name}]
        if item.takes_photo:
            options.append({"type": ATTACHMENT_OPTION, "name": IMAGE_OPTION,
                            "required": False,
                            "description": "an image for the template's image input"})
        out.append({"name": name, "type": 1, "description": (item.description or name)[:100],
                    "options": options})
    return out[:100]


def guild_of_allowed_channel(d: Any, allowed: frozenset) -> Optional[str]:
    """The guild id of a GUILD_CREATE whose channels (or threads) include an allowed one."""
    if not isinstance(d, dict) or not d.get("id"):
        return None
    for key in ("channels", "threads"):
        for channel in d.get(key) or ():
            if isinstance(channel, dict) and str(channel.get("id")) in allowed:
                return str(d["id"])
    return None


def parse_interaction(d: Any, bot_name: str) -> Optional[Inbound]:
    """An Inbound for an APPLICATION_COMMAND interaction; None for any other kind."""
    if not isinstance(d, dict) or d.get("type") != 2 or not d.get("id") or not d.get("token"):
        return None
    data: dict = d["data"] if isinstance(d.get("data"), dict) else {}
    name = str(data.get("name") or "")
    channel: dict = d["channel"] if isinstance(d.get("channel"), dict) else {}
    channel_id = str(d.get("channel_id") or channel.get("id") or "")
    member: dict = d["member"] if isinstance(d.get("member"), dict) else {}
    user = member.get("user") or d.get("user") or {}
    user_id = str(user.get("id") or "")
    if not name or not channel_id or not user_id:
        return None
    # An ATTACHMENT option's value is an attachment id, not a word of the command.
    words = [str(o.get("value")) for o in data.get("options") or ()
             if isinstance(o, dict) and o.get("value") not in (None, "")
             and o.get("type") != ATTACHMENT_OPTION]
    text = "/" + name + ("" if not words else " " + " ".join(words))
    guild = d.get("guild_id")
    # No message_id in the ChatRef: there is no message to reply to (the reply edits the
    # deferred answer); the interaction id still makes the Inbound's id unique.
    chat = ChatRef(platform="discord", chat_id=channel_id, user_id=user_id,
                   is_group=guild is not None, reply_token=str(d["token"]),
                   received_at=time.time())
    message_id = "i" + str(d["id"])
    return Inbound(platform="discord", user_id=user_id, chat_id=channel_id, text=text,
                   chat=chat, message_id=message_id, is_direct=guild is None,
                   bot_name=bot_name, photo=option_photo(data, channel_id, message_id))


class SlashCommands:
    """Registration and the deferred-answer bookkeeping for one Discord channel."""

    def __init__(self, rest: Any, menu: Any, allowed_channels: frozenset) -> None:
        self._rest = rest
        self._menu = menu
        self._allowed = allowed_channels
        self.application_id = ""
        self._guilds: set[str] = set()          # allowed guilds seen
        self._registered: set[str] = set()      # guilds registered by this process
        self._deferred: dict[str, float] = {}   # interaction token -> acked at

    # ------------------------------------------------------------------ registration
    def on_ready(self, d: Any) -> None:
        app = d.get("application") if isinstance(d, dict) else None
        if isinstance(app, dict) and app.get("id"):
            self.application_id = str(app["id"])

    def guilds_to_register(self, d: Any) -> list[str]:
        """After a GUILD_CREATE: the guilds that still need their commands registered."""
        guild = guild_of_allowed_channel(d, self._allowed)
        if guild is not None:
            self._guilds.add(guild)
        if not self.application_id:
            return []
        return sorted(self._guilds - self._registered)

    async def register(self, guild: str) -> None:
        """One bulk overwrite; a refusal is logged (slash commands are optional)."""
        self._registered.add(guild)
        body = json.dumps(command_bodies(self._menu)).encode("utf-8")
        try:
            await self._rest.call("PUT", "/applications/%s/guilds/%s/commands" % (
                self.application_id, guild), route=REGISTER_ROUTE, major=guild, body=body)
        except Exception as exc:
            self._registered.discard(guild)
            log.warning("event=slash_register_failed guild=%s error=%s hint=the bot needs "
                        "the applications.commands scope in that guild", guild,
                        logmod.one_line_error(exc))
            return
        log.info("event=slash_registered guild=%s commands=%d", guild,
                 len(command_bodies(self._menu)))

    # ------------------------------------------------------------------ answering
    async def defer(self, d: dict) -> bool:
        """Type 5 within Discord's 3 s; False when Discord refused it (then the reply
        goes out as a normal message)."""
        body = json.dumps({"type": DEFERRED}).encode("utf-8")
        try:
            await self._rest.call("POST", "/interactions/%s/%s/callback" % (
                d["id"], d["token"]), route=CALLBACK_ROUTE, major=str(d["id"]), body=body)
        except Exception as exc:
            log.warning("event=slash_defer_failed interaction=%s error=%s", d.get("id"),
                        logmod.one_line_error(exc))
            return False
        self._deferred[str(d["token"])] = time.monotonic()
        return True

    def take(self, chat: ChatRef) -> Optional[str]:
        """The interaction token to answer ``chat`` with, once (None: send normally)."""
        acked = self._deferred.pop(chat.reply_token, None) if chat.reply_token else None
        if acked is None or time.monotonic() - acked > TOKEN_LIFETIME:
            return None
        return chat.reply_token

    async def edit_original(self, token: str, content: str) -> str:
        """Replace the deferred answer with ``content``; the id of the message it now is
        ("" when Discord does not say). The answer is not ephemeral, so the bot can edit
        that message through the channel endpoint later, after the token's 15 minutes."""
        body = json.dumps({"content": content, "allowed_mentions": {"parse": []}})
        answer = await self._rest.call("PATCH", "/webhooks/%s/%s/messages/@original" % (
            self.application_id, token), route=ORIGINAL_ROUTE, major=self.application_id,
            body=body.encode("utf-8"))
        return str(answer.get("id") or "") if isinstance(answer, dict) else ""

    async def finish(self, chat: ChatRef) -> None:
        """After the command ran: delete a "thinking…" answer nobody replaced."""
        token = self.take(chat)
        if token is None:
            return
        try:
            await self._rest.call("DELETE", "/webhooks/%s/%s/messages/@original" % (
                self.application_id, token), route=DELETE_ROUTE, major=self.application_id,
                body=None)
        except Exception as exc:
            log.info("event=slash_cleanup_failed error=%s", logmod.one_line_error(exc))
