"""Who may do what: deny by default (DESIGN.md, "Rules that hold everywhere").

A sender is *allowed* when its user id is in its platform's user allowlist,
its chat is in the platform's chat allowlist, or it is an admin there.
*Admins* are ``admin_users``: ``platform:id`` is an admin on that platform
only. A bare id is an admin only on the platforms whose allowlist names it;
named by none, it is an admin on the one enabled platform whose ids look
like it, and on none when several could own it (a WhatsApp number written
bare must not make the Telegram user with the same number an admin; issue
20). Such ids are reported at start with the prefixed form to write. The
local operator (the console, ``Inbound.local_operator``) is an admin.

The input is a ``{platform: Allowlist}`` map that each channel's config
supplies; nothing here names a platform. Every id set is built once, so a
decision is a few set lookups whatever the list sizes.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping

from openclaw_connector.config import Allowlist
from openclaw_connector.messages import Inbound


def _ids_for(platform: str, entries: Iterable[str]) -> frozenset[str]:
    """Bare ids as they are; ``platform:id`` kept only for this platform (as the bare id)."""
    out = set()
    for entry in entries:
        prefix, sep, bare = entry.partition(":")
        if not sep:
            out.add(entry)
        elif prefix == platform:
            out.add(bare)
    return frozenset(out)


class Permissions:
    """Allowlist and admin decisions, fixed at construction."""

    def __init__(self, allowlists: Mapping[str, Allowlist], admin_users: Iterable[str], *,
                 enabled: Iterable[str] = ()) -> None:
        self._users = {p: _ids_for(p, a.users) for p, a in allowlists.items()}
        self._chats = {p: _ids_for(p, a.chats) for p, a in allowlists.items()}
        admins: dict[str, set[str]] = {p: set() for p in allowlists}
        self.warnings: list[str] = []
        live = [p for p in enabled if p in allowlists]
        for entry in admin_users:
            prefix, sep, bare = entry.partition(":")
            if sep:
                if prefix in admins:
                    admins[prefix].add(bare)
                continue
            named = [p for p in allowlists if entry in self._users[p]]
            could = [p for p in live if allowlists[p].user_id_form
                     and re.fullmatch(allowlists[p].user_id_form, entry)]
            owners = named or (could if len(could) == 1 else [])
            for p in owners:
                admins[p].add(entry)
            if len(set(could) | set(named)) > 1:
                self.warnings.append(self._ambiguous(entry, owners, could, named))
        self._admins = {p: frozenset(ids) for p, ids in admins.items()}

    @staticmethod
    def _ambiguous(entry: str, owners: list[str], could: list[str], named: list[str]) -> str:
        """One log line's fields: where a bare admin id could belong and what to write."""
        return ("event=admin_id_ambiguous id=%s could_be=%s admin_on=%s because=%s "
                "hint=\"write %s in admin_users\"" % (
                    entry, ",".join(sorted(set(could) | set(named))),
                    ",".join(owners) or "none",
                    "allowlist_names_it" if named else "several_platforms_fit",
                    " or ".join("%s:%s" % (p, entry) for p in (owners or could))))

    def admin_ids(self, platform: str) -> frozenset[str]:
        """The admin user ids on ``platform`` (for menus shown only to admins)."""
        return self._admins.get(platform, frozenset())

    def is_admin(self, inbound: Inbound) -> bool:
        """An unverified sender id may be forged: never an admin's, whatever it says."""
        if inbound.local_operator:
            return True
        if not inbound.verified:
            return False
        return inbound.user_id in self._admins.get(inbound.platform, ())

    def is_allowed(self, inbound: Inbound) -> bool:
        if self.is_admin(inbound):
            return True
        if inbound.user_id and inbound.user_id in self._users.get(inbound.platform, ()):
            return True
        return bool(inbound.chat_id) and inbound.chat_id in self._chats.get(inbound.platform,
                                                                            ())
