"""Router: parse, authorize, rate-limit, call a handler, return a Reply.

The router knows commands and permissions and nothing about platforms
(DESIGN.md). Its one public entry is :meth:`Router.handle`, which never
raises: any failure becomes a plain sentence, and a sender nobody allowed
gets no command run and no reply (one log line, at most once per sender per
ten minutes, so the owner can copy the id into the config).

Handlers are registered in a table (:class:`CommandSpec`, in
:mod:`commands.context` with the request and context types, so this module
and the handler modules never import each other). Permissions come from the
``{platform: Allowlist}`` map of the config; the local operator (console) is
an ``Inbound`` flag, not a platform name. The template catalogue is the
daemon's one instance when given (the result path reads it for follow-ups).
"""

from __future__ import annotations

import time
from typing import Awaitable, Callable, Optional

from openclaw_connector import log as logmod
from openclaw_connector.commands import handlers
from openclaw_connector.commands.context import CommandContext, CommandSpec, Request
from openclaw_connector.commands.parser import (
    MAX_MESSAGE_CHARS, Command, ParseError, normalise, parse)
from openclaw_connector.commands.permissions import Permissions
from openclaw_connector.commands.photos import PhotoInputs
from openclaw_connector.commands.ratelimit import RATE_LIMITED_TEXT, SenderBuckets
from openclaw_connector.commands.templates import CATALOGUE_REFRESH_SEC, TemplateCatalogue
from openclaw_connector.commands.tracking import JobTracker
from openclaw_connector.config import Config
from openclaw_connector.config_values import PLATFORMS
from openclaw_connector.menu import CommandMenu, MenuItem
from openclaw_connector.messages import Inbound, PhotoFetch, Reply
from openclaw_connector.metrics import Metrics
from openclaw_connector.openclaw.client import OpenClawClient
from openclaw_connector.openclaw.types import OpenClawError
from openclaw_connector.state import StateStore

log = logmod.get("router")

DENIAL_LOG_INTERVAL_SEC = 600.0
HINT_TEXT = "Commands start with /. Send /help for the list."


class Router:
    """Turns an :class:`Inbound` into a :class:`Reply` (or silence)."""

    def __init__(self, cfg: Config, *, openclaw: Optional[OpenClawClient] = None,
                 jobs: Optional[JobTracker] = None, metrics: Metrics,
                 clock: Callable[[], float] = time.monotonic,
                 instance_tag: Optional[str] = None,
                 catalogue_refresh_sec: float = CATALOGUE_REFRESH_SEC,
                 on_decided: Optional[Callable[[str], Awaitable[None]]] = None,
                 state: Optional[StateStore] = None,
                 photo_fetch: Optional[PhotoFetch] = None,
                 catalogue: Optional[TemplateCatalogue] = None) -> None:
        self.cfg = cfg
        self.metrics = metrics
        self.permissions = Permissions(cfg.allowlists(), cfg.admin_users,
                                       enabled=cfg.enabled_channels())
        self._clock = clock
        self._buckets = SenderBuckets(cfg.rate_limit.per_minute, cfg.rate_limit.burst,
                                      clock=clock)
        self._denials: dict[str, float] = {}
        self.commands: dict[str, CommandSpec] = {}
        # Console message ids restart at 1 with every process; the tag keeps their
        # OpenClaw trace ids from colliding with the previous run's (1 h dedup).
        self.context = CommandContext(
            openclaw=openclaw, jobs=jobs, commands=self.commands,
            instance_tag=instance_tag or "%x" % int(time.time() * 1000),
            templates=catalogue if catalogue is not None else TemplateCatalogue(
                openclaw, refresh_sec=catalogue_refresh_sec, clock=clock),
            prompt_input=cfg.prompt_input, default_template=cfg.default_template,
            on_decided=on_decided,
            photos=PhotoInputs(state, photo_fetch, window_sec=cfg.media.input_window_sec,
                               max_bytes=int(cfg.media.max_in_mb * 1048576),
                               configured=cfg.image_input) if state is not None else None)
        self.register(CommandSpec("help", "/help", "show the commands you may use", _help))
        for spec in handlers.builtin_specs():
            self.register(spec)

    def register(self, spec: CommandSpec) -> None:
        self.commands[spec.word] = spec

    async def handle(self, inbound: Inbound) -> Optional[Reply]:
        """Answer one message; never raises."""
        started = self._clock()
        try:
            reply, word, outcome = await self._handle(inbound)
        except Exception:  # a bug must cost one reply, not the daemon
            log.exception("event=command_crashed platform=%s user=%s chat=%s",
                          inbound.platform, inbound.user_id, inbound.chat_id)
            return Reply("Something went wrong while handling that command; "
                         "the daemon log has the details.")
        if word is not None:
            took = 1000.0 * (self._clock() - started)
            word = self._label(word)
            log.info("event=command platform=%s user=%s chat=%s command=%s outcome=%s "
                     "took_ms=%.1f%s", inbound.platform, inbound.user_id, inbound.chat_id,
                     word, outcome, took,
                     " text=%r" % inbound.text if self.cfg.debug else "",
                     extra=logmod.SAFE)   # ids and counts; a debug text= is redacted
            self.metrics.inc("commands_total", platform=inbound.platform, command=word,
                             outcome=outcome, help="Commands handled")
        return reply

    async def _handle(self, inbound: Inbound) -> tuple[Optional[Reply], Optional[str], str]:
        allowed = self.permissions.is_allowed(inbound)
        if not allowed and len(inbound.text) > MAX_MESSAGE_CHARS:
            # Nobody allowed this sender: never spend parsing time on a huge body.
            self._log_denied(inbound, "?")
            return None, None, "denied"
        try:
            command = parse(inbound.text, inbound.bot_name, mentioned=inbound.mentioned)
        except ParseError as exc:
            if not allowed:
                self._log_denied(inbound, "?")
                return None, None, "denied"
            return Reply(str(exc)), "?", "parse_error"
        if allowed and inbound.photo is not None and self.context.photos is not None:
            self.context.photos.remember(inbound)
        if command is None:
            # "/cmd@otherbot" and "@otherbot ..." are for someone else: stay silent.
            text = normalise(inbound.text).strip()
            addressed = text.startswith(("/", "@"))
            if inbound.photo is not None and not text:
                # A photo alone is kept for a later /run; it answers nothing, except
                # in a private chat whose default template takes a photo: run that.
                command = await self._photo_default(inbound) if allowed else None
                if command is None:
                    return None, None, "photo_kept"
            elif not (allowed and inbound.is_direct and text and not addressed):
                return None, None, "ignored"    # groups never run (or answer) plain text
            elif not self.cfg.default_template:
                return Reply(HINT_TEXT), None, "hint"
            else:
                command = bare_text_command(self.cfg.default_template, text)
        if not allowed:
            self._log_denied(inbound, command.word)
            return None, command.word, "denied"
        if len(inbound.text) > MAX_MESSAGE_CHARS:
            return Reply("That message is too long (%d characters; the limit is %d)." % (
                len(inbound.text), MAX_MESSAGE_CHARS)), command.word, "too_long"
        # The local operator at the keyboard is never rate limited.
        verdict = "ok" if inbound.local_operator else self._buckets.take(inbound.sender)
        if verdict != "ok":
            return (Reply(RATE_LIMITED_TEXT) if verdict == "warn" else None,
                    command.word, "rate_limited")
        spec = self.commands.get(command.word)
        if spec is None:
            return Reply("Unknown command /%s. Send /help for the list." % command.word), \
                command.word, "unknown"
        is_admin = self.permissions.is_admin(inbound)
        if spec.admin_only and not is_admin:
            return Reply("Access denied: /%s is for admins. Your id: %s." % (
                spec.word, inbound.sender)), command.word, "access_denied"
        reply = await spec.handler(Request(inbound, command, is_admin), self.context)
        return reply, command.word, "ok"

    async def _photo_default(self, inbound: Inbound) -> Optional[Command]:
        """``/run <default_template>`` for a lone photo in a private chat, when that
        template takes an image; None otherwise."""
        name, photos = self.cfg.default_template, self.context.photos
        if not (inbound.is_direct and name and photos is not None):
            return None
        try:
            template = await self.context.templates.get(name)
        except OpenClawError:
            return None
        if template is None or photos.input_for(template) is None:
            return None
        return bare_text_command(name, "")

    def menu(self) -> CommandMenu:
        """The command list for platform menus (Telegram setMyCommands, Discord slash)."""
        specs = list(self.commands.values())
        return CommandMenu(
            general=tuple(MenuItem(s.word, s.summary, s.takes_photo)
                          for s in specs if not s.admin_only),
            admin=tuple(MenuItem(s.word, s.summary, s.takes_photo)
                        for s in specs if s.admin_only),
            admin_ids={p: self.permissions.admin_ids(p) for p in PLATFORMS if p != "console"})

    def _label(self, word: str) -> str:
        """The word for logs and metrics: sender text only if it is one of our commands
        (an unknown sender's "/<anything>" must not add metric series or put control
        characters in the log)."""
        return word if word in self.commands or word == "?" else "other"

    def _log_denied(self, inbound: Inbound, word: str) -> None:
        now = self._clock()
        last = self._denials.get(inbound.sender)
        self.metrics.inc("denied_total", platform=inbound.platform,
                         help="Messages from senders no allowlist names")
        if last is not None and now - last < DENIAL_LOG_INTERVAL_SEC:
            return
        if len(self._denials) >= 10_000:   # forged senders must not grow this for ever
            self._denials = {k: t for k, t in self._denials.items()
                             if now - t < DENIAL_LOG_INTERVAL_SEC}
        self._denials[inbound.sender] = now
        log.warning("event=sender_denied platform=%s user=%s chat=%s command=%s hint=\"add "
                    "%s to admin_users or the %s allowlist to allow it\"", inbound.platform,
                    inbound.user_id, inbound.chat_id, self._label(word), inbound.sender,
                    inbound.platform)


def bare_text_command(template: str, text: str) -> Command:
    """A private chat's plain message as ``/run <template> <text>``; its quotes and
    ``k=v`` read as in /run, and a stray quote is just a character of the prompt."""
    try:
        parsed = parse("/run %s %s" % (template, text))
    except ParseError:
        parsed = None
    if parsed is None:
        return Command(word="run", args=(template, text), rest=text, tokens=(template, text))
    return parsed


# --------------------------------------------------------------------------- /help

async def _help(req: Request, ctx: CommandContext) -> Reply:
    lines = ["Commands:"]
    general = [s for s in ctx.commands.values() if not s.admin_only]
    admin = [s for s in ctx.commands.values() if s.admin_only]
    for spec in general:
        lines.append("%s - %s" % (spec.usage, spec.summary))
    if req.is_admin and admin:
        lines.append("")
        lines.append("Admin:")
        for spec in admin:
            lines.append("%s - %s" % (spec.usage, spec.summary))
    return Reply("\n".join(lines))
