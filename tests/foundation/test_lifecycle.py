"""Lifecycle as data: the daemon's services, its two stop phases, and ``drain``."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from openclaw_connector.lifecycle import (REVERSE_ORDER, STOP_ACCEPTING, ServiceEntry, drain,
                                          stop_plan)
from tests.fakes.openclaw import FakeOpenClaw
from tests.security.support import free_port
from tests.harness import make_config, running_daemon

BUSY = {"error": "budget_exceeded", "detail": "trigger submit concurrency"}


@pytest.mark.gen_test(timeout=20)
async def test_stopping_while_a_submit_waits_out_a_busy_server_returns_promptly(tmp_path):
    """A /run waiting 30 s on Retry-After is woken by the client's stop: the operator gets
    the busy sentence and the daemon stops in well under the grace period."""
    async with FakeOpenClaw() as oc:
        oc.fail_next(5, 429, BUSY, path="/triggers/fire", headers={"Retry-After": "30"})
        cfg = make_config(tmp_path, openclaw__url=oc.url, openclaw__submit_retry_sec=60,
                          shutdown_grace_sec=20)
        async with running_daemon(cfg, console=True) as daemon:
            daemon.pipe.send("/run portrait")
            await oc.wait_request("/triggers/fire")
            started = time.monotonic()
            await daemon.stop()
            took = time.monotonic() - started
    assert took < 3.0, took
    assert len(oc.calls("/triggers/fire")) == 1
    assert "OpenClaw is busy, retry in 30 s" in daemon.out.text


@pytest.mark.gen_test(timeout=20)
async def test_stop_runs_listeners_and_client_first_then_the_rest_in_reverse(tmp_path, caplog):
    """The daemon's stop log: phase stop_accepting (web, openclaw), then reverse_order with
    the StateStore, which started first, last."""
    caplog.set_level(logging.INFO)
    cfg = make_config(tmp_path, status__port=free_port())
    async with running_daemon(cfg, console=True):
        pass
    stopped = [r.getMessage() for r in caplog.records if "event=service_stopped" in r.getMessage()]
    names = [m.split("name=")[1].split()[0] for m in stopped]
    phases = [m.split("phase=")[1].split()[0] for m in stopped]
    assert names == ["web", "openclaw", "console", "jobs", "media", "state"]
    assert phases == [STOP_ACCEPTING] * 2 + [REVERSE_ORDER] * 4


def test_stop_plan_is_intake_first_then_reverse_start_order():
    entries = [ServiceEntry(n, object(), intake=n in ("b", "d"))   # type: ignore[arg-type]
               for n in "abcde"]
    assert [(p, e.name) for p, e in stop_plan(entries)] == [
        (STOP_ACCEPTING, "d"), (STOP_ACCEPTING, "b"),
        (REVERSE_ORDER, "e"), (REVERSE_ORDER, "c"), (REVERSE_ORDER, "a")]


@pytest.mark.gen_test(timeout=5)
async def test_drain_waits_for_finishers_and_cancels_the_rest():
    quick_done = asyncio.Event()

    async def quick() -> None:
        await asyncio.sleep(0)
        quick_done.set()

    async def failing() -> None:
        raise RuntimeError("its owner logs this")

    cleaned = asyncio.Event()

    async def hung() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.set()

    tasks = [asyncio.ensure_future(c()) for c in (quick, failing, hung)]
    left = await drain(tasks, 0.05)
    assert left == 1 and quick_done.is_set() and cleaned.is_set()
    assert tasks[2].cancelled()
    assert await drain([], 1.0) == 0


@pytest.mark.gen_test(timeout=5)
async def test_drain_cancelled_by_its_caller_cancels_the_tasks():
    """When the daemon's grace runs out mid-drain, the drained tasks do not outlive it."""
    task = asyncio.ensure_future(asyncio.Event().wait())
    waiter = asyncio.ensure_future(drain([task], 30.0))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    with pytest.raises(asyncio.CancelledError):
        await task
