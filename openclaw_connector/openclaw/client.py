"""OpenClawClient: the only code that speaks HTTP to ComfyUI and the OpenClaw pack.

One shared keep-alive HTTP transport (``net/transport.py``; built and
closed by the daemon, never proxied), a connect and request timeout on every
call, JSON in and out. The admin token goes in ``X-OpenClaw-Admin-Token`` on
every call when configured; without a token and with a loopback
``openclaw.url`` we send ``Origin: <scheme://host:port>``
so the server's loopback convenience mode accepts us (openclaw-api.md §2.1,
§10). Paths: ComfyUI core under ``/api/...``, the pack under ``/openclaw/...``
(§1). Results are the frozen dataclasses of :mod:`openclaw.types`, failures
the typed errors of :mod:`openclaw.errors` (both re-exported here).

``fire`` carries the trace-id rules of §9: a stable id per chat message so a
redelivered message is deduplicated by the server, a new derived id for every
retry (the server records an id *before* it submits, so the same id after a
429 answers ``prompt_id: null, deduped: true`` and nothing runs), and
``deduped`` with a null prompt id counts as a failed attempt.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Mapping, Optional
from urllib.parse import quote

from openclaw_connector import log as logmod
from openclaw_connector.backoff import Backoff, BackoffPolicy, wait_or_stop
from openclaw_connector.config import OpenClawConfig
from openclaw_connector.openclaw.calls import (  # noqa: F401  (re-exported)
    ADMIN_HEADER, OpenClawHttp, request_headers)
from openclaw_connector.openclaw.types import (  # noqa: F401  (re-exported contract)
    AdminTokenRejected, Approval, ApproveResult, BadResponse, Device, FireResult, Health,
    ImageRef, JobOutcome, JobSummary, NotFound, OpenClawError, OtherOutput, QueueEntry,
    QueueState, RateLimited, Schedule, ScheduleRun, ServerError, SystemStats, Template, Trace,
    TraceEvent, Unreachable, outcome_from_history, scrub_server_text)

if TYPE_CHECKING:   # --check only
    from openclaw_connector.probe import ProbeResult

log = logmod.get("openclaw")

MAX_FIRE_ATTEMPTS = 20
UPLOAD_TIMEOUT_SEC = 60.0     # a 10 MB photo over a LAN link to a remote ComfyUI


class OpenClawClient:
    """Typed access to ComfyUI + OpenClaw (openclaw-api.md §4, §5)."""

    def __init__(self, cfg: OpenClawConfig, http: Any) -> None:
        self._cfg = cfg
        self._http = http                  # for probe(): plain GETs that never raise
        self._calls = OpenClawHttp(cfg, http)
        self._call = self._calls.call
        self._fetch = self._calls.fetch
        self.public_url = self._calls.public_url
        self._stopping = asyncio.Event()

    @property
    def last_reachable(self) -> Optional[bool]:
        """Whether the last call got an answer (for /healthz); None = not asked yet."""
        return self._calls.last_reachable

    async def start(self) -> None:
        """Nothing to open: the daemon owns the HTTP client (a service for its stop)."""

    async def stop(self) -> None:
        """Wake any submit waiting out a busy server, and wait in none from now on.

        Calls still go out until the daemon closes the HTTP client, last, so a
        command that was woken still gets its answer to the chat.
        """
        self._stopping.set()

    async def probe(self, timeout_sec: float) -> list["ProbeResult"]:
        """``--check``: health, then one admin-tier call with this client's own headers;
        each GET bounded by ``timeout_sec`` and never raising (openclaw/probe.py)."""
        from openclaw_connector.net.probe import Prober
        from openclaw_connector.openclaw.probe import probe_comfyui
        return await probe_comfyui(self._cfg, Prober(self._http, timeout_sec),
                                   request_headers(self._cfg))

    # ----------------------------------------------------------------- status

    async def health(self) -> Health:
        """``GET /openclaw/health``; NotFound means the pack is not loaded."""
        return Health.from_json(await self._call("GET", "/openclaw/health"))

    async def queue_remaining(self) -> int:
        """``GET /api/prompt``: pending + running count."""
        data = await self._call("GET", "/api/prompt")
        info = data.get("exec_info") if isinstance(data, Mapping) else None
        remaining = info.get("queue_remaining") if isinstance(info, Mapping) else None
        if not isinstance(remaining, int):
            raise BadResponse("GET /api/prompt: no exec_info.queue_remaining")
        return remaining

    async def queue(self) -> QueueState:
        """``GET /api/queue``: running and pending prompt ids."""
        return QueueState.from_json(await self._call("GET", "/api/queue"))

    async def system_stats(self) -> SystemStats:
        return SystemStats.from_json(await self._call("GET", "/api/system_stats"))

    async def jobs(self, *, limit: int = 10) -> tuple[JobSummary, ...]:
        """Recent jobs, newest first: ComfyUI ``/api/jobs``, else OpenClaw's ``/openclaw/jobs``."""
        query = {"limit": limit, "sort_order": "desc"}
        try:
            data = await self._call("GET", "/api/jobs", query=query)
        except (NotFound, ServerError) as exc:
            if isinstance(exc, ServerError) and exc.status not in (405, 501):
                raise
            data = await self._call("GET", "/openclaw/jobs", admin=True, query=query)
        if not isinstance(data, Mapping):
            raise BadResponse("jobs: expected a JSON object")
        rows = data.get("jobs")
        if not isinstance(rows, list):
            raise BadResponse("jobs: no jobs list")
        return tuple(JobSummary.from_json(r) for r in rows)

    async def history(self, prompt_id: str, *, check_queue: bool = True) -> JobOutcome:
        """The outcome of one prompt; ``{}`` means running (if queued) or unknown."""
        path = "/api/history/" + quote(prompt_id, safe="")
        outcome = outcome_from_history(prompt_id, await self._call("GET", path))
        if outcome is not None:
            return outcome
        if not check_queue:
            return JobOutcome(prompt_id=prompt_id, state="unknown")
        q = await self.queue()
        if prompt_id in q.running_ids:
            return JobOutcome(prompt_id=prompt_id, state="running")
        if prompt_id in q.pending_ids:
            return JobOutcome(prompt_id=prompt_id, state="running", queued=True)
        # The job may have finished between the two calls.
        outcome = outcome_from_history(prompt_id, await self._call("GET", path))
        return outcome or JobOutcome(prompt_id=prompt_id, state="unknown")

    async def history_ids(self, *, limit: int = 500) -> list[str]:
        """The prompt ids in ComfyUI's history, at most ``limit`` of the latest (§5)."""
        data = await self._call("GET", "/api/history", query={"max_items": limit})
        if not isinstance(data, Mapping):
            raise BadResponse("history: expected a JSON object")
        return [str(k) for k in data]

    async def trace(self, prompt_id: str) -> Trace:
        """``GET /openclaw/trace/{id}``; NotFound for jobs started by triggers/approvals."""
        return Trace.from_json(await self._call(
            "GET", "/openclaw/trace/" + quote(prompt_id, safe=""), admin=True))

    async def templates(self) -> tuple[Template, ...]:
        data = await self._call("GET", "/openclaw/templates")
        rows = data.get("templates") if isinstance(data, Mapping) else None
        if not isinstance(rows, list):
            raise BadResponse("templates: no templates list")
        out = []
        for row in rows:
            if isinstance(row, Mapping) and row.get("id"):
                allowed = row.get("allowed_inputs")
                defaults = row.get("defaults")
                out.append(Template(str(row["id"]),
                                    tuple(str(a) for a in allowed) if isinstance(allowed, list)
                                    else (),
                                    dict(defaults) if isinstance(defaults, Mapping) else {}))
        return tuple(out)

    # ----------------------------------------------------------------- control

    async def fire(self, template_id: str, inputs: Mapping[str, Any], *, trace_base: str,
                   require_approval: bool = False) -> FireResult:
        """Fire a template; retry a 429 (honouring Retry-After) for ``submit_retry_sec``.

        Attempt n>0 uses ``<trace_base>-r<n>``. A deduped answer without a
        prompt id is a failed attempt (the earlier submit with that id failed).
        Raises RateLimited when the budget stays exhausted past the deadline.
        """
        deadline = time.monotonic() + self._cfg.submit_retry_sec
        delays = Backoff(BackoffPolicy(initial=self._cfg.submit_backoff_sec, factor=2.0,
                                       cap=max(self._cfg.submit_backoff_sec, 2.0)))
        last: Optional[OpenClawError] = None
        for attempt in range(MAX_FIRE_ATTEMPTS):
            trace_id = trace_base if attempt == 0 else "%s-r%d" % (trace_base, attempt)
            body = {"template_id": template_id, "inputs": dict(inputs), "trace_id": trace_id,
                    "require_approval": bool(require_approval)}
            try:
                data = await self._call("POST", "/openclaw/triggers/fire", admin=True, body=body)
            except RateLimited as exc:
                last = exc
                wait = max(delays.next(), exc.retry_after)
                left = deadline - time.monotonic()
                log.info("event=fire_busy template=%s attempt=%d retry_in=%.2f",
                         template_id, attempt + 1, wait)
                if wait > left or await wait_or_stop(self._stopping, wait):
                    raise   # busy past our window: the caller says "retry in N s"
                continue
            result = self._fire_result(data, trace_id, attempt + 1)
            if result.approval_id or result.prompt_id:
                return result
            log.warning("event=fire_deduped_without_prompt template=%s attempt=%d",
                        template_id, attempt + 1)
            last = ServerError(409, "the server reused an earlier failed submit")
            if time.monotonic() >= deadline:
                break
        raise last or ServerError(500, "submit failed")

    @staticmethod
    def _fire_result(data: Any, trace_id: str, attempts: int) -> FireResult:
        if not isinstance(data, Mapping):
            raise BadResponse("triggers/fire: expected a JSON object")
        if data.get("pending") and data.get("approval_id"):
            return FireResult(trace_id=str(data.get("trace_id") or trace_id),
                              approval_id=str(data["approval_id"]),
                              expires_at=str(data.get("expires_at") or ""), attempts=attempts)
        if "prompt_id" not in data and "triggered" not in data:
            raise BadResponse("triggers/fire: neither prompt_id nor approval_id")
        prompt_id = data.get("prompt_id")
        return FireResult(trace_id=str(data.get("trace_id") or trace_id),
                          prompt_id=str(prompt_id) if prompt_id else None,
                          deduped=bool(data.get("deduped")), attempts=attempts)

    async def interrupt(self, prompt_id: Optional[str] = None) -> None:
        """``POST /api/interrupt``: global, or only that prompt if it is running."""
        body = {"prompt_id": prompt_id} if prompt_id else {}
        await self._call("POST", "/api/interrupt", body=body, empty_ok=True)

    async def delete_queued(self, prompt_ids: list[str]) -> None:
        """``POST /api/queue {"delete": [...]}``: removes pending items only."""
        await self._call("POST", "/api/queue", body={"delete": list(prompt_ids)}, empty_ok=True)

    async def view(self, filename: str, subfolder: str = "", type: str = "output", *,
                   max_bytes: int = 8 * 1024 * 1024) -> bytes:
        """``GET /api/view``: an output file's bytes; BadResponse beyond ``max_bytes``."""
        chunks: list[bytes] = []
        size = [0]

        def collect(chunk: bytes) -> None:
            size[0] += len(chunk)
            if size[0] <= max_bytes:
                chunks.append(chunk)

        query = {"filename": filename, "subfolder": subfolder, "type": type}
        response = await self._fetch("GET", "/api/view", query=query,
                                     streaming_callback=collect)
        if response.code == 404:
            raise NotFound("file not found: %s" % filename)
        if response.code != 200:
            raise ServerError(response.code, "view failed for %s" % filename)
        if size[0] > max_bytes:
            raise BadResponse("%s is larger than %d bytes" % (filename, max_bytes))
        return b"".join(chunks)

    async def upload_image(self, data: bytes, name: str, *, subfolder: str = "openclaw",
                           content_type: str = "image/png") -> str:
        """``POST /api/upload/image`` (interactive.md §6.5): the LoadImage value of the
        stored file, ``"<subfolder>/<name>"`` with the name the server chose (it may
        rename a clash to ``name (1).ext``)."""
        from openclaw_connector.net.multipart import FilePart, encode_multipart   # photos only
        ctype, body = encode_multipart(
            {"type": "input", "subfolder": subfolder, "overwrite": "true"},
            [FilePart("image", name, content_type, data)])
        answer = await self._call("POST", "/api/upload/image", raw_body=(ctype, body),
                                  timeout=max(self._cfg.timeout_sec, UPLOAD_TIMEOUT_SEC))
        stored = answer.get("name") if isinstance(answer, Mapping) else None
        if not isinstance(stored, str) or not stored:
            raise BadResponse("upload/image: no name in the answer")
        folder = answer.get("subfolder")
        folder = folder if isinstance(folder, str) else subfolder
        return "%s/%s" % (folder, stored) if folder else stored

    # ----------------------------------------------------------------- approvals

    async def approvals(self, status: str = "pending", *, limit: int = 100) -> tuple[Approval, ...]:
        data = await self._call("GET", "/openclaw/approvals", admin=True,
                                query={"status": status, "limit": limit})
        rows = data.get("approvals") if isinstance(data, Mapping) else None
        if not isinstance(rows, list):
            raise BadResponse("approvals: no approvals list")
        return tuple(Approval.from_json(r) for r in rows)

    async def approval(self, approval_id: str) -> Approval:
        data = await self._call("GET", "/openclaw/approvals/" + quote(approval_id, safe=""),
                                admin=True)
        if not isinstance(data, Mapping):
            raise BadResponse("approval: expected a JSON object")
        return Approval.from_json(data.get("approval"))

    async def approve(self, approval_id: str, *, actor: str) -> ApproveResult:
        """Approve and auto-execute; ``actor`` (platform:user) becomes ``decision_by``."""
        data = await self._call("POST", "/openclaw/approvals/%s/approve" %
                                quote(approval_id, safe=""), admin=True,
                                body={"actor": actor, "auto_execute": True})
        if not isinstance(data, Mapping):
            raise BadResponse("approve: expected a JSON object")
        snapshot = data.get("approval")
        approval = Approval.from_json(snapshot) if isinstance(snapshot, Mapping) else None
        prompt_id = data.get("prompt_id")
        return ApproveResult(approval_id=approval_id, executed=bool(data.get("executed")),
                             prompt_id=str(prompt_id) if prompt_id else None,
                             trace_id=str(data.get("trace_id") or ""),
                             execution_error=str(data.get("execution_error") or ""),
                             approval=approval)

    async def reject(self, approval_id: str, *, actor: str) -> Approval:
        data = await self._call("POST", "/openclaw/approvals/%s/reject" %
                                quote(approval_id, safe=""), admin=True, body={"actor": actor})
        if not isinstance(data, Mapping):
            raise BadResponse("reject: expected a JSON object")
        return Approval.from_json(data.get("approval"))

    # ----------------------------------------------------------------- schedules

    async def schedules(self) -> tuple[Schedule, ...]:
        data = await self._call("GET", "/openclaw/schedules", admin=True)
        rows = data.get("schedules") if isinstance(data, Mapping) else None
        if not isinstance(rows, list):
            raise BadResponse("schedules: no schedules list")
        return tuple(Schedule.from_json(r) for r in rows)

    async def run_schedule(self, schedule_id: str) -> ScheduleRun:
        """Run now; the server may block ~30 s, so this call allows ``schedule_run_timeout_sec``."""
        data = await self._call("POST", "/openclaw/schedules/%s/run" %
                                quote(schedule_id, safe=""), admin=True,
                                timeout=self._cfg.schedule_run_timeout_sec)
        if not isinstance(data, Mapping):
            raise BadResponse("schedule run: expected a JSON object")
        return ScheduleRun(triggered=bool(data.get("triggered")),
                           schedule_id=str(data.get("schedule_id") or schedule_id),
                           template_id=str(data.get("template_id") or "?"))
