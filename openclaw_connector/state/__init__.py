"""The StateStore package: what must survive a restart (store.py says which part is where)."""

from openclaw_connector.state.core import DB_NAME, StateDirError
from openclaw_connector.state.pending import PendingRow, pending_key
from openclaw_connector.state.schema import SCHEMA_VERSION
from openclaw_connector.state.store import StateStore
from openclaw_connector.state.views import KvView
from openclaw_connector.state.watches import Watch

__all__ = ["DB_NAME", "KvView", "PendingRow", "SCHEMA_VERSION", "StateDirError", "StateStore",
           "Watch", "pending_key"]
