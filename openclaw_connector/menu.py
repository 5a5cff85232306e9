"""The command menu a platform shows (Telegram ``setMyCommands``, Discord slash commands).

Neutral data the router builds from its command table and the daemon hands to
the channels, so a channel can publish the commands without importing
``commands/`` (DESIGN.md: channels know no commands, the router no platform).
interactive.md §5 has the platforms' rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping


@dataclass(frozen=True)
class MenuItem:
    """One command: its word (``run``), a one-line description, and whether it can
    use a photo (a menu that supports files offers an optional image with it)."""

    word: str
    description: str
    takes_photo: bool = False


@dataclass(frozen=True)
class CommandMenu:
    """General commands for everyone, admin commands, and the admins' ids per platform."""

    general: tuple[MenuItem, ...] = ()
    admin: tuple[MenuItem, ...] = ()
    admin_ids: Mapping[str, frozenset] = field(default_factory=dict)
