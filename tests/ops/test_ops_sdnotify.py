"""sd_notify over a real AF_UNIX datagram socket: unit behaviour and the daemon's READY/STOPPING."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from openclaw_connector import sdnotify
from tests.ops.identity_fake import closed_port_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dgram():
    """A bound datagram socket in a short temp dir (AF_UNIX paths are limited to 107 bytes)."""
    directory = tempfile.mkdtemp(prefix="ocn-")
    path = os.path.join(directory, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    yield sock, path
    sock.close()
    os.unlink(path)
    os.rmdir(directory)


def test_notify_sends_one_datagram_to_a_path(dgram):
    sock, path = dgram
    assert sdnotify.notify("READY=1", address=path) is True
    assert sock.recv(4096) == b"READY=1"


def test_notify_to_an_abstract_socket():
    """``@name`` is a Linux abstract socket: leading NUL, no file."""
    name = "openclaw-test-%d" % os.getpid()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(10)
        assert sdnotify.notify("STOPPING=1", address="@" + name) is True
        assert sock.recv(4096) == b"STOPPING=1"


@pytest.mark.parametrize("address", ["", "relative/notify", "/nonexistent/dir/notify"])
def test_notify_without_a_usable_socket_is_a_quiet_no_op(address):
    assert sdnotify.notify("READY=1", address=address) is False


def test_socket_address_forms():
    assert sdnotify.socket_address(None) is None
    assert sdnotify.socket_address("@x") == b"\0x"
    assert sdnotify.socket_address("/run/systemd/notify") == "/run/systemd/notify"


@pytest.mark.parametrize("env, expected", [
    ({}, None),
    ({"WATCHDOG_USEC": "60000000"}, 30.0),
    ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "1"}, None),   # meant for another process
    ({"WATCHDOG_USEC": "soon"}, None),
])
def test_watchdog_interval(env, expected):
    if env.get("WATCHDOG_PID") == "1" and os.getpid() == 1:
        pytest.skip("running as pid 1")
    assert sdnotify.watchdog_interval(env) == expected


@pytest.mark.gen_test(timeout=10)
async def test_with_watchdog_pings_until_the_run_ends(dgram):
    """WATCHDOG=1 arrives repeatedly while the awaited run lasts; none after it ended."""
    sock, path = dgram
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    async def run() -> str:
        for _ in range(3):                      # three pings observed, then finish
            assert await loop.sock_recv(sock, 4096) == b"WATCHDOG=1"
        done.set()
        return "finished"

    async def daemon_run() -> str:
        await done.wait()
        return "stopped"

    reader = asyncio.ensure_future(run())
    assert await sdnotify.with_watchdog(daemon_run(), interval=0.01, address=path) == "stopped"
    assert await reader == "finished"


@pytest.mark.gen_test(timeout=10)
async def test_with_watchdog_without_watchdog_just_awaits():
    async def quick() -> int:
        return 7
    assert await sdnotify.with_watchdog(quick(), interval=0, address="") == 7


def test_daemon_sends_ready_then_stopping(dgram, tmp_path):
    """The real daemon under a watchdog: READY=1, WATCHDOG=1 pings, STOPPING=1 on SIGTERM."""
    sock, path = dgram
    config = tmp_path / "openclaw.yaml"
    # console.enabled under a service (stdin /dev/null): a warning, the daemon runs on.
    config.write_text("state_dir: %s\nopenclaw:\n  url: %s\nconsole:\n  enabled: true\n" % (
        tmp_path / "state", closed_port_url()))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT),
           "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "100000"}
    proc = subprocess.Popen([sys.executable, "-m", "openclaw_connector", "-c", str(config)],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        assert sock.recv(4096) == b"READY=1"
        assert sock.recv(4096) == b"WATCHDOG=1"        # the IOLoop is alive and says so
        assert proc.poll() is None                     # ready means running, not exited
        proc.send_signal(signal.SIGTERM)
        after = [sock.recv(4096)]
        while after[-1] == b"WATCHDOG=1":
            after.append(sock.recv(4096))
        assert after[-1] == b"STOPPING=1"
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        stderr = proc.stderr.read().decode()
        proc.stderr.close()
    assert "event=daemon_ready" in stderr and "event=daemon_stopped" in stderr
