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
from typing import Any, Mapping, NamedTuple, Optional

from openclaw_connector.openclaw.errors import (  # noqa: F401  (re-exported)
    AdminTokenRejected, BadResponse, NotFound, OpenClawError, RateLimited, ServerError,
    Unreachable, scrub_server_text)


# --------------------------------------------------------------------------- small helpers

def _obj(data: Any, what: str) -> Mapping:
    if not isinstance(data, Mapping):
        raise BadResponse("%s: expected a JSON object, got %s" % (what, type(data).__name__))
    return data


def _list(data: Any, what: str) -> list:
    if data is None:
        return []
    if not isinstance(data, list):
        raise BadResponse("%s: expected a JSON list, got %s" % (what, type(data).__name__))
    return data


def _sub(data: Mapping, key: str) -> Mapping:
    """``data[key]`` when it is an object, else an empty one (a missing block is not an error)."""
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def _num(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _str(value: Any) -> Optional[str]:
    return None if value is None else str(value)


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
        d = _obj(data, "health")
        stats = _sub(d, "stats")
        logs, errors = _num(stats.get("logs_processed")), _num(stats.get("errors_captured"))
        pack = _sub(d, "pack")
        startup = _sub(d, "startup")
        policy = _sub(d, "access_policy")
        ready = startup.get("ready")
        token = policy.get("token_configured")
        return cls(ok=bool(d.get("ok")), pack_name=str(pack.get("name") or "ComfyUI-OpenClaw"),
                   version=str(pack.get("version") or "?"),
                   ready=ready if isinstance(ready, bool) else None,
                   uptime_sec=_num(d.get("uptime_sec")),
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
        d = _obj(data, "queue")
        return cls(running=tuple(_entry(i) for i in _list(d.get("queue_running"), "queue_running")),
                   pending=tuple(_entry(i) for i in _list(d.get("queue_pending"), "queue_pending")))


def _entry(item: Any) -> QueueEntry:
    if not isinstance(item, list) or len(item) < 2:
        raise BadResponse("queue item: expected [number, prompt_id, ...]")
    extra = item[3] if len(item) > 3 and isinstance(item[3], Mapping) else {}
    created = _num(extra.get("create_time"))
    return QueueEntry(prompt_id=str(item[1]), number=_num(item[0]),
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
        d = _obj(data, "system_stats")
        system = _obj(d.get("system") or {}, "system_stats.system")
        devices = []
        for dev in _list(d.get("devices"), "system_stats.devices"):
            dev = _obj(dev, "device")
            devices.append(Device(name=str(dev.get("name") or "?"), type=str(dev.get("type") or "?"),
                                  vram_total=_num(dev.get("vram_total")),
                                  vram_free=_num(dev.get("vram_free"))))
        return cls(comfyui_version=str(system.get("comfyui_version") or "?"),
                   os=str(system.get("os") or "?"), ram_total=_num(system.get("ram_total")),
                   ram_free=_num(system.get("ram_free")), devices=tuple(devices))


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
        d = _obj(data, "job")

        def sec(key: str) -> Optional[float]:
            v = _num(d.get(key))
            return v / 1000.0 if v else None

        count = d.get("outputs_count")
        return cls(id=str(d.get("id") or "?"), status=str(d.get("status") or "?"),
                   created_at=sec("create_time"), started_at=sec("execution_start_time"),
                   ended_at=sec("execution_end_time"),
                   outputs_count=count if isinstance(count, int) else None)


class ImageRef(NamedTuple):
    """An output image as ``/view`` wants it: ``(filename, subfolder, type)``."""

    filename: str
    subfolder: str = ""
    type: str = "output"


@dataclass(frozen=True)
class OtherOutput:
    """A non-image output of a node (``gifs``, ``video``, ``audio``, ``text``, ...)."""

    node_id: str
    kind: str
    count: int
    files: tuple[ImageRef, ...] = ()


@dataclass(frozen=True)
class ExecEvent:
    """One of ComfyUI's execution messages in a history entry (§5): what ``/trace``
    shows for jobs OpenClaw keeps no trace record of."""

    kind: str                       # start | cached | error | interrupted | success | …
    ts: Optional[float]             # epoch seconds
    node_id: str = ""
    node_type: str = ""
    nodes: tuple[str, ...] = ()     # cached node ids
    message: str = ""


def _exec_event(name: str, body: Mapping) -> ExecEvent:
    ms = _num(body.get("timestamp"))
    nodes: list = body["nodes"] if isinstance(body.get("nodes"), list) else []
    return ExecEvent(kind=name[len("execution_"):] if name.startswith("execution_") else name,
                     ts=ms / 1000.0 if ms is not None else None,
                     node_id=str(body.get("node_id") or ""),
                     node_type=str(body.get("node_type") or ""),
                     nodes=tuple(str(n) for n in nodes),
                     message=str(body.get("exception_message") or "").strip())


@dataclass(frozen=True)
class JobOutcome:
    """What ``GET /history/{id}`` says about one prompt (§5, §7.5).

    ``state`` is success | error | interrupted | running | unknown. ComfyUI
    answers ``{}`` both while a prompt waits/runs and for an id it never saw,
    so the client asks ``/queue`` to tell them apart (``queued`` is true while
    the prompt still waits in the queue).
    """

    prompt_id: str
    state: str
    images: tuple[ImageRef, ...] = ()
    other_outputs: tuple[OtherOutput, ...] = ()
    duration_sec: Optional[float] = None
    error_node_type: str = ""
    error_node_id: str = ""
    error_message: str = ""
    error_type: str = ""
    queued: bool = False
    events: tuple[ExecEvent, ...] = ()

    @property
    def finished(self) -> bool:
        return self.state in ("success", "error", "interrupted")


def outcome_from_history(prompt_id: str, data: Any) -> Optional[JobOutcome]:
    """Unwrap ``{prompt_id: entry}``; None when the entry is not there yet (``{}``)."""
    d = _obj(data, "history")
    entry = d.get(prompt_id)
    if entry is None:
        return None
    entry = _obj(entry, "history entry")
    status = _sub(entry, "status")
    messages = [m for m in _list(status.get("messages"), "status.messages")
                if isinstance(m, list) and len(m) == 2 and isinstance(m[1], Mapping)]
    kinds = {m[0]: m[1] for m in messages}
    status_str = status.get("status_str")
    if "execution_interrupted" in kinds:
        state, err = "interrupted", kinds["execution_interrupted"]
    elif "execution_error" in kinds or status_str == "error":
        state, err = "error", kinds.get("execution_error", {})
    elif status_str == "success" or status.get("completed") is True:
        state, err = "success", {}
    else:
        state, err = "error", {}
    stamps = [t for t in (_num(m[1].get("timestamp")) for m in messages) if t is not None]
    start = _num(kinds.get("execution_start", {}).get("timestamp"))
    duration = (max(stamps) - start) / 1000.0 if start is not None and stamps else None
    images, others = _outputs(entry.get("outputs"))
    # Relayed to chat (/history, result captions): no tokens, bounded length.
    message = scrub_server_text(str(err.get("exception_message") or "").strip())
    if state == "error" and not message:
        message = "the job failed without an error message"
    return JobOutcome(prompt_id=prompt_id, state=state, images=images, other_outputs=others,
                      duration_sec=duration, error_node_type=str(err.get("node_type") or ""),
                      error_node_id=str(err.get("node_id") or ""), error_message=message,
                      error_type=str(err.get("exception_type") or ""),
                      events=tuple(_exec_event(str(m[0]), m[1]) for m in messages))


def _file(item: Any) -> Optional[ImageRef]:
    if isinstance(item, Mapping) and item.get("filename"):
        return ImageRef(str(item["filename"]), str(item.get("subfolder") or ""),
                        str(item.get("type") or "output"))
    return None


def _outputs(outputs: Any) -> tuple[tuple[ImageRef, ...], tuple[OtherOutput, ...]]:
    if not isinstance(outputs, Mapping):
        return (), ()
    images: list[ImageRef] = []
    others: list[OtherOutput] = []
    for node_id in sorted(outputs, key=str):
        node = outputs[node_id]
        if not isinstance(node, Mapping):
            continue
        for kind, value in node.items():
            items = value if isinstance(value, list) else [value]
            files = tuple(f for f in (_file(i) for i in items) if f)
            if kind == "images":
                images.extend(files)
            elif kind != "animated":
                others.append(OtherOutput(str(node_id), str(kind), len(items), files))
    return tuple(images), tuple(others)


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
        t = _obj(_obj(data, "trace").get("trace"), "trace.trace")
        events = tuple(TraceEvent(_num(e.get("ts")), str(e.get("event") or "?"),
                                  _sub(e, "meta"))
                       for e in _list(t.get("events"), "trace.events") if isinstance(e, Mapping))
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

    @property
    def pending_approval(self) -> bool:
        return self.approval_id is not None


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
        d = _obj(data, "approval")
        if not d.get("approval_id"):
            raise BadResponse("approval: missing approval_id")
        inputs = _sub(d, "inputs")
        meta = _sub(d, "metadata")
        return cls(approval_id=str(d["approval_id"]), template_id=str(d.get("template_id") or "?"),
                   status=str(d.get("status") or "?"), inputs=dict(inputs),
                   trace_id=str(d.get("trace_id") or ""),
                   requested_at=str(d.get("requested_at") or ""),
                   expires_at=str(d.get("expires_at") or ""),
                   decision_by=_str(d.get("decision_by")), metadata=dict(meta))


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
        d = _obj(data, "schedule")
        return cls(schedule_id=str(d.get("schedule_id") or "?"), name=str(d.get("name") or ""),
                   template_id=str(d.get("template_id") or "?"),
                   trigger_type=str(d.get("trigger_type") or "?"),
                   cron_expr=_str(d.get("cron_expr")), interval_sec=_num(d.get("interval_sec")),
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
