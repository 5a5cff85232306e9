"""How a config key is declared, walked and shown (the rest of ``config/`` uses it).

Each key is one dataclass field whose metadata names its environment variable,
its kind (for parsing and validation, config_values.py) and whether it is a
secret; ``_walk`` visits them in declaration order.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

SECRET_MASK = "***"


def _key(env: Optional[str], kind: str = "str", *, secret: bool = False,
         default: Any = None, ids: str = "", std_env: tuple[str, ...] = ()) -> Any:
    """Declare one config key: its env variable, kind, secrecy and default.

    ``std_env`` names conventional variables (``HTTPS_PROXY``) read only when
    neither the file, our own variable nor the command line set the key.
    """
    meta = {"env": env, "kind": kind, "secret": secret, "ids": ids, "std_env": std_env}
    if isinstance(default, (list, tuple)):
        return field(default=tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


E = "OPENCLAW_CONNECTOR_"


@dataclass(frozen=True)
class Allowlist:
    """Who one platform lets in, as its channel's config names them.

    ``users`` and ``chats`` are ids, bare or ``platform:id``; ``user_id_form``
    is the regex a bare user id of this platform matches, so the command layer
    can tell which platforms a bare ``admin_users`` entry could belong to
    without knowing any platform.
    """

    users: tuple[str, ...] = ()
    chats: tuple[str, ...] = ()
    user_id_form: str = ""


def _walk(obj: Any, prefix: str = ""):
    for f in dataclasses.fields(obj):
        if f.metadata.get("internal"):
            continue
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from _walk(value, prefix + f.name + ".")
        else:
            yield prefix + f.name, value, f.metadata


def _to_dict(obj: Any, mask: bool) -> dict:
    out: dict = {}
    for f in dataclasses.fields(obj):
        if f.metadata.get("internal"):
            continue
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out[f.name] = _to_dict(value, mask)
        elif f.metadata.get("secret") and value and mask:
            out[f.name] = SECRET_MASK
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        elif isinstance(value, Mapping):
            out[f.name] = _plain(value)
        else:
            out[f.name] = value
    return out


def _plain(value: Any) -> Any:
    """Nested read-only mappings as plain dicts (``--print-config`` dumps them as YAML)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def mask_secret(value: Optional[str]) -> str:
    """Show that a secret is set without showing it (``***1234`` keeps no more than 4)."""
    if not value:
        return "(unset)"
    return SECRET_MASK if len(value) < 16 else SECRET_MASK + value[-4:]
