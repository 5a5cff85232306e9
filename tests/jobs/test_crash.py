"""The daemon is SIGKILLed after [Queued]; the job finishes while it is down; the next
start delivers the result exactly once (and a third start has nothing left to send)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import yaml
from tornado.iostream import StreamClosedError
from tornado.process import Subprocess

from tests.jobs.support import PNG, TOKEN, GatedFake

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Proc:
    """``python -m openclaw_connector -c FILE --console`` with stdin kept open."""

    def __init__(self, config_path: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCLAW_CONNECTOR")}
        env["PYTHONPATH"] = ROOT
        self.proc = Subprocess([sys.executable, "-m", "openclaw_connector", "-c", config_path,
                                "--console"], stdin=Subprocess.STREAM,
                               stdout=Subprocess.STREAM, stderr=subprocess.STDOUT,
                               cwd=ROOT, env=env)
        self.lines: list[str] = []

    async def wait_line(self, needle: str) -> str:
        for line in self.lines:
            if needle in line:
                return line
        while True:
            raw = await self.proc.stdout.read_until(b"\n")
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            if needle in line:
                return line

    def send(self, text: str) -> None:
        self.proc.stdin.write((text + "\n").encode())

    async def kill(self) -> int:
        os.kill(self.proc.pid, signal.SIGKILL)
        return await self._exit()

    async def finish(self) -> int:
        """Close stdin (console EOF stops the daemon); collect the rest of the output."""
        self.proc.stdin.close()
        return await self._exit()

    async def _exit(self) -> int:
        # Read to EOF (the pipe closes when the process is gone), then reap it. Not
        # Subprocess.wait_for_exit: its SIGCHLD hook stays bound to the first test's loop.
        try:
            rest = await self.proc.stdout.read_until_close()
            self.lines += rest.decode("utf-8", "replace").splitlines()
        except StreamClosedError:
            pass
        return self.proc.proc.wait(timeout=10)

    def count(self, needle: str) -> int:
        return sum(needle in line for line in self.lines)


@pytest.mark.gen_test(timeout=30)
async def test_sigkill_after_queued_then_restart_delivers_once(tmp_path):
    async with GatedFake(admin_token=TOKEN) as fake:
        path = tmp_path / "connector.yaml"
        path.write_text(yaml.safe_dump({
            "state_dir": str(tmp_path / "state"),
            "openclaw": {"url": fake.url, "admin_token": TOKEN, "timeout_sec": 2},
            "results": {"poll_min_sec": 0.05, "poll_max_sec": 0.2},
            "retry": {"initial_sec": 0.05, "max_sec": 0.2},
            "log": {"level": "info"}}))
        os.chmod(path, 0o600)

        first = Proc(str(path))
        await first.wait_line("event=jobs_started")
        first.send("/run portrait")
        queued = await first.wait_line("Prompt: ")
        pid = queued.split("Prompt: ")[1].strip()
        assert await first.kill() == -signal.SIGKILL

        fake.register_view("a.png", PNG)
        fake.finish_job(pid, images=["a.png"])

        second = Proc(str(path))
        await second.wait_line("event=jobs_started pending=1")
        await second.wait_line("[image] a.png")
        await second.wait_line("event=result_delivered")
        assert await second.finish() == 0

        third = Proc(str(path))
        await third.wait_line("event=jobs_started pending=0")
        assert await third.finish() == 0

    assert first.count("[Done]") == 0
    assert second.count("[Done] portrait · %s" % pid[:8]) == 1
    assert third.count("[Done]") == 0
