"""Helpers for the JobWatcher tests: the fake ComfyUI/OpenClaw, an in-process daemon on
the console channel, and waiting on conditions (never sleeping)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator

from tornado import httpserver, netutil, web

from openclaw_connector import log as logmod
from openclaw_connector.channels.console import CHAT
from tests.fakes import openclaw as fake_mod
from tests.fakes.openclaw import FakeOpenClaw
from tests.harness import dotted, make_config, openclaw_values, running_daemon, until

TOKEN = "s3cret-admin"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64

__all__ = ["CHAT", "GatedFake", "TOKEN", "PNG", "jobs_config", "job_env", "until"]


class _GatedWs(fake_mod._WsHandler):
    """The fake's /ws, refusing the upgrade (503) while ``fake.ws_refused`` is set."""

    async def get(self, *args: Any, **kwargs: Any) -> None:
        if self.fake.ws_refused:
            self.set_status(503)
            self.finish("ws refused by the test")
            return
        await super().get(*args, **kwargs)

    def open(self, *args: Any) -> None:
        super().open(*args)
        asyncio.ensure_future(self.fake.notify())   # so wait_request("/ws") wakes up


class GatedFake(FakeOpenClaw):
    """FakeOpenClaw whose websocket can be refused while HTTP keeps working.

    A test-only addition (issue 7 needs "websocket down, HTTP up"); the fake
    itself belongs to issue 3, so this wraps it instead of editing it.
    """

    ws_refused = False

    async def start(self) -> "GatedFake":
        app = web.Application([(r"(?:/api)?/ws", _GatedWs, {"fake": self}),
                               (r"/.*", fake_mod._Handler, {"fake": self})],
                              log_function=logmod.access_log)
        sockets = netutil.bind_sockets(self.port, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self._server = httpserver.HTTPServer(app)
        self._server.add_sockets(sockets)
        return self

    async def notify(self) -> None:
        async with self._seen:
            self._seen.notify_all()

    def drop_ws(self) -> None:
        """Close every open websocket (the HTTP side stays up)."""
        for ws in list(self.ws_clients):
            ws.close()


def jobs_config(tmp_path: Any, fake: FakeOpenClaw, **overrides: Any):
    values = {**openclaw_values(fake, TOKEN, timeout_sec=2), "results.poll_min_sec": 0.02,
              "results.poll_max_sec": 0.1, "results.approval_poll_sec": 0.05}
    values.update(dotted(**overrides))
    return make_config(tmp_path / "state", **values)


@contextlib.asynccontextmanager
async def job_env(tmp_path: Any, *, fake: Any = None,
                  **overrides: Any) -> AsyncIterator[tuple[Any, Any]]:
    """(fake, daemon): a fake ComfyUI/OpenClaw and a daemon talking to it on the console."""
    own = fake is None
    if own:
        fake = await GatedFake(admin_token=TOKEN).start()
    try:
        async with running_daemon(jobs_config(tmp_path, fake, **overrides),
                                  console=True) as daemon:
            yield fake, daemon
    finally:
        if own:
            await fake.stop()
