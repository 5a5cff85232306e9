"""The Telegram command menu (setMyCommands, interactive.md §5.1), published once per
start by the poll loop after getMe.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from openclaw_connector import log as logmod
from openclaw_connector.channels.telegram.wire import TelegramError, log_field

log = logmod.get("telegram")


async def publish_menu(call: Callable[..., Awaitable[Any]], menu: Any, *,
                       timeout: float) -> None:
    """setMyCommands (interactive.md §5.1): the general commands for everyone, and
    general + admin ones in each admin's private chat. Idempotent, so once per start;
    a failure only costs the menu (logged), never the channel."""
    calls: list[tuple[dict[str, Any], list[dict]]] = [
        ({"type": "default"}, menu_commands(menu.general))]
    for admin in sorted(menu.admin_ids.get("telegram", ())):
        if admin.isdigit():   # a private chat's id is the user's id
            calls.append(({"type": "chat", "chat_id": int(admin)},
                          menu_commands(menu.general + menu.admin)))
    published = 0
    for scope, commands in calls:
        # One scope failing (a bare admin id that is no Telegram chat: "chat not
        # found") must not cost the others their menu.
        try:
            await call("setMyCommands", {"commands": commands, "scope": scope},
                       timeout=timeout)
            published += 1
        except TelegramError as exc:
            log.warning("event=menu_failed scope=%s chat=%s error=%s", scope["type"],
                        scope.get("chat_id", "-"), log_field(str(exc)))
    log.info("event=menu_published scopes=%d of=%d commands=%d", published, len(calls),
             len(menu.general))


def menu_commands(items: Any) -> list[dict]:
    """BotCommand objects: 1-32 lowercase letters, digits, underscores; 1-256 chars."""
    out = []
    for item in items[:100]:
        word = item.word.lower()
        if 1 <= len(word) <= 32 and all(c.isalnum() or c == "_" for c in word):
            out.append({"command": word, "description": (item.description or word)[:256]})
    return out
