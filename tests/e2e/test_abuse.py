"""Issue 20, the real daemon as a child process: a WhatsApp config without its app
secret, a descriptor exhaustion on a webhook port (bounded: ~150 sockets, a
few seconds), and a log directory deleted under a running daemon."""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import signal

import pytest

from tests.e2e.world import World
from tests.fakes import line as line_fake
from tests.harness import tick, until

FD_LIMIT = 96          # the daemon's RLIMIT_NOFILE in the exhaustion test
FLOOD = 150            # sockets opened against it (more than the limit)


@pytest.mark.gen_test(timeout=30)
async def test_whatsapp_without_app_secret_does_not_start(tmp_path):
    """Exit 78 naming whatsapp.app_secret, where to find it, and the escape hatch."""
    async with World(tmp_path, channels=("whatsapp",)) as world:
        world.dump_logs = False
        cfg = world.config()
        del cfg["whatsapp"]["app_secret"]
        import yaml
        with open(world.config_path, "w") as fh:
            yaml.safe_dump(cfg, fh)
        run = await world.start_daemon(ready=False)
        code = await run.wait_exit(20)
    assert code == 78
    assert "whatsapp.app_secret: required" in run.text
    assert "App settings > Basic > App secret" in run.text
    assert "insecure_unsigned" in run.text


def _cpu_seconds(pid: int) -> float:
    with open("/proc/%d/stat" % pid) as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.gen_test(timeout=60)
async def test_descriptor_exhaustion_pauses_accepting_instead_of_spinning(tmp_path):
    """With RLIMIT_NOFILE at 96 and 150 idle sockets, the daemon neither spins (under a
    third of a core) nor floods the log (one accept_paused line), and answers a signed
    webhook once the flood is gone."""
    def low_fd_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))

    async with World(tmp_path, channels=("line",)) as world:
        run = await world.start_daemon(preexec_fn=low_fd_limit, **{
            "http.max_connections": 5000, "http.accept_backoff_sec": 0.2})
        writers = []
        try:
            for _ in range(FLOOD):
                try:
                    _r, writer = await asyncio.wait_for(
                        asyncio.open_connection("127.0.0.1", world.webhook_port), 2)
                except (OSError, asyncio.TimeoutError):
                    break        # the backlog is full too: flood enough
                writers.append(writer)
            await run.wait_line("event=accept_paused", timeout=10)
            before = _cpu_seconds(run.pid)
            await tick(1.5)                     # the fault is time spent at the limit
            used = _cpu_seconds(run.pid) - before
            paused_lines = run.count("event=accept_paused")
            errors = run.count("Exception in callback")
        finally:
            for writer in writers:
                writer.close()
        body = line_fake.body_of(line_fake.text_event("/help"))
        resp = None
        deadline = 15.0
        while deadline > 0:
            resp = await world.post_webhook("line", body)
            if resp.code == 200:
                break
            await tick(0.2)
            deadline -= 0.2
        alive = run.returncode is None
    assert used < 0.5, "the daemon used %.2f s of CPU in 1.5 s at the fd limit" % used
    assert paused_lines == 1 and errors == 0
    assert resp is not None and resp.code == 200 and alive


@pytest.mark.gen_test(timeout=60)
async def test_deleting_the_log_directory_never_stops_the_daemon(tmp_path):
    """rm -r of the log directory: one warning, lines go to stderr (SIGHUP included),
    and the file is used again once the directory is back."""
    logs = tmp_path / "logs"
    logs.mkdir()
    log_file = logs / "connector.log"
    async with World(tmp_path, channels=("line",)) as world:
        run = await world.start_daemon(ready=False, **{"log.file": str(log_file),
                                                       "log.retry_sec": 0.2})
        await until(lambda: log_file.exists() and "event=daemon_ready" in log_file.read_text(),
                    20, "daemon ready in the log file")
        shutil.rmtree(logs)

        async def log_something() -> None:      # a refused webhook logs a line
            await world.post_webhook("line", b"{}", signed=False)
        for _ in range(100):                    # the file is checked once a second
            await log_something()
            if run.count("event=log_file_failed"):
                break
            await tick(0.05)
        await run.wait_line("event=log_file_failed", timeout=1)
        run.signal(signal.SIGHUP)
        await run.wait_line("event=log_reopened", timeout=10)
        still_running = run.returncode is None
        warnings = run.count("event=log_file_failed")
        logs.mkdir()
        for _ in range(100):
            await log_something()
            if log_file.exists() and "event=log_file_restored" in log_file.read_text():
                break
            await tick(0.05)
        code = await run.stop()
    assert still_running and warnings == 1
    assert code == 0
    assert "event=daemon_stopped" in log_file.read_text()
