"""An unusable state_dir: at start a configuration error (exit 78), while running a
logged problem that does not stop commands; a corrupted database is moved aside.

Root ignores permission bits, so "read-only" uses the immutable attribute
(``chattr +i``) when we are root and ``chmod 0500`` otherwise, and "disk full"
uses ``RLIMIT_FSIZE`` (a write past the limit fails with EFBIG, which sqlite
reports like a full disk; Python ignores SIGXFSZ) — set before exec for the
start case and with ``prlimit`` on the running daemon for the run-time case.
"""

from __future__ import annotations

import asyncio

import glob
import os
import resource
import shutil
import subprocess

import pytest

from tests.e2e.world import PLATFORMS, World
from tests.harness import until

NO_LIMIT = resource.RLIM_INFINITY


def _make_read_only(path: str) -> bool:
    """Make ``path`` unwritable even for root; False if this system cannot."""
    if os.geteuid() != 0:
        os.chmod(path, 0o500)
        return True
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", "+i", path], capture_output=True).returncode == 0


def _make_writable(path: str) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", path], capture_output=True)
    else:
        os.chmod(path, 0o700)


@pytest.mark.gen_test(timeout=30)
async def test_state_dir_that_cannot_be_created_exits_78_with_one_clear_line(tmp_path):
    """state_dir below a regular file: one config_error line naming state_dir, exit 78."""
    async with World(tmp_path) as w:
        blocker = tmp_path / "not-a-dir"
        blocker.write_text("x")
        run = await w.start_daemon(ready=False, state_dir=str(blocker / "state"))
        assert await run.wait_exit() == 78
        errors = [line for line in run.lines if "event=config_error" in line]
        assert len(errors) == 1 and "state_dir" in errors[0], run.text
        assert run.count("event=daemon_ready") == 0
        assert w.telegram.requests == [] and w.discord.connections == []
        assert w.leaked() == []


@pytest.mark.gen_test(timeout=30)
async def test_read_only_state_dir_at_start_exits_78(tmp_path):
    """A state_dir nobody may write into: exit 78 before any platform is contacted."""
    async with World(tmp_path) as w:
        os.makedirs(w.state_dir, mode=0o700)
        if not _make_read_only(w.state_dir):
            pytest.skip("cannot make a directory read-only for root here (no chattr)")
        try:
            run = await w.start_daemon(ready=False)
            code = await run.wait_exit()
        finally:
            _make_writable(w.state_dir)
        assert code == 78, run.text
        assert any("event=config_error" in line and "state_dir" in line
                   for line in run.lines), run.text
        assert w.telegram.requests == [] and w.discord.connections == []


def _no_file_growth() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, NO_LIMIT))


@pytest.mark.gen_test(timeout=30)
async def test_full_disk_at_start_exits_78(tmp_path):
    """No byte can be written under state_dir (RLIMIT_FSIZE 0): exit 78, nothing contacted."""
    async with World(tmp_path) as w:
        run = await w.start_daemon(ready=False, preexec_fn=_no_file_growth)
        assert await run.wait_exit() == 78, run.text
        errors = [line for line in run.lines if "event=config_error" in line]
        assert len(errors) == 1 and "state_dir" in errors[0], run.text
        assert w.telegram.requests == [] and w.discord.connections == []


@pytest.mark.gen_test(timeout=90)
async def test_disk_full_while_running_is_logged_and_commands_are_still_answered(tmp_path):
    """Writes start failing under a running daemon: one state_write_failed line, every
    platform still answers (once), but nothing unstored is acknowledged: webhooks get
    503 until space returns (then their redelivery gets 200 and runs nothing again)."""
    async with World(tmp_path) as w:
        run = await w.start_daemon()
        # No write may reach past byte 1024 of any file: every WAL frame now fails.
        resource.prlimit(run.pid, resource.RLIMIT_FSIZE, (1024, NO_LIMIT))
        first = [await w.send(p, "/help") for p in ("telegram", "discord")]
        hooks = [asyncio.ensure_future(w.send(p, "/help", redeliver_until=60))
                 for p in ("line", "whatsapp")]
        await until(lambda: len(w.sent) == 4, 10, "webhook items posted")
        first += [i for i in w.sent if i.platform in ("line", "whatsapp")]
        for item in first:
            await w.wait_answers(item, "Commands:")
        await run.wait_line("event=state_write_failed")
        assert not any(i.acked for i in first[2:])          # still answered 503
        second = [await w.send(p, "/status") for p in ("telegram", "discord")]
        for item in second:
            await w.wait_answers(item, "ComfyUI: reachable")
        resource.prlimit(run.pid, resource.RLIMIT_FSIZE, (NO_LIMIT, NO_LIMIT))
        await asyncio.wait_for(asyncio.gather(*hooks), 60)
        third = await w.send("telegram", "/help")
        await w.wait_answers(third, "Commands:")
        await run.wait_line("event=state_write_recovered")
        assert await run.stop() == 0
        assert run.count("event=state_write_failed") == 1      # once per interval, no flood
        assert run.count("Traceback") == 0 and run.count("event=fatal") == 0
        assert all(i.acked for i in first)
        assert [w.answers(i, "Commands:") for i in first] == [1, 1, 1, 1]
        assert [w.answers(i, "ComfyUI: reachable") for i in second] == [1, 1]
        assert w.leaked() == []


@pytest.mark.gen_test(timeout=60)
async def test_corrupted_database_is_moved_aside_and_the_daemon_starts_fresh(tmp_path):
    """Garbage in connector.db: one state_corrupt line, the file kept aside, commands
    answered; the next start finds a healthy database (no crash loop)."""
    async with World(tmp_path) as w:
        os.makedirs(w.state_dir, mode=0o700)
        db = os.path.join(w.state_dir, "connector.db")
        with open(db, "wb") as fh:
            fh.write(b"this is not an sqlite database\n" * 200)
        run = await w.start_daemon()
        item = await w.send("line", "/help")
        await w.wait_answers(item, "Commands:")
        assert await run.stop() == 0
        assert run.count("event=state_corrupt") == 1, run.text
        aside = glob.glob(db + ".corrupt-*")
        assert len(aside) == 1
        with open(aside[0], "rb") as fh:
            assert fh.read().startswith(b"this is not an sqlite database")
        again = await w.start_daemon()
        item = await w.send("whatsapp", "/help")
        await w.wait_answers(item, "Commands:")
        assert await again.stop() == 0
        assert again.count("event=state_corrupt") == 0
        assert len(glob.glob(db + ".corrupt-*")) == 1
