"""KvView: one namespace of the key/value tables, so callers name no key prefix.

``state.kv("telegram").get("offset")`` reads the key ``telegram.offset``: the
stored strings are those callers spelled by hand before, so an existing
database keeps working.
"""

from __future__ import annotations

from typing import Optional, Protocol


class KvStore(Protocol):
    """The flat key/value methods a view forwards to (the StateStore's)."""

    def get(self, key: str, default: Optional[str] = None) -> Optional[str]: ...
    def set(self, key: str, value: str) -> None: ...
    def delete(self, key: str) -> None: ...
    def get_json(self, key: str) -> Optional[object]: ...
    def set_json(self, key: str, value: object) -> None: ...
    def put_expiring(self, key: str, value: str, ttl_sec: float) -> None: ...
    def get_expiring(self, key: str) -> Optional[str]: ...


class KvView:
    """The keys under ``<namespace>.`` of a :class:`KvStore`."""

    def __init__(self, store: KvStore, namespace: str) -> None:
        if not namespace or namespace.endswith("."):
            raise ValueError("a view namespace is a non-empty name without a trailing dot")
        self._store = store
        self.namespace = namespace
        self._prefix = namespace + "."

    def key(self, name: str) -> str:
        """The stored key of ``name`` (for logs and tests)."""
        return self._prefix + name

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        return self._store.get(self._prefix + name, default)

    def set(self, name: str, value: str) -> None:
        self._store.set(self._prefix + name, value)

    def delete(self, name: str) -> None:
        self._store.delete(self._prefix + name)

    def get_json(self, name: str) -> Optional[object]:
        return self._store.get_json(self._prefix + name)

    def set_json(self, name: str, value: object) -> None:
        self._store.set_json(self._prefix + name, value)

    def put_expiring(self, name: str, value: str, ttl_sec: float) -> None:
        """A value forgotten ``ttl_sec`` from now."""
        self._store.put_expiring(self._prefix + name, value, ttl_sec)

    def get_expiring(self, name: str) -> Optional[str]:
        return self._store.get_expiring(self._prefix + name)
