"""Typed results and errors of :class:`~openclaw_connector.openclaw.OpenClawClient`.

Every answer of ComfyUI/OpenClaw becomes one of these frozen dataclasses, so
handlers and the JobWatcher never read raw dicts; every failure becomes one
of the :class:`OpenClawError` types, so callers branch on types, never on
status codes. Shapes follow openclaw-api.md §4 (OpenClaw) and §5 (ComfyUI).
The ``from_json`` helpers are pure and raise :class:`BadResponse` when the
server's JSON is not what the contract says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from openclaw_connector.openclaw.errors import (  # noqa: F401  (re-exported)
    AdminTokenRejected, BadResponse, NotFound, OpenClawError, RateLimited, ServerError,
    Unreachable, scrub_server_text)
from openclaw_connector.openclaw.jsonshape import expect_list, expect_object, number, \
    optional_str, sub_object
from openclaw_connector.openclaw.outcome import (  # noqa: F401  (re-exported)
    ExecEvent, ImageRef, JobOutcome, OtherOutput, outcome_from_history)


# --------------------------------------------------------------------------- results

@dataclass(frozen=True)
class Health:
    """``GET /openclaw/health`` (§4.1)."""

    ok: bool
    pack_name: str
    version: str
    ready: Optional[bool]
    uptime_sec: Optional[float]
    token_configured: Optional[bool]
    # ``stats``: what the seed calls "logs" in /status.
    logs_processed: Optional[int] = None
    errors_captured: Optional[int] = None

    @classmethod
    def from_json(cls, data: Any) -> "Health":
        d = expect_object(data, "health")
        stats = sub_object(d, "stats")
        logs, errors = number(stats.get("logs_processed")), number(stats.get("errors_captured"))
        pack = sub_object(d, "pack")
        startup = sub_object(d, "startup")
        policy = sub_object(d, "access_policy")
        ready = startup.get("ready")
        token = policy.get("token_configured")
        return cls(ok=bool(d.get("ok")), pack_name=str(pack.get("name") or "ComfyUI-OpenClaw"),
                   version=str(pack.get("version") or "?"),
                   ready=ready if isinstance(ready, bool) else None,
                   uptime_sec=number(d.get("uptime_sec")),
                   token_configured=token if isinstance(token, bool) else None,
                   logs_processed=None if logs is None else int(logs),
                   errors_captured=None if errors is None else int(errors))


@dataclass(frozen=True)
class QueueEntry:
    """One item of ComfyUI's queue: ``[number, prompt_id, graph, extra_data, outputs]``."""

    prompt_id: str
    number: Optional[float] = None
    created_at: Optional[float] = None   # seconds since the epoch (extra_data.create_time)


@dataclass(frozen=True)
class QueueState:
    """``GET /queue`` (§5): what runs now and what waits."""

    running: tuple[QueueEntry, ...] = ()
    pending: tuple[QueueEntry, ...] = ()

    @property
    def running_ids(self) -> tuple[str, ...]:
        return tuple(e.prompt_id for e in self.running)

    @property
    def pending_ids(self) -> tuple[str, ...]:
        return tuple(e.prompt_id for e in self.pending)

    @classmethod
    def from_json(cls, data: Any) -> "QueueState":
        d = expect_object(data, "queue")
        return cls(running=tuple(_entry(i) for i in expect_list(d.get("queue_running"), "queue_running")),
                   pending=tuple(_entry(i) for i in expect_list(d.get("queue_pending"), "queue_pending")))


def _entry(item: Any) -> QueueEntry:
    if not isinstance(item, list) or len(item) < 2:
        raise BadResponse("queue item: expected [number, prompt_id, ...]")
    extra = item[3] if len(item) > 3 and isinstance(item[3], Mapping) else {}
    created = number(extra.get("create_time"))
    return QueueEntry(prompt_id=str(item[1]), number=number(item[0]),
                      created_at=created / 1000.0 if created else None)


@dataclass(frozen=True)
class Device:
    name: str
    type: str
    vram_total: Optional[float]
    vram_free: Optional[float]


@dataclass(frozen=True)
class SystemStats:
    """``GET /system_stats`` (§5): versions, RAM and devices."""

    comfyui_version: str
    os: str
    ram_total: Optional[float]
    ram_free: Optional[float]
    devices: tuple[Device, ...] = ()

    @classmethod
    def from_json(cls, data: Any) -> "SystemStats":
        d = expect_object(data, "system_stats")
        system = expect_object(d.get("system") or {}, "system_stats.system")
        devices = []
        for dev in expect_list(d.get("devices"), "system_stats.devices"):
            dev = expect_object(dev, "device")
            devices.append(Device(name=str(dev.get("name") or "?"), type=str(dev.get("type") or "?"),
                                  vram_total=number(dev.get("vram_total")),
                                  vram_free=number(dev.get("vram_free"))))
        return cls(comfyui_version=str(system.get("comfyui_version") or "?"),
                   os=str(system.get("os") or "?"), ram_total=number(system.get("ram_total")),
                   ram_free=number(system.get("ram_free")), devices=tuple(devices))


@dataclass(frozen=True)
class JobSummary:
    """One row of ``GET /api/jobs`` or ``/openclaw/jobs`` (§4.5); times in seconds."""

    id: str
    status: str            # pending | in_progress | completed | failed | cancelled
    created_at: Optional[float]
    started_at: Optional[float]
    ended_at: Optional[float]
    outputs_count: Optional[int]

    @classmethod
    def from_json(cls, data: Any) -> "JobSummary":
        d = expect_object(data, "job")

        def sec(key: str) -> Optional[float]:
            v = number(d.get(key))
            return v / 1000.0 if v else None

        count = d.get("outputs_count")
        return cls(id=str(d.get("id") or "?"), status=str(d.get("status") or "?"),
                   created_at=sec("create_time"), started_at=sec("execution_start_time"),
                   ended_at=sec("execution_end_time"),
                   outputs_count=count if isinstance(count, int) else None)


@dataclass(frozen=True)
class TraceEvent:
    ts: Optional[float]
    event: str
    meta: Mapping = field(default_factory=dict)


@dataclass(frozen=True)
class Trace:
    """``GET /openclaw/trace/{prompt_id}`` (§4.6)."""

    prompt_id: str
    trace_id: str
    events: tuple[TraceEvent, ...] = ()

    @classmethod
    def from_json(cls, data: Any) -> "Trace":
        t = expect_object(expect_object(data, "trace").get("trace"), "trace.trace")
        events = tuple(TraceEvent(number(e.get("ts")), str(e.get("event") or "?"),
                                  sub_object(e, "meta"))
                       for e in expect_list(t.get("events"), "trace.events") if isinstance(e, Mapping))
        return cls(prompt_id=str(t.get("prompt_id") or ""), trace_id=str(t.get("trace_id") or ""),
                   events=events)


@dataclass(frozen=True)
class FireResult:
    """``POST /openclaw/triggers/fire`` (§4.2): queued (200) or waiting for approval (202)."""

    trace_id: str
    prompt_id: Optional[str] = None
    approval_id: Optional[str] = None
    expires_at: str = ""
    deduped: bool = False
    attempts: int = 1


@dataclass(frozen=True)
class Approval:
    """An approval object (§4.3); ``executed_prompt_id`` comes from ``metadata``."""

    approval_id: str
    template_id: str
    status: str
    inputs: Mapping = field(default_factory=dict)
    trace_id: str = ""
    requested_at: str = ""
    expires_at: str = ""
    decision_by: Optional[str] = None
    metadata: Mapping = field(default_factory=dict)

    @property
    def executed_prompt_id(self) -> Optional[str]:
        value = self.metadata.get("executed_prompt_id")
        return str(value) if value else None

    @classmethod
    def from_json(cls, data: Any) -> "Approval":
        d = expect_object(data, "approval")
        if not d.get("approval_id"):
            raise BadResponse("approval: missing approval_id")
        inputs = sub_object(d, "inputs")
        meta = sub_object(d, "metadata")
        return cls(approval_id=str(d["approval_id"]), template_id=str(d.get("template_id") or "?"),
                   status=str(d.get("status") or "?"), inputs=dict(inputs),
                   trace_id=str(d.get("trace_id") or ""),
                   requested_at=str(d.get("requested_at") or ""),
                   expires_at=str(d.get("expires_at") or ""),
                   decision_by=optional_str(d.get("decision_by")), metadata=dict(meta))


@dataclass(frozen=True)
class ApproveResult:
    """``POST /openclaw/approvals/{id}/approve``: executed with a prompt id, or why not."""

    approval_id: str
    executed: bool
    prompt_id: Optional[str] = None
    trace_id: str = ""
    execution_error: str = ""
    approval: Optional[Approval] = None


@dataclass(frozen=True)
class Schedule:
    """A schedule (§4.4): note ``schedule_id`` and ``cron_expr``, not ``id``/``cron``."""

    schedule_id: str
    name: str
    template_id: str
    trigger_type: str
    cron_expr: Optional[str]
    interval_sec: Optional[float]
    enabled: bool

    @classmethod
    def from_json(cls, data: Any) -> "Schedule":
        d = expect_object(data, "schedule")
        return cls(schedule_id=str(d.get("schedule_id") or "?"), name=str(d.get("name") or ""),
                   template_id=str(d.get("template_id") or "?"),
                   trigger_type=str(d.get("trigger_type") or "?"),
                   cron_expr=optional_str(d.get("cron_expr")), interval_sec=number(d.get("interval_sec")),
                   enabled=bool(d.get("enabled")))


@dataclass(frozen=True)
class ScheduleRun:
    """``POST /openclaw/schedules/{id}/run``: no prompt id, ever (§4.4)."""

    triggered: bool
    schedule_id: str
    template_id: str


@dataclass(frozen=True)
class Template:
    """``GET /openclaw/templates`` (§4.7)."""

    id: str
    allowed_inputs: tuple[str, ...] = ()
    defaults: Mapping = field(default_factory=dict)
