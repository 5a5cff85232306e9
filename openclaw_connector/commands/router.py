"""Router: parse, authorize, rate-limit, call a handler, return a Reply.

The router knows commands and permissions and nothing about platforms
(DESIGN.md). Its one public entry is :meth:`Router.handle`, which never
raises: any failure becomes a plain sentence, and a sender nobody allowed
gets no command run and no reply (one log line, at most once per sender per
ten minutes, so the owner can copy the id into the config).

Handlers are registered in a table (:class:`CommandSpec`); the full command
set registers itself through :func:`register_builtin` and the modules it
imports.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Optional

from openclaw_connector import log as logmod
from openclaw_connector.commands.parser import MAX_MESSAGE_CHARS, Command, ParseError, parse
from openclaw_connector.commands.permissions import Permissions
from openclaw_connector.commands.ratelimit import RATE_LIMITED_TEXT, SenderBuckets
from openclaw_connector.config import Config
from openclaw_connector.messages import Inbound, Reply

log = logmod.get("router")

DENIAL_LOG_INTERVAL_SEC = 600.0
HINT_TEXT = "Commands start with /. Send /help for the list."


@dataclass(frozen=True)
class Request:
    """What a handler gets: the message, the parsed command, and who is asking."""

    inbound: Inbound
    command: Command
    is_admin: bool
    router: "Router"


Handler = Callable[[Request], Awaitable[Reply]]


@dataclass(frozen=True)
class CommandSpec:
    """One command: its word, usage line, who may run it, and its handler."""

    word: str
    usage: str
    summary: str
    handler: Handler
    admin_only: bool = False


class Router:
    """Turns an :class:`Inbound` into a :class:`Reply` (or silence)."""

    def __init__(self, cfg: Config, *, openclaw: Any = None, jobs: Any = None,
                 metrics: Any = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self.openclaw = openclaw
        self.jobs = jobs
        self.metrics = metrics
        self.permissions = Permissions(cfg)
        self._clock = clock
        # Console message ids restart at 1 with every process; this keeps their
        # OpenClaw trace ids from colliding with the previous run's (1 h dedup).
        self.instance_tag = "%x" % int(time.time() * 1000)
        self._buckets = SenderBuckets(cfg.rate_limit.per_minute, cfg.rate_limit.burst,
                                      clock=clock)
        self._denials: dict[str, float] = {}
        self.commands: dict[str, CommandSpec] = {}
        register_builtin(self)

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
            if self.metrics is not None:
                self.metrics.inc("commands_total", platform=inbound.platform, command=word,
                                 outcome=outcome, help="Commands handled")
        return reply

    async def _handle(self, inbound: Inbound) -> tuple[Optional[Reply], Optional[str], str]:
        allowed = self.permissions.is_allowed(inbound.platform, inbound.user_id,
                                              inbound.chat_id)
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
        if command is None:
            # "/cmd@otherbot" and "@otherbot ..." are for someone else: stay silent.
            addressed = inbound.text.lstrip().startswith(("/", "@"))
            if allowed and inbound.is_direct and inbound.text.strip() and not addressed:
                return Reply(HINT_TEXT), None, "hint"
            return None, None, "ignored"
        if not allowed:
            self._log_denied(inbound, command.word)
            return None, command.word, "denied"
        if len(inbound.text) > MAX_MESSAGE_CHARS:
            return Reply("That message is too long (%d characters; the limit is %d)." % (
                len(inbound.text), MAX_MESSAGE_CHARS)), command.word, "too_long"
        # The console is the local operator at the keyboard: never rate limited.
        verdict = "ok" if inbound.platform == "console" else self._buckets.take(inbound.sender)
        if verdict != "ok":
            return (Reply(RATE_LIMITED_TEXT) if verdict == "warn" else None,
                    command.word, "rate_limited")
        spec = self.commands.get(command.word)
        if spec is None:
            return Reply("Unknown command /%s. Send /help for the list." % command.word), \
                command.word, "unknown"
        is_admin = self.permissions.is_admin(inbound.platform, inbound.user_id)
        if spec.admin_only and not is_admin:
            return Reply("Access denied: /%s is for admins. Your id: %s." % (
                spec.word, inbound.sender)), command.word, "access_denied"
        reply = await spec.handler(Request(inbound, command, is_admin, self))
        return reply, command.word, "ok"

    def _label(self, word: str) -> str:
        """The word for logs and metrics: sender text only if it is one of our commands
        (an unknown sender's "/<anything>" must not add metric series or put control
        characters in the log)."""
        return word if word in self.commands or word == "?" else "other"

    def _log_denied(self, inbound: Inbound, word: str) -> None:
        now = self._clock()
        last = self._denials.get(inbound.sender)
        if self.metrics is not None:
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


# --------------------------------------------------------------------------- /help

async def _help(req: Request) -> Reply:
    router = req.router
    lines = ["Commands:"]
    general = [s for s in router.commands.values() if not s.admin_only]
    admin = [s for s in router.commands.values() if s.admin_only]
    for spec in general:
        lines.append("%s - %s" % (spec.usage, spec.summary))
    if req.is_admin and admin:
        lines.append("")
        lines.append("Admin:")
        for spec in admin:
            lines.append("%s - %s" % (spec.usage, spec.summary))
    return Reply("\n".join(lines))


def register_builtin(router: Router) -> None:
    """Register every command this build has."""
    router.register(CommandSpec("help", "/help", "show the commands you may use", _help))
    from openclaw_connector.commands import handlers  # imports this module: import late
    handlers.register(router)
