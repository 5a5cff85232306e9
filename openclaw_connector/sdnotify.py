"""sd_notify: tell systemd (``Type=notify``) that the daemon is ready or stopping.

The protocol is one datagram of ``KEY=value`` lines sent to the AF_UNIX socket
named by ``$NOTIFY_SOCKET`` (sd_notify(3)); a name starting with ``@`` is a
Linux abstract socket. Outside systemd the variable is unset and every call
is a no-op, so the daemon calls :func:`notify` unconditionally:
``READY=1`` after all channels started, ``STOPPING=1`` at shutdown.

With ``WatchdogSec=`` in the unit, systemd sets ``$WATCHDOG_USEC``;
:func:`watchdog` then sends ``WATCHDOG=1`` from the IOLoop every half
period, so a loop that is blocked or dead (faults.md #1, #3) stops the
pings and systemd restarts the daemon.

``NOTIFY_SOCKET`` is read here rather than in config/ because it is part of
the service manager's protocol with this process, not user configuration.
No dependency: a few lines over :mod:`socket`.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any, Awaitable, Mapping, Optional

from openclaw_connector import log as logmod
from openclaw_connector.backoff import wait_or_stop

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
    or broken socket is logged at debug level and ignored, because a failed
    notification must not stop the daemon.
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


def watchdog_interval(env: Optional[Mapping[str, str]] = None) -> Optional[float]:
    """Seconds between ``WATCHDOG=1`` pings (half of ``$WATCHDOG_USEC``), or None.

    None when systemd set no watchdog, or set it for another process
    (``$WATCHDOG_PID``), as sd_watchdog_enabled(3) says.
    """
    env = os.environ if env is None else env
    try:
        usec = int(env.get("WATCHDOG_USEC", "0"))
        pid = int(env.get("WATCHDOG_PID", "0") or "0")
    except ValueError:
        return None
    if usec <= 0 or (pid and pid != os.getpid()):
        return None
    return usec / 2e6


async def watchdog(stopping: asyncio.Event, *, interval: Optional[float] = None,
                   address: Optional[str] = None) -> None:
    """Ping ``WATCHDOG=1`` every ``interval`` seconds until ``stopping`` is set.

    Returns at once when there is no watchdog (``interval`` None and none in
    the environment). Run it as a task on the daemon's IOLoop.
    """
    interval = interval if interval is not None else watchdog_interval()
    if not interval:
        return
    while not stopping.is_set():
        notify("WATCHDOG=1", address=address)
        await wait_or_stop(stopping, interval)


async def with_watchdog(waiting: Awaitable[Any], *, interval: Optional[float] = None,
                        address: Optional[str] = None) -> Any:
    """Await ``waiting`` (the daemon's run) while :func:`watchdog` pings beside it."""
    stop = asyncio.Event()
    beat = asyncio.ensure_future(watchdog(stop, interval=interval, address=address))
    try:
        return await waiting
    finally:
        stop.set()
        await beat
