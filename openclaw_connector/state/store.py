"""StateStore: what must survive a restart, in one sqlite3 file.

The parts, one concept per module: core.py (the connection, writes, the
``batch()`` scope, failures), files.py (open, check, restore the file),
schema.py (tables and migration), records.py (key/values and seen ids),
watches.py (the JobWatcher's table), pending.py (pending inbound commands)
and views.py (``kv(namespace)``). No SQL lives outside this package.
"""

from __future__ import annotations

from openclaw_connector.state.files import StateFile
from openclaw_connector.state.pending import PendingTable
from openclaw_connector.state.records import Records
from openclaw_connector.state.views import KvView
from openclaw_connector.state.watches import WatchTable


class StateStore(StateFile, Records, WatchTable, PendingTable):
    """The one state database; a service with start()/stop(), opened first, closed last."""

    def kv(self, namespace: str) -> KvView:
        """The key/values under ``namespace.`` (``kv("telegram").get("offset")``)."""
        return KvView(self, namespace)
