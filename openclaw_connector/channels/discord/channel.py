"""Discord: a gateway websocket client for commands, REST for replies.

One supervised loop keeps one gateway connection: it connects (RESUME on the
``resume_gateway_url`` when a session exists, else IDENTIFY on the gateway
URL once ``session_start_limit`` allows), reads frames into the sans-I/O
:class:`~openclaw_connector.channels.discord.gateway.GatewaySession` and
carries out what it returns. The heartbeat runs as its own task and every
command is handed to ``on_inbound`` in a task of its own, so a slow ComfyUI
call never delays a beat (faults.md §2 item 3). The session (id, seq, resume
URL) is kept in the StateStore so a quick restart resumes; a clean stop
closes with 1000 and forgets it. MESSAGE_CREATE is deduplicated by message id
across resumes and restarts.

Follows platforms.md §2 (Discord) and faults.md §2 items 3-5, 8, 9, 11.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import Any, Optional

from tornado.httpclient import HTTPClientError

from openclaw_connector import log as logmod
from openclaw_connector.channels.pending import PendingInbounds
from openclaw_connector.channels.base import ChannelDeps, ChannelHealth, ChatLocks, \
    send_parts
from openclaw_connector.channels.discord.buttons import MAX_BUTTONS, DiscordTaps, \
    action_rows, parse_component
from openclaw_connector.channels.discord.connection import SESSION, GatewayConnection
from openclaw_connector.channels.discord.gateway import Dispatch, GatewaySession
from openclaw_connector.channels.discord.message import TEXT_LIMIT, multipart, \
    parse_message, render_reply
from openclaw_connector.channels.discord.rest import DiscordRest
from openclaw_connector.channels.discord.slash import SlashCommands, parse_interaction
from openclaw_connector.channels.textsplit import split_text
from openclaw_connector.config import DiscordConfig
from openclaw_connector.lifecycle import drain
from openclaw_connector.channels.discord.media_in import needs_replied, photo_of
from openclaw_connector.channels.oversize import links_for_oversize
from openclaw_connector.media_in import fetch_bounded
from openclaw_connector.messages import Capabilities, ChannelSendError, ChatRef, Inbound, \
    InboundHandler, PhotoRef, Reply, Sent

log = logmod.get("discord")

RESUME_WINDOW = 90.0            # s a persisted session is worth resuming after a restart
SEEN_TTL = 3600.0               # s a MESSAGE_CREATE id is remembered (replays come in minutes)
STOP_GRACE = 5.0
MESSAGE_ROUTE = "POST /channels/{channel_id}/messages"
EDIT_ROUTE = "PATCH /channels/{channel_id}/messages/{message_id}"


class DiscordChannel:
    """The Discord gateway + REST channel (see module docstring)."""

    platform = "discord"

    def __init__(self, cfg: DiscordConfig, on_inbound: InboundHandler,
                 deps: ChannelDeps) -> None:
        self._cfg, self._on_inbound, self._deps = cfg, on_inbound, deps
        self.health = ChannelHealth("discord")
        self._stopping = asyncio.Event()
        self._session = GatewaySession(cfg.token or "",
                                       invalid_session_wait=cfg.invalid_session_wait_sec)
        self._rest = DiscordRest(cfg, deps.http, stopping=self._stopping,
                                 metrics=deps.metrics)
        self._gateway = GatewayConnection(cfg, deps, self._session, self._rest, self.health,
                                          self._stopping, self._dispatch)
        self._task: Optional[asyncio.Task] = None
        self._handlers: set[asyncio.Task] = set()
        # A message id is marked seen on arrival, so a crash before the reply would
        # lose the command for good (a replay is dropped as a duplicate): keep it
        # pending in the StateStore until its reply was sent (faults.md 25).
        self._pending = PendingInbounds(deps.state, "discord", tell=self.send)
        self._send_locks = ChatLocks()
        self._slash: Optional[SlashCommands] = None
        if cfg.slash_commands and deps.menu is not None:
            allowed = frozenset(c.split(":", 1)[-1] for c in cfg.allowed_channels)
            self._slash = SlashCommands(self._rest, deps.menu, allowed)
        self._taps = DiscordTaps(self._rest, deps.buttons, on_inbound)
        self._hinted = False
        self._stopped = False

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Restore a recent session (so we RESUME) and spawn the gateway loop."""
        saved = self._deps.state.kv("discord").get_json(SESSION)
        if isinstance(saved, dict) and time.time() - float(saved.get("saved_at") or 0) \
                < RESUME_WINDOW:
            self._session.restore(saved)
            log.info("event=gateway_session_restored resumable=%s",
                     self._session.can_resume)
        for row_key, inbound in self._pending.take_over():
            self._spawn(row_key, inbound)
        self._task = asyncio.ensure_future(self._gateway.run())

    async def stop(self) -> None:
        """Close with 1000 (ends the session), wait for handlers, forget the session."""
        if self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        self._gateway.close()
        if self._task is not None:
            await drain([self._task], STOP_GRACE)
        await drain(self._handlers, STOP_GRACE)
        self._deps.state.kv("discord").delete(SESSION)
        self.health.stopped()

    # ------------------------------------------------------------------ inbound
    def _dispatch(self, event: Dispatch) -> None:
        if event.event in ("READY", "RESUMED"):
            self._gateway.connected()
            self.health.ok()
            log.info("event=gateway_%s user_id=%s", event.event.lower(), self._session.user_id)
            if self._slash is not None and event.event == "READY":
                self._slash.on_ready(event.data)
        elif event.event == "MESSAGE_CREATE" and isinstance(event.data, dict):
            inbound = self._inbound(event.data)
            if inbound is not None:
                # One transaction, pending row first: a crash between two commits
                # could leave the id seen without the command (never run) (issue 20).
                with self._deps.state.batch():
                    row_key = self._pending.add(inbound.message_id, inbound)
                    self._deps.state.mark_seen("discord", inbound.message_id, SEEN_TTL)
                self._spawn(row_key, inbound, replied=needs_replied(event.data, inbound))
        elif self._slash is not None and event.event == "GUILD_CREATE":
            for guild in self._slash.guilds_to_register(event.data):
                self._track(self._slash.register(guild))
        elif event.event == "INTERACTION_CREATE" and parse_component(event.data) is not None:
            self._tap(event.data)
        elif self._slash is not None and event.event == "INTERACTION_CREATE":
            self._interaction(event.data)

    def _interaction(self, d: Any) -> None:
        """A slash command: ack (deferred) at once, then run it like a message."""
        assert self._slash is not None
        inbound = parse_interaction(d, self._session.username)
        if inbound is None:
            return
        # The dedup mark and the pending command in one transaction (issue 14).
        with self._deps.state.batch():
            if not self._deps.state.mark_seen("discord", inbound.message_id, SEEN_TTL):
                return
            row_key = self._pending.add(inbound.message_id, inbound)
        slash = self._slash

        async def run() -> None:
            await slash.defer(d)
            await self._handle(row_key, inbound)
            await slash.finish(inbound.chat)

        self._track(run())

    def _tap(self, d: Any) -> None:
        """A button press (discord.buttons): once per interaction id, acked within 3 s."""
        tap = parse_component(d)
        if tap is None or not self._deps.state.mark_seen("discord", "i" + tap.interaction_id,
                                                         SEEN_TTL):
            return
        self._track(self._taps.handle(tap, self._session.username))

    def _track(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    def _spawn(self, row_key: str, inbound: Inbound, *, replied: bool = False) -> None:
        work = self._handle(row_key, inbound) if not replied else \
            self._handle_with_replied(row_key, inbound)
        task = asyncio.ensure_future(work)
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    def _inbound(self, d: dict) -> Optional[Inbound]:
        """An Inbound for a human message addressed to us, once per message id."""
        inbound, empty = parse_message(d, self._session.user_id, self._session.username)
        if empty and not self._hinted:
            self._hinted = True
            log.warning("event=discord_empty_content hint=guild messages arrive without "
                        "text: enable the Message Content intent in the Developer Portal, "
                        "or mention the bot")
        if inbound is None:
            return None
        if self._deps.state.is_seen("discord", inbound.message_id):
            log.info("event=discord_duplicate message_id=%s", inbound.message_id)
            return None
        log.debug("event=discord_inbound message_id=%s channel=%s user=%s%s",
                  inbound.message_id, inbound.chat_id, inbound.user_id,
                  " text=%r" % inbound.text if self._deps.debug else "")
        return inbound

    async def _handle_with_replied(self, row_key: str, inbound: Inbound) -> None:
        """A reply whose ``referenced_message`` Discord left out: fetch it for its photo."""
        path = "/channels/%s/messages/%s" % (inbound.chat_id, inbound.reply_to)
        try:
            response = await self._rest.get(path)
            photo = photo_of(json.loads(response.body)) if response.code == 200 else None
        except (OSError, ValueError, HTTPClientError) as exc:
            log.info("event=replied_fetch_failed message_id=%s error=%s", inbound.reply_to,
                     logmod.one_line_error(exc))
            photo = None
        await self._handle(row_key, dataclasses.replace(inbound, photo=photo)
                           if photo is not None else inbound)

    async def _handle(self, row_key: str, inbound: Inbound) -> None:
        try:
            await self._pending.run(row_key, self._on_inbound, inbound)
        except Exception as exc:
            log.error("event=inbound_failed platform=discord message_id=%s error=%s",
                      inbound.message_id, logmod.one_line_error(exc),
                      exc_info=self._deps.debug)

    # ------------------------------------------------------------------ outbound
    @property
    def capabilities(self) -> Capabilities:
        # Typing and video come with their issues; edits and buttons work now.
        return Capabilities(edit=True, max_upload_bytes=int(self._cfg.max_file_mb * 1048576),
                            buttons=self._deps.buttons is not None,
                            max_buttons=MAX_BUTTONS if self._deps.buttons is not None else 0)

    async def send(self, chat: ChatRef, reply: Reply, *, start_part: int = 0,
                   key: str = "") -> Sent:
        """Post ``reply`` as one or more messages, in order, replying to the command.

        One attempt per message from ``start_part`` on; raises ChannelSendError
        (with ``sent_parts``). The nonce is derived from the command (or ``key``)
        and the content (discord.message.render_reply).
        """
        # One lock per Discord channel keeps chunks in order and the bucket honest.
        return await self._send_locks(chat.chat_id,
                                      lambda: self._send_locked(chat, reply, start_part, key))

    async def _send_locked(self, chat: ChatRef, reply: Reply, start_part: int,
                           key: str) -> Sent:
        # A reply with buttons goes out as a message (the deferred answer is then deleted).
        token = self._slash.take(chat) if self._slash is not None and start_part == 0 \
            and not reply.actions else None
        if token is not None and reply.text:
            # A slash command's reply replaces its deferred answer; what does not fit
            # (more text, images) follows as ordinary messages.
            first, *rest = split_text(reply.text, TEXT_LIMIT) or [""]
            answer_id = await self._slash.edit_original(  # type: ignore[union-attr]
                token, first)
            if not rest and not reply.images:
                # The answer is a message like any other: a card edits it from here on.
                return Sent("discord", chat.chat_id, answer_id, answer_id)
            reply = Reply("\n".join(rest), reply.images)
        max_bytes = int(self._cfg.max_file_mb * 1024 * 1024)
        reply = await links_for_oversize(self._deps.media, reply, max_bytes, "Discord")

        async def send_one(_index: int, message: tuple[dict, list]) -> str:
            payload, files = message
            if files:
                body, ctype = multipart(payload, files)
            else:
                body, ctype = json.dumps(payload).encode("utf-8"), "application/json"
            answer = await self._rest.call("POST", "/channels/%s/messages" % chat.chat_id,
                                           route=MESSAGE_ROUTE, major=chat.chat_id,
                                           body=body, content_type=ctype)
            return str(answer.get("id") or "") if isinstance(answer, dict) else ""

        messages = render_reply(chat, reply, max_bytes, key=key)
        buttons = self._deps.buttons
        if reply.actions and buttons is not None and messages:
            messages[-1][0]["components"] = action_rows(buttons, chat, reply.actions)
        sent = await send_parts("discord", chat.chat_id, messages, start_part, send_one)
        if reply.actions and buttons is not None:
            buttons.shown(reply.actions, sent)
        return sent

    async def clear_buttons(self, sent: Sent) -> None:
        """Remove the buttons from what ``sent`` names (a decided request)."""
        await self._send_locks(sent.chat_id, lambda: self._taps.clear(sent))

    async def fetch_photo(self, photo: PhotoRef, max_bytes: int) -> bytes:
        """A user's attachment (its signed CDN URL, plain GET), at most ``max_bytes``."""
        return await fetch_bounded(self._deps.http.client, photo.ref, max_bytes=max_bytes)

    async def edit(self, sent: Sent, reply: Reply) -> Sent:
        """PATCH the first message of ``sent`` with the reply's text (≤ 2000 characters;
        a card is one message), interactive.md §2.2. With an image (a card's preview)
        the message's attachments become that one file; without, they are kept."""
        if not sent.first_id:
            raise ChannelSendError("nothing to edit: no message id", permanent=True)
        payload = {"content": (split_text(reply.text, TEXT_LIMIT) or [""])[0],
                   "allowed_mentions": {"parse": []}}
        if reply.images:
            body, ctype = multipart(payload, list(reply.images[:1]))
        else:
            body, ctype = json.dumps(payload).encode("utf-8"), "application/json"
        await self._send_locks(sent.chat_id, lambda: self._rest.call(
            "PATCH", "/channels/%s/messages/%s" % (sent.chat_id, sent.first_id),
            route=EDIT_ROUTE, major=sent.chat_id, body=body, content_type=ctype))
        return sent
