"""A contract-exact fake of ComfyUI + the OpenClaw pack: a real Tornado server on 127.0.0.1:0.

Routes, statuses, bodies and auth rules follow openclaw-api.md (§2 auth, §4
OpenClaw endpoints, §5 ComfyUI core), including the quirks: 403 bodies per
endpoint family, 202 for approvals, ``{}`` history while a prompt runs, the
trigger idempotency store written *before* the submit (a reused trace id
answers ``prompt_id: null, deduped: true``), one trigger submit in flight
(429 ``budget_exceeded`` + ``Retry-After``), approvals that expire on a
controllable clock. Test controls are documented in tests/fakes/README.md.

    async with FakeOpenClaw(admin_token="s3cret") as fake:
        cfg = make_config(tmp, openclaw__url=fake.url, openclaw__admin_token="s3cret")
        ...
        fake.finish_job(pid, images=["a.png"]); assert fake.calls("/triggers/fire")
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Optional
from urllib.parse import urlparse

from tornado import httpserver, httputil, netutil, web, websocket

from openclaw_connector import log as logmod
from tests.fakes.openclaw_model import DEFAULT_TEMPLATES, FakeClock, FakeModel  # noqa: F401
from tests.fakes.openclaw_runs import RunEvents
from tests.fakes.scripted import ScriptedFake

INVALID_TOKEN = "Invalid admin token."
S33 = "Cross-origin request denied (S33). Set OPENCLAW_ADMIN_TOKEN to use token-based auth."
REMOTE_ADMIN = ("Remote admin access denied. Set OPENCLAW_ADMIN_TOKEN (or legacy "
                "MOLTBOT_ADMIN_TOKEN) to allow.")
REMOTE_OBS = ("Remote access denied. Set OPENCLAW_OBSERVABILITY_TOKEN (or legacy "
              "MOLTBOT_OBSERVABILITY_TOKEN) to allow.")
_LOCAL_ORIGINS = ("http://127.0.0.1", "http://localhost", "http://0.0.0.0",
                  "https://127.0.0.1", "https://localhost")


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    status: int = 0

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8")) if self.body else None
        except ValueError:
            return None


@dataclass
class _Fault:
    status: int
    body: Any
    path: Optional[str]
    headers: dict = field(default_factory=dict)


class _Reply(Exception):
    def __init__(self, status: int, body: Any = None, headers: Optional[dict] = None) -> None:
        self.status, self.body, self.headers = status, body, headers or {}


Route = tuple[str, "re.Pattern[str]", str, str, Callable[..., Awaitable[Any]]]


class FakeOpenClaw(ScriptedFake):
    """ComfyUI + OpenClaw on loopback with test controls (see tests/fakes/README.md)."""

    def __init__(self, *, admin_token: Optional[str] = None, templates: Optional[dict] = None,
                 clock: Optional[FakeClock] = None, allow_no_origin: bool = False,
                 remote_peer: bool = False, retry_after: float = 0.0,
                 approval_ttl_sec: float = 3600.0, pack_loaded: bool = True) -> None:
        super().__init__()
        self.admin_token = admin_token
        self.clock = clock or FakeClock()
        self.model = FakeModel(self.clock, templates, approval_ttl_sec)
        self.model.on_change = self._broadcast_status
        self.allow_no_origin = allow_no_origin
        self.remote_peer = remote_peer
        self.retry_after = retry_after
        self.pack_loaded = pack_loaded
        self.version = "1.0.7"
        self.ready = True
        self.scheduler_delegated = False
        self.max_trigger_in_flight = 1
        self.system = {
            "system": {"os": "posix", "ram_total": 34359738368, "ram_free": 17179869184,
                       "comfyui_version": "0.8.0", "python_version": "3.11.9",
                       "pytorch_version": "2.5.1", "embedded_python": False, "argv": ["main.py"]},
            "devices": [{"name": "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync",
                         "type": "cuda", "index": 0, "vram_total": 25757220864,
                         "vram_free": 21474836480, "torch_vram_total": 0,
                         "torch_vram_free": 0}]}
        self.requests: list[Recorded] = []
        self.ws_clients: list["_WsHandler"] = []
        self.runs = RunEvents(self)          # per-run events routed by client id
        self.views: dict[tuple[str, str, str], bytes] = {}
        self.uploads: list[tuple[str, str, bytes]] = []   # /upload/image: (subfolder, name, data)
        self._faults: list[_Fault] = []
        self._delays: list[tuple[Optional[str], float]] = []
        self._holds: list[tuple[str, asyncio.Event]] = []
        self._submit_failures: list[str] = []
        self._trigger_in_flight = 0
        self._seen = asyncio.Condition()
        self._server: Optional[httpserver.HTTPServer] = None
        self.port = 0
        self._routes = self._build_routes()

    # ----------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self.port

    async def start(self) -> "FakeOpenClaw":
        app = web.Application([(r"(?:/api)?/ws", _WsHandler, {"fake": self}),
                               (r"/.*", _Handler, {"fake": self})],
                              log_function=logmod.access_log)
        sockets = netutil.bind_sockets(self.port, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self._server = httpserver.HTTPServer(app)
        self._server.add_sockets(sockets)
        return self

    async def stop(self) -> None:
        for ws in list(self.ws_clients):
            ws.close()
        for _path, gate in self._holds:
            gate.set()
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None

    async def __aenter__(self) -> "FakeOpenClaw":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    async def go_down(self) -> None:
        """Close the listening socket and every connection: new connects are refused."""
        await self.stop()

    async def come_up(self) -> None:
        """Listen again on the same port."""
        if self._server is None:
            await self.start()

    # ----------------------------------------------------------------- test controls

    def fail_next(self, n: int = 1, status: int = 500, body: Any = None, *,
                  path: Optional[str] = None, headers: Optional[dict] = None) -> None:
        """The next ``n`` calls (whose path contains ``path``) answer ``status`` + ``body``."""
        if body is None:
            body = {"error": "injected failure"}
        for _ in range(n):
            self._faults.append(_Fault(status, body, path, dict(headers or {})))

    def delay(self, seconds: float, *, path: Optional[str] = None) -> None:
        """Delay every answer (whose path contains ``path``) by ``seconds``; 0 clears."""
        self._delays = [(p, s) for p, s in self._delays if p != path]
        if seconds > 0:
            self._delays.append((path, seconds))

    def hold(self, path: str) -> asyncio.Event:
        """Park requests whose path contains ``path`` until the returned event is set."""
        gate = asyncio.Event()
        self._holds.append((path, gate))
        return gate

    def hold_submits(self) -> asyncio.Event:
        """Keep trigger submits in flight (after the trace id is recorded) until set."""
        return self.hold("@submit")

    def fail_submit_next(self, n: int = 1, error: str = "Queue submission failed: 400") -> None:
        """The next ``n`` submits to ComfyUI fail (500 on fire, executed=false on approve)."""
        self._submit_failures.extend([error] * n)

    def finish_job(self, prompt_id: Optional[str] = None, images: Any = (),
                   outputs: Optional[dict] = None, duration: float = 1.0,
                   cached: Any = ()) -> str:
        return self.model.finish(prompt_id, images, outputs, duration, cached)

    def fail_job(self, prompt_id: Optional[str] = None, node_type: str = "KSampler",
                 message: str = "CUDA out of memory", **kw: Any) -> str:
        return self.model.fail(prompt_id, node_type, message, **kw)

    def interrupt(self, prompt_id: Optional[str] = None) -> Optional[str]:
        return self.model.interrupt(prompt_id)

    def restart(self) -> None:
        self.model.restart()

    def submit(self, template_id: str = "portrait", inputs: Optional[dict] = None) -> str:
        """Queue a job directly (as the OpenClaw web UI or another client would)."""
        return self.model.submit(self.model.render_template(template_id, inputs or {}),
                                 template_id=template_id, inputs=inputs)

    def register_view(self, filename: str, data: bytes, subfolder: str = "",
                      type: str = "output") -> None:
        self.views[(filename, subfolder, type)] = data

    def add_schedule(self, schedule_id: str, **kw: Any) -> dict:
        return self.model.add_schedule(schedule_id, **kw)

    def add_trace(self, prompt_id: str, trace_id: str = "", events: Any = ("queued",)) -> None:
        self.model.add_trace(prompt_id, trace_id, events)

    def broadcast(self, message: dict) -> None:
        for ws in list(self.ws_clients):
            ws.write_message(json.dumps(message))

    def calls(self, fragment: str = "", method: Optional[str] = None) -> list[Recorded]:
        """Recorded requests whose path contains ``fragment`` (and method matches)."""
        return [r for r in self.requests if fragment in r.path
                and (method is None or r.method == method.upper())]

    async def wait_request(self, fragment: str, method: Optional[str] = None, *,
                           count: int = 1, timeout: float = 5.0) -> Recorded:
        """Wait until ``count`` matching requests arrived; return the last."""
        async def _wait() -> Recorded:
            async with self._seen:
                await self._seen.wait_for(lambda: len(self.calls(fragment, method)) >= count)
                return self.calls(fragment, method)[count - 1]
        return await asyncio.wait_for(_wait(), timeout)

    def _status_message(self) -> dict:
        return {"type": "status", "data": {"status": {"exec_info": {
            "queue_remaining": self.model.queue_remaining()}}}}

    def _broadcast_status(self) -> None:
        self.broadcast(self._status_message())

    # ----------------------------------------------------------------- dispatch

    def _build_routes(self) -> list[Route]:
        from tests.fakes import openclaw_routes as r
        from tests.fakes.openclaw_media import upload_routes
        return r.routes(self) + [(meth, re.compile(rx), tier, fam, fn)
                                 for meth, rx, tier, fam, fn in upload_routes(self)]

    async def handle(self, h: "_Handler") -> None:
        req = h.request
        rec = Recorded(req.method, req.path,
                       {k: [v.decode("utf-8", "replace") for v in vs]
                        for k, vs in req.query_arguments.items()},
                       httputil.HTTPHeaders(req.headers), req.body or b"")
        self.requests.append(rec)
        async with self._seen:
            self._seen.notify_all()
        try:
            await self._pre(rec)
            status, body, headers = await self._route(h, rec)
        except _Reply as reply:
            status, body, headers = reply.status, reply.body, reply.headers
        rec.status = status
        h.set_status(status)
        for k, v in headers.items():
            h.set_header(k, v)
        if isinstance(body, bytes):
            h.finish(body)
        elif body is None:
            h.finish()
        else:
            h.set_header("Content-Type", "application/json; charset=utf-8")
            h.finish(json.dumps(body))

    async def _pre(self, rec: Recorded) -> None:
        for path, seconds in list(self._delays):
            if path is None or path in rec.path:
                await asyncio.sleep(seconds)
        for path, gate in list(self._holds):
            if path in rec.path:
                await gate.wait()
        for fault in self._faults:
            if fault.path is None or fault.path in rec.path:
                self._faults.remove(fault)
                raise _Reply(fault.status, fault.body, fault.headers)
        # ComfyUI's origin middleware: Host and Origin both present, Host loopback,
        # and the two differ -> 403 (§1).
        host, origin = rec.headers.get("Host"), rec.headers.get("Origin")
        if host and origin:
            host_name = host.split(":")[0]
            if host_name in ("127.0.0.1", "localhost", "::1") and \
                    urlparse(origin).netloc != host:
                raise _Reply(403, b"")

    async def _route(self, h: "_Handler", rec: Recorded) -> tuple[int, Any, dict]:
        allowed = False
        for method, pattern, tier, family, fn in self._routes:
            m = pattern.fullmatch(rec.path)
            if not m:
                continue
            allowed = True
            if method != rec.method:
                continue
            if family != "comfy" and not self.pack_loaded:
                break
            self._authorize(rec, tier, family)
            result = await fn(rec, **m.groupdict())
            if isinstance(result, tuple):
                status, body = result[0], result[1]
                return status, body, (result[2] if len(result) > 2 else {})
            return 200, result, {}
        if allowed and self.pack_loaded:
            return 405, b"405: Method Not Allowed", {}
        if not allowed:
            self.unscripted("%s %s" % (rec.method, rec.path))
        return 404, b"404: Not Found", {}

    def _authorize(self, rec: Recorded, tier: str, family: str) -> None:
        if tier == "admin":
            reason = self._admin_denial(rec)
        elif tier == "obs":
            reason = REMOTE_OBS if self.remote_peer else None
        else:
            reason = None
        if reason is None:
            return
        if family == "jobs":
            raise _Reply(403, {"ok": False, "error": "jobs_admin_required"})
        if family in ("ok", "obs"):
            raise _Reply(403, {"ok": False, "error": reason})
        raise _Reply(403, {"error": reason})

    def _admin_denial(self, rec: Recorded) -> Optional[str]:
        """The server's admin-tier decision (§2.1); None = allowed."""
        if self.admin_token:
            got = rec.headers.get("X-Openclaw-Admin-Token") or \
                rec.headers.get("X-Moltbot-Admin-Token") or ""
            return None if got == self.admin_token else INVALID_TOKEN
        if self.remote_peer:
            return REMOTE_ADMIN
        site = rec.headers.get("Sec-Fetch-Site")
        if site in ("same-origin", "same-site", "none"):
            return None
        if site == "cross-site":
            return S33
        origin = rec.headers.get("Origin")
        if origin:
            return None if origin.startswith(_LOCAL_ORIGINS) else S33
        return None if self.allow_no_origin else S33

    # ----------------------------------------------------------------- helpers for routes

    async def submit_hook(self) -> Optional[str]:
        """Runs inside every submit: honours hold_submits() and fail_submit_next()."""
        for path, gate in list(self._holds):
            if path == "@submit":
                await gate.wait()
        return self._submit_failures.pop(0) if self._submit_failures else None

    def reply(self, status: int, body: Any = None, headers: Optional[dict] = None) -> _Reply:
        return _Reply(status, body, headers)

    def monotonic(self) -> float:
        return time.monotonic()


class _Handler(web.RequestHandler):
    def initialize(self, fake: FakeOpenClaw) -> None:
        self.fake = fake

    def check_xsrf_cookie(self) -> None:
        pass

    async def get(self, *_a: Any) -> None:
        await self.fake.handle(self)

    post = delete = put = get


class _WsHandler(websocket.WebSocketHandler):
    """ComfyUI ``/ws?clientId=``: a ``status`` message on connect and on every queue change."""

    def initialize(self, fake: FakeOpenClaw) -> None:
        self.fake = fake

    def check_origin(self, origin: str) -> bool:
        return True

    async def get(self, *args: Any, **kwargs: Any) -> None:
        if self.fake.runs.refused(self.get_argument("clientId", "")):
            self.fake.requests.append(Recorded(
                "GET", self.request.path, {"clientId": [self.get_argument("clientId", "")]},
                httputil.HTTPHeaders(self.request.headers), b"", 403))
            self.set_status(403)
            self.finish("run socket refused by the test")
            return
        await super().get(*args, **kwargs)

    def open(self, *_a: Any) -> None:
        self.fake.requests.append(Recorded("GET", self.request.path,
                                           {"clientId": [self.get_argument("clientId", "")]},
                                           httputil.HTTPHeaders(self.request.headers), b"", 101))
        self.fake.ws_clients.append(self)
        msg = self.fake._status_message()
        msg["data"]["sid"] = self.get_argument("clientId", "") or "sid"
        self.write_message(json.dumps(msg))
        self.fake.runs.opened(self, self.get_argument("clientId", ""))

    def on_message(self, message: Any) -> None:
        pass

    def on_close(self) -> None:
        if self in self.fake.ws_clients:
            self.fake.ws_clients.remove(self)
        self.fake.runs.closed(self)

    def write_message(self, message: Any, binary: bool = False):  # type: ignore[override]
        try:
            return super().write_message(message, binary)
        except websocket.WebSocketClosedError:
            return None
