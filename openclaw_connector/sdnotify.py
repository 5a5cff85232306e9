"""sd_notify: tell systemd (``Type=notify``) that the daemon is ready or stopping.

The protocol is one datagram of ``KEY=value`` lines sent to the AF_UNIX socket
named by ``$NOTIFY_SOCKET`` (sd_notify(3)); a name starting with ``@`` is a
Linux abstract socket. Outside systemd the variable is unset and every call
is a no-op, so the daemon calls :func:`notify` unconditionally:
``READY=1`` after all channels started, ``STOPPING=1`` at shutdown.

``NOTIFY_SOCKET`` is read here rather than in config.py because it is part of
the service manager's protocol with this process, not user configuration.
No dependency: a few lines over :mod:`socket`.
"""

from __future__ import annotations

import os
import socket
from typing import Optional

from openclaw_connector import log as logmod

ENV = "NOTIFY_SOCKET"


def socket_address(value: Optional[str]) -> Optional[str | bytes]:
    """The address to send to: a path, or ``b"\\0name"`` for an abstract ``@name``."""
    if not value:
        return None
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if not value.startswith("/"):
        return None  # sd_notify(3) accepts only absolute paths and abstract names
    return value


def notify(state: str, *, address: Optional[str] = None) -> bool:
    """Send ``state`` (e.g. ``"READY=1"``); True if a service manager received it.

    ``address`` overrides ``$NOTIFY_SOCKET`` (tests). Never raises: a missing
    or broken socket is logged once at debug level and ignored, because a
    failed notification must not stop the daemon.
    """
    target = socket_address(address if address is not None else os.environ.get(ENV))
    if target is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.settimeout(1.0)
            sock.sendto(state.encode(), target)
    except OSError as exc:
        logmod.get("daemon").debug("event=sd_notify_failed state=%s error=%s",
                                   state.split("\n", 1)[0], logmod.one_line_error(exc))
        return False
    return True
