"""PendingTable: acknowledged inbound commands not yet answered (channels/pending.py).

A command a platform will not send again once acknowledged (a Discord slash
command) is stored here before the acknowledgement and removed once answered;
the next start replays what is left. Keys are ``inbound:<platform>:<event>``,
as version 1 of the schema stored them in ``watches`` (schema.py migrates).
Webhook commands (LINE, WhatsApp) live in their dedup row instead (records.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from openclaw_connector.state.core import StateCore


@dataclass(frozen=True)
class PendingRow:
    """One stored command: ``chat`` is a ChatRef in JSON, ``data`` the Inbound's fields."""

    key: str
    platform: str
    event_id: str
    chat: str
    created: float
    data: dict


def pending_key(platform: str, event_id: str) -> str:
    return "inbound:%s:%s" % (platform, event_id)


class PendingTable(StateCore):
    """put/delete/list of the ``pending_inbound`` table."""

    def put_pending(self, row: PendingRow) -> None:
        self._write("INSERT OR REPLACE INTO pending_inbound (key, platform, event_id, chat, "
                    "created, data) VALUES (?, ?, ?, ?, ?, ?)",
                    (row.key, row.platform, row.event_id, row.chat, row.created,
                     json.dumps(row.data, sort_keys=True)))

    def delete_pending(self, key: str) -> None:
        self._write("DELETE FROM pending_inbound WHERE key = ?", (key,))

    def pending_inbound(self, platform: str) -> list[PendingRow]:
        """``platform``'s stored commands, oldest first."""
        return [PendingRow(key, platform_, event_id, chat, created, json.loads(data))
                for key, platform_, event_id, chat, created, data in self._read(
                    "SELECT key, platform, event_id, chat, created, data FROM pending_inbound "
                    "WHERE platform = ? ORDER BY created", (platform,))]
