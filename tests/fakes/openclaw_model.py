"""The in-memory state of the fake ComfyUI + OpenClaw server (no I/O).

It mirrors the server behaviour written down in openclaw-api.md: ComfyUI's
queue (one running prompt, the rest pending), history entries written once
when a prompt ends (success / error / interrupt), OpenClaw templates rendered
by exact ``{{name}}`` substitution, the trigger idempotency store that records
a trace id *before* submitting, approvals with expiry on a controllable clock,
and schedules. :mod:`tests.fakes.openclaw` puts HTTP around it.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional

DEFAULT_TEMPLATES: dict[str, dict] = {
    "portrait": {
        # "prompt" takes free text (/run portrait a red fox); positive_prompt as the
        # bundled portrait_v1 names it (openclaw-api.md §4.7).
        "allowed_inputs": ["prompt", "positive_prompt", "seed", "steps"],
        "defaults": {"seed": 0, "steps": 20},
        "graph": {"3": {"class_type": "KSampler", "inputs": {"seed": "{{seed}}",
                                                             "steps": "{{steps}}"}},
                  "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{positive_prompt}}"}},
                  "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{prompt}}"}},
                  "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "portrait"}}},
    },
    "upscale": {
        "allowed_inputs": ["image"],
        "defaults": {},
        "graph": {"1": {"class_type": "LoadImage", "inputs": {"image": "{{image}}"}},
                  "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "up"}}},
    },
}


class FakeClock:
    """Epoch seconds that only move when a test says so."""

    def __init__(self, start: Optional[float] = None) -> None:
        self.t = time.time() if start is None else start

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds

    def iso(self, offset: float = 0.0) -> str:
        return dt.datetime.fromtimestamp(self.t + offset, dt.timezone.utc).isoformat()


def render(graph: Any, values: dict) -> Any:
    """OpenClaw's renderer: a string exactly ``{{name}}`` becomes the value (§6)."""
    if isinstance(graph, dict):
        return {k: render(v, values) for k, v in graph.items()}
    if isinstance(graph, list):
        return [render(v, values) for v in graph]
    if isinstance(graph, str) and graph.startswith("{{") and graph.endswith("}}"):
        name = graph[2:-2]
        return values.get(name, graph)
    return graph


def _file(item: Any) -> dict:
    if isinstance(item, str):
        return {"filename": item, "subfolder": "", "type": "output"}
    if isinstance(item, (tuple, list)):
        names = ("filename", "subfolder", "type")
        out = {"filename": "", "subfolder": "", "type": "output"}
        out.update(dict(zip(names, item)))
        return out
    return dict(item)


@dataclass
class FakeJob:
    prompt_id: str
    number: int
    graph: dict
    extra_data: dict
    template_id: str = ""
    inputs: dict = field(default_factory=dict)
    started_at: Optional[float] = None

    def item(self) -> list:
        outs = [n for n, node in self.graph.items()
                if isinstance(node, dict) and node.get("class_type") == "SaveImage"]
        return [self.number, self.prompt_id, self.graph, self.extra_data, outs]


class FakeModel:
    """Queue, history, idempotency, approvals, schedules, traces."""

    def __init__(self, clock: FakeClock, templates: Optional[dict] = None,
                 approval_ttl_sec: float = 3600.0) -> None:
        self.clock = clock
        self.templates = copy.deepcopy(DEFAULT_TEMPLATES if templates is None else templates)
        self.approval_ttl_sec = approval_ttl_sec
        self.running: Optional[FakeJob] = None
        self.pending: list[FakeJob] = []
        self.history: dict[str, dict] = {}
        self.finished: dict[str, FakeJob] = {}
        self.idempotency: dict[str, Optional[str]] = {}
        self.approvals: dict[str, dict] = {}
        self.schedules: dict[str, dict] = {}
        self.traces: dict[str, dict] = {}
        self._number = 0
        self.on_change = lambda: None

    # ----------------------------------------------------------------- ComfyUI queue

    def submit(self, graph: dict, *, extra_data: Optional[dict] = None, template_id: str = "",
               inputs: Optional[dict] = None) -> str:
        prompt_id = str(uuid.uuid4())
        extra = dict(extra_data or {})
        extra.setdefault("create_time", int(self.clock.now() * 1000))
        extra.setdefault("client_id", uuid.uuid4().hex)
        job = FakeJob(prompt_id, self._number, graph, extra, template_id, dict(inputs or {}))
        self._number += 1
        self.pending.append(job)
        self._advance()
        self.on_change()
        return prompt_id

    def _advance(self) -> None:
        if self.running is None and self.pending:
            self.running = self.pending.pop(0)
            self.running.started_at = self.clock.now()

    def queue_remaining(self) -> int:
        return len(self.pending) + (1 if self.running else 0)

    def find(self, prompt_id: str) -> Optional[FakeJob]:
        if self.running and self.running.prompt_id == prompt_id:
            return self.running
        return next((j for j in self.pending if j.prompt_id == prompt_id), None)

    def delete_pending(self, ids: list) -> None:
        before = len(self.pending)
        self.pending = [j for j in self.pending if j.prompt_id not in ids]
        if len(self.pending) != before:
            self.on_change()

    def clear_pending(self) -> None:
        self.pending = []
        self.on_change()

    def _end(self, job: FakeJob, status: dict, outputs: dict) -> None:
        if self.running is job:
            self.running = None
        else:
            self.pending = [j for j in self.pending if j is not job]
        self.history[job.prompt_id] = {
            "prompt": job.item(), "outputs": outputs, "status": status,
            "meta": {n: {"node_id": n, "display_node": n, "parent_node": None,
                         "real_node_id": n} for n in outputs}}
        self.finished[job.prompt_id] = job
        self._advance()
        self.on_change()

    def _messages(self, job: FakeJob, duration: float, last: tuple[str, dict],
                  cached: Any = ()) -> list:
        t0 = int((job.started_at or self.clock.now()) * 1000)
        end = t0 + int(duration * 1000)
        tail = dict(last[1], prompt_id=job.prompt_id, timestamp=end)
        return [["execution_start", {"prompt_id": job.prompt_id, "timestamp": t0}],
                ["execution_cached", {"nodes": list(cached), "prompt_id": job.prompt_id,
                                      "timestamp": t0}],
                [last[0], tail]]

    def finish(self, prompt_id: Optional[str], images: Any = (), outputs: Optional[dict] = None,
               duration: float = 1.0, cached: Any = ()) -> str:
        job = self._job(prompt_id)
        outs = copy.deepcopy(outputs) if outputs is not None else {}
        if images:
            outs.setdefault("9", {})["images"] = [_file(i) for i in images]
        status = {"status_str": "success", "completed": True,
                  "messages": self._messages(job, duration, ("execution_success", {}),
                                             cached)}
        self._end(job, status, outs)
        return job.prompt_id

    def fail(self, prompt_id: Optional[str], node_type: str = "KSampler",
             message: str = "CUDA out of memory", node_id: str = "3",
             duration: float = 1.0) -> str:
        job = self._job(prompt_id)
        err = {"node_id": node_id, "node_type": node_type, "executed": [],
               "exception_message": message, "exception_type": "RuntimeError",
               "traceback": ["Traceback (most recent call last):", "..."],
               "current_inputs": {}, "current_outputs": {}}
        status = {"status_str": "error", "completed": False,
                  "messages": self._messages(job, duration, ("execution_error", err))}
        self._end(job, status, {})
        return job.prompt_id

    def interrupt(self, prompt_id: Optional[str] = None) -> Optional[str]:
        """ComfyUI /interrupt: the running prompt only (matching id, if given)."""
        job = self.running
        if job is None or (prompt_id and job.prompt_id != prompt_id):
            return None
        info = {"node_id": "3", "node_type": "KSampler", "executed": []}
        status = {"status_str": "error", "completed": False,
                  "messages": self._messages(job, 0.5, ("execution_interrupted", info))}
        self._end(job, status, {})
        return job.prompt_id

    def _job(self, prompt_id: Optional[str]) -> FakeJob:
        job = self.running if prompt_id is None else self.find(prompt_id)
        if job is None:
            raise KeyError("no queued or running prompt %r" % prompt_id)
        return job

    def restart(self) -> None:
        """Like a ComfyUI restart: history and queue are gone (approvals stay on disk)."""
        self.running, self.pending, self.history, self.finished = None, [], {}, {}
        self.on_change()

    def jobs_rows(self) -> list[dict]:
        rows = []
        for job, status in ([(self.running, "in_progress")] if self.running else []) + \
                [(j, "pending") for j in self.pending]:
            rows.append(self._row(job, status, None))
        for pid, entry in self.history.items():
            status = "completed" if entry["status"]["status_str"] == "success" else "failed"
            rows.append(self._row(self.finished[pid], status, entry))
        rows.sort(key=lambda r: r["create_time"], reverse=True)
        return rows

    @staticmethod
    def _row(job: FakeJob, status: str, entry: Optional[dict]) -> dict:
        row = {"id": job.prompt_id, "status": status, "priority": job.number,
               "create_time": job.extra_data["create_time"], "workflow_id": job.template_id or None,
               "execution_start_time": None, "execution_end_time": None, "outputs_count": 0}
        if entry:
            msgs = entry["status"]["messages"]
            row["execution_start_time"] = msgs[0][1]["timestamp"]
            row["execution_end_time"] = msgs[-1][1]["timestamp"]
            row["outputs_count"] = sum(len(v.get("images", [])) for v in entry["outputs"].values())
        return row

    # ----------------------------------------------------------------- OpenClaw

    def render_template(self, template_id: str, inputs: dict) -> dict:
        tpl = self.templates[template_id]
        values = dict(tpl.get("defaults") or {})
        values.update(inputs)
        return render(copy.deepcopy(tpl.get("graph") or {}), values)

    def template_list(self) -> list[dict]:
        return [{"id": tid, "allowed_inputs": list(t.get("allowed_inputs") or []),
                 "defaults": dict(t.get("defaults") or {})}
                for tid, t in sorted(self.templates.items())]

    @staticmethod
    def idem_key(prefix: str, value: str) -> str:
        return prefix + hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]

    def create_approval(self, template_id: str, inputs: dict, trace_id: str,
                        delivery: Any = None) -> dict:
        aid = "apr_" + uuid.uuid4().hex[:12]
        record = {"approval_id": aid, "template_id": template_id, "inputs": inputs,
                  "source": "trigger", "trace_id": trace_id, "tenant_id": "default",
                  "status": "pending", "requested_at": self.clock.iso(), "requested_by": None,
                  "expires_at": self.clock.iso(self.approval_ttl_sec), "approved_at": None,
                  "rejected_at": None, "decision_by": None, "delivery": delivery,
                  "metadata": {}, "_created": self.clock.now(),
                  "_expires": self.clock.now() + self.approval_ttl_sec}
        self.approvals[aid] = record
        return record

    def expire_due(self) -> None:
        for rec in self.approvals.values():
            if rec["status"] == "pending" and self.clock.now() >= rec["_expires"]:
                rec["status"] = "expired"

    @staticmethod
    def public(rec: dict) -> dict:
        return {k: copy.deepcopy(v) for k, v in rec.items() if not k.startswith("_")}

    def add_schedule(self, schedule_id: str, *, name: str = "", template_id: str = "portrait",
                     cron_expr: Optional[str] = None, interval_sec: Optional[int] = None,
                     enabled: bool = True, inputs: Optional[dict] = None) -> dict:
        rec = {"schedule_id": schedule_id, "name": name or schedule_id,
               "template_id": template_id,
               "trigger_type": "cron" if cron_expr else "interval", "cron_expr": cron_expr,
               "interval_sec": interval_sec, "inputs": dict(inputs or {}), "delivery": None,
               "timezone": "local", "enabled": enabled, "created_at": self.clock.iso(),
               "updated_at": self.clock.iso(), "last_tick_ts": None, "last_run_id": None,
               "compute_error_count": 0, "last_compute_error": None}
        self.schedules[schedule_id] = rec
        return rec

    def add_trace(self, prompt_id: str, trace_id: str = "", events: Any = ()) -> None:
        self.traces[prompt_id] = {
            "prompt_id": prompt_id, "trace_id": trace_id or uuid.uuid4().hex,
            "created_at": self.clock.now(),
            "events": [e if isinstance(e, dict) else {"ts": self.clock.now(), "event": e,
                                                      "meta": {"source": "webhook"}}
                       for e in events]}
