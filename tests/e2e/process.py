"""The daemon under test as a child process, and the two waiting helpers.

:class:`DaemonProc` runs ``python -m openclaw_connector -c FILE`` with a clean
environment (no ``OPENCLAW_CONNECTOR_*`` leaks in), keeps its stderr line by
line, and offers waits on log lines, SIGKILL/SIGTERM and the exit status.
``until`` re-checks a condition on a short timer; ``tick`` lets wall time pass
where time itself is the fault (outage length, a random kill point, pacing).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from typing import Any, Callable, Optional

# Old homes of until()/tick(), kept importable: both live in the harness now.
from tests.harness import tick, until  # noqa: F401

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port() -> int:
    """A port nobody uses now, below the kernel's ephemeral range.

    The daemon re-binds the same port after every restart; a port from the
    ephemeral range can meanwhile become the source port of some outgoing
    connection on this machine, and the restart then fails with EADDRINUSE.
    """
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
            low = int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(max(1024, low - 12000), low)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- the daemon

class DaemonProc:
    """One run of ``python -m openclaw_connector -c FILE``; stderr kept as lines.

    Uses asyncio's subprocess support (its child watcher is not tied to one
    IOLoop, unlike Tornado's SIGCHLD handler, which stays bound to the first
    test's loop). Create with :meth:`spawn`.
    """

    def __init__(self) -> None:
        self.proc: Any = None
        self.pid = 0
        self.lines: list[str] = []
        self.started = time.monotonic()
        self._changed = asyncio.Event()
        self._reader: Any = None
        self._exit: Any = None

    @classmethod
    async def spawn(cls, config_path: str, *, env: Optional[dict] = None,
                    preexec_fn: Optional[Callable[[], None]] = None) -> "DaemonProc":
        self = cls()
        clean = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_CONNECTOR")}
        # E2E_DAEMON_ROOT runs another checkout's daemon against these fakes (README).
        clean["PYTHONPATH"] = os.environ.get("E2E_DAEMON_ROOT") or ROOT
        clean.update(env or {})
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "openclaw_connector", "-c", config_path,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            cwd=ROOT, env=clean, preexec_fn=preexec_fn)
        self.pid = self.proc.pid
        self._reader = asyncio.ensure_future(self._read())
        self._exit = asyncio.ensure_future(self.proc.wait())
        return self

    async def _read(self) -> None:
        try:
            while True:
                raw = await self.proc.stdout.readline()
                if not raw:
                    break
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._changed.set()
        finally:
            self._changed.set()

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def returncode(self) -> Optional[int]:
        return self._exit.result() if self._exit.done() else None

    def count(self, needle: str) -> int:
        return sum(needle in line for line in self.lines)

    async def wait_line(self, needle: str, *, count: int = 1, timeout: float = 10.0) -> str:
        """The ``count``-th log line containing ``needle``; fails if the process exits first."""
        deadline = time.monotonic() + timeout
        while True:
            hits = [line for line in self.lines if needle in line]
            if len(hits) >= count:
                return hits[count - 1]
            if self._reader.done():
                raise AssertionError("daemon exited (%s) before %r; log tail:\n%s" % (
                    self.returncode, needle, "\n".join(self.lines[-30:])))
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out waiting for %r; log tail:\n%s" % (
                    needle, "\n".join(self.lines[-30:])))
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def ready(self, timeout: float = 15.0) -> None:
        await self.wait_line("event=daemon_ready", timeout=timeout)

    def signal(self, signum: int) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.signal(signal.SIGKILL)

    async def wait_exit(self, timeout: float = 15.0) -> int:
        code = await asyncio.wait_for(asyncio.shield(self._exit), timeout)
        await asyncio.wait_for(asyncio.shield(self._reader), 5)
        return code

    async def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait; SIGKILL if it does not exit in time."""
        self.signal(signal.SIGTERM)
        try:
            return await self.wait_exit(timeout)
        except asyncio.TimeoutError:
            self.kill()
            await self.wait_exit(5)
            raise AssertionError("daemon ignored SIGTERM for %.0f s" % timeout)
