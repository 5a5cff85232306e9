"""One-tap buttons: a random token per rendered :class:`~messages.Action`, resolved at tap time.

"A button is a command" (DESIGN.md, "Interaction"): a channel renders each
action as its platform's button carrying an opaque token; the token maps, in
the StateStore, to (command, origin chat, group) for ``buttons.token_ttl_sec``.
A tap becomes an ordinary Inbound whose text is that command and whose sender
is the person who tapped, so the router's allowlist, admin check, rate limit
and approval gate apply unchanged. Tokens are 128 random bits
(``secrets.token_urlsafe(16)``, 22 characters: inside Telegram's 64-byte
``callback_data``, Discord's 100-character ``custom_id``, LINE's 300-character
postback ``data`` and WhatsApp's 256-character reply id; interactive.md §1),
never the command and never derived from chat data, so data a client forges
resolves to nothing.

Actions that share a ``group`` are one decision (Approve/Reject of one
request). While one tap of a button (or of its group) runs, another tap of it
is told so, so a double tap runs once; once
the decision is known (:meth:`Buttons.decided`, called by the approval
commands and by the JobWatcher, whoever decided), every token of the group
answers "already done" and the messages that carry the group's buttons lose
them where the platform can edit (``clear_buttons`` on the channel).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence, Union

from openclaw_connector import log as logmod
from openclaw_connector.messages import Action, ChatRef, Sent
from openclaw_connector.state import StateStore

log = logmod.get("buttons")

NAMESPACE = "buttons"            # state.kv("buttons"): token.<t>, used.<group>, shown.<group>
TOKEN_KEY = "token."
USED_KEY = "used."
SHOWN_KEY = "shown."
MAX_SHOWN = 20                      # messages remembered per group (a /approvals list each)

UNKNOWN_TEXT = "This button has expired or is not valid any more; type the command instead."
OTHER_CHAT_TEXT = "This button belongs to another chat."
DONE_TEXT = "Already done."
BUSY_TEXT = "Already in progress."


@dataclass(frozen=True)
class Granted:
    """A tap that may run: ``command`` is the text of its Inbound."""

    command: str
    group: str = ""
    tap_id: str = ""
    claim: str = ""          # what this tap holds while it runs (its group, else its token)


@dataclass(frozen=True)
class Refused:
    """A tap that does nothing: ``text`` is the short answer the tapper sees."""

    text: str


def new_token() -> str:
    """128 random bits, URL-safe (fits every platform's button payload)."""
    return secrets.token_urlsafe(16)


def actions_as_text(actions: Sequence[Action]) -> str:
    """The commands of ``actions`` as lines a person can type (console, no-button chats)."""
    return "\n".join("%s: %s" % (a.label, a.command) for a in actions)


class Buttons:
    """Token store and decision bookkeeping; ``channels`` is the daemon's live dict."""

    def __init__(self, state: StateStore, *, ttl_sec: float,
                 channels: Optional[Mapping[str, Any]] = None) -> None:
        self._kv = state.kv(NAMESPACE)
        self._ttl = float(ttl_sec)
        self._channels: Mapping[str, Any] = channels if channels is not None else {}
        self._running: dict[str, str] = {}      # group (or lone token) -> tap id running it

    # ------------------------------------------------------------------ rendering
    def issue(self, chat: ChatRef, action: Action) -> str:
        """A fresh token for ``action`` shown in ``chat``."""
        token = new_token()
        record = {"command": action.command, "platform": chat.platform,
                  "chat_id": chat.chat_id, "group": action.group}
        self._kv.put_expiring(TOKEN_KEY + token, json.dumps(record, sort_keys=True),
                                 self._ttl)
        return token

    def shown(self, actions: Sequence[Action], sent: Sent) -> None:
        """Remember that ``sent`` carries ``actions``' buttons, to clear them once decided."""
        for group in sorted({a.group for a in actions if a.group}):
            key = SHOWN_KEY + group
            try:
                known = json.loads(self._kv.get_expiring(key) or "[]")
            except ValueError:
                known = []
            known = [k for k in known if isinstance(k, str)][-(MAX_SHOWN - 1):]
            known.append(sent.to_json())
            self._kv.put_expiring(key, json.dumps(known), self._ttl)

    # ------------------------------------------------------------------ tapping
    def open(self, token: str, chat: ChatRef, tap_id: str) -> Union[Granted, Refused]:
        """What a tap on ``token`` in ``chat`` may do; a Granted one must be ``close``d."""
        raw = self._kv.get_expiring(TOKEN_KEY + token) if token else None
        try:
            record = json.loads(raw) if raw else None
        except ValueError:
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("command"), str):
            log.info("event=tap_refused platform=%s chat=%s reason=unknown_token",
                     chat.platform, chat.chat_id)
            return Refused(UNKNOWN_TEXT)
        if record.get("platform") != chat.platform or \
                str(record.get("chat_id")) != chat.chat_id:
            log.warning("event=tap_refused platform=%s chat=%s reason=other_chat",
                        chat.platform, chat.chat_id)
            return Refused(OTHER_CHAT_TEXT)
        group = str(record.get("group") or "")
        if group and self.is_decided(group):
            return Refused(DONE_TEXT)
        # A double tap while the first still runs is one tap (an accidental second
        # "Again" must not start a second job); afterwards the button works again.
        claim = "group:" + group if group else "token:" + token
        if claim in self._running:
            return Refused(BUSY_TEXT)
        self._running[claim] = tap_id
        return Granted(record["command"], group, tap_id, claim)

    def close(self, granted: Granted) -> None:
        """The tap's command has run (or failed): the button (or its group) may run again."""
        if granted.claim and self._running.get(granted.claim) == granted.tap_id:
            del self._running[granted.claim]

    # ------------------------------------------------------------------ decisions
    def is_decided(self, group: str) -> bool:
        return self._kv.get_expiring(USED_KEY + group) is not None

    async def decided(self, group: str) -> None:
        """``group``'s decision is made: its tokens answer "already done" and its buttons
        are cleared where the channel can (best effort: a failure is logged)."""
        if not group:
            return
        self._kv.put_expiring(USED_KEY + group, "1", self._ttl)
        key = SHOWN_KEY + group
        try:
            shown = json.loads(self._kv.get_expiring(key) or "[]")
        except ValueError:
            shown = []
        self._kv.put_expiring(key, "[]", self._ttl)   # cleared once, not per later call
        for raw in shown:
            try:
                sent = Sent.from_json(raw)
            except (ValueError, KeyError, TypeError):
                continue
            channel = self._channels.get(sent.platform)
            clear = getattr(channel, "clear_buttons", None)
            if clear is None:
                continue
            try:
                await clear(sent)
            except Exception as exc:     # cosmetic: the tokens already answer "done"
                log.warning("event=buttons_clear_failed platform=%s chat=%s error=%s",
                            sent.platform, sent.chat_id, logmod.one_line_error(exc))
            else:
                log.info("event=buttons_cleared group=%s platform=%s chat=%s", group,
                         sent.platform, sent.chat_id)
