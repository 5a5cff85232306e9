"""Who may do what: deny by default (DESIGN.md, "Rules that hold everywhere").

A sender is *allowed* when its user id is in its platform's user allowlist,
its chat is in the platform's chat allowlist, or it is an admin. *Admins*
are ``admin_users``: a bare id matches on any platform, ``platform:id`` on
that platform only. The console user is the local operator and an admin.
The allowlists are data from config keyed by platform name; nothing here
speaks a platform's protocol.
"""

from __future__ import annotations

from typing import Iterable

from openclaw_connector.config import Config


def _normalise(entries: Iterable[str], platform: str) -> frozenset[str]:
    """Bare ids as they are; ``platform:id`` kept only for this platform (as the bare id)."""
    out = set()
    for entry in entries:
        if ":" in entry:
            prefix, bare = entry.split(":", 1)
            if prefix == platform:
                out.add(bare)
        else:
            out.add(entry)
    return frozenset(out)


class Permissions:
    """Allowlist and admin decisions for one config."""

    def __init__(self, cfg: Config) -> None:
        lists = {
            "telegram": (cfg.telegram.allowed_users, cfg.telegram.allowed_chats),
            "discord": (cfg.discord.allowed_users, cfg.discord.allowed_channels),
            "line": (cfg.line.allowed_users, cfg.line.allowed_groups),
            "whatsapp": (cfg.whatsapp.allowed_users, ()),
        }
        self._users = {p: _normalise(u, p) for p, (u, _c) in lists.items()}
        self._chats = {p: _normalise(c, p) for p, (_u, c) in lists.items()}
        self._admin_entries = tuple(cfg.admin_users)

    def is_admin(self, platform: str, user_id: str) -> bool:
        if platform == "console":
            return True
        return user_id in _normalise(self._admin_entries, platform)

    def is_allowed(self, platform: str, user_id: str, chat_id: str, *,
                   admins: bool = True) -> bool:
        """``admins=False``: an admin entry does not allow (the sender is unverified)."""
        if admins and self.is_admin(platform, user_id):
            return True
        if user_id and user_id in self._users.get(platform, ()):
            return True
        return bool(chat_id) and chat_id in self._chats.get(platform, ())
