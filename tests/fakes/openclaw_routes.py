"""Route handlers of the fake ComfyUI + OpenClaw server (openclaw-api.md §4, §5).

Each handler takes the recorded request and returns a JSON-able body (200),
or ``(status, body[, headers])``; ``bytes`` bodies are sent as they are.
Auth is decided by the server object before a handler runs (tier per route).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from tests.fakes.openclaw_media import missing_image

if TYPE_CHECKING:
    from tests.fakes.openclaw import FakeOpenClaw, Recorded

CORE = r"(?:/api)?"
OC = r"(?:/api)?/(?:openclaw|moltbot)"


def _json(rec: "Recorded", *, lenient: bool = False) -> Any:
    if not rec.body:
        return {}
    try:
        return json.loads(rec.body.decode("utf-8"))
    except ValueError:
        if lenient:
            return {}
        raise


def routes(fake: "FakeOpenClaw") -> list:
    m = fake.model

    # ------------------------------------------------------------- ComfyUI core (§5)

    async def get_prompt(rec):
        return {"exec_info": {"queue_remaining": m.queue_remaining()}}

    async def post_prompt(rec):
        try:
            data = _json(rec)
        except ValueError:
            return 400, {"error": {"type": "invalid_prompt", "message": "Invalid JSON",
                                   "details": "", "extra_info": {}}, "node_errors": {}}
        graph = data.get("prompt") if isinstance(data, dict) else None
        if not isinstance(graph, dict):
            return 400, {"error": {"type": "no_prompt", "message": "No prompt provided",
                                   "details": "", "extra_info": {}}, "node_errors": {}}
        pid = m.submit(graph, extra_data=data.get("extra_data"))
        return {"prompt_id": pid, "number": m._number - 1, "node_errors": {}}

    async def get_queue(rec):
        return {"queue_running": [m.running.item()] if m.running else [],
                "queue_pending": [j.item() for j in m.pending]}

    async def post_queue(rec):
        data = _json(rec, lenient=True)
        if isinstance(data, dict):
            if data.get("clear"):
                m.clear_pending()
            if isinstance(data.get("delete"), list):
                m.delete_pending(data["delete"])
        return 200, b""

    async def get_history_all(rec):
        return dict(m.history)

    async def get_history(rec, prompt_id):
        entry = m.history.get(prompt_id)
        return {prompt_id: entry} if entry is not None else {}

    async def post_history(rec):
        data = _json(rec, lenient=True)
        if isinstance(data, dict):
            if data.get("clear"):
                m.history.clear()
            for pid in data.get("delete") or []:
                m.history.pop(pid, None)
        return 200, b""

    async def post_interrupt(rec):
        data = _json(rec, lenient=True)
        pid = data.get("prompt_id") if isinstance(data, dict) else None
        m.interrupt(pid or None)
        return 200, b""

    async def get_view(rec):
        q = {k: v[0] for k, v in rec.query.items()}
        filename = q.get("filename", "")
        kind = q.get("type", "output")
        if not filename or filename.startswith("/") or ".." in filename:
            return 400, b""
        if kind not in ("output", "input", "temp"):
            return 400, b""
        if ".." in q.get("subfolder", ""):
            return 403, b""
        data = fake.views.get((filename, q.get("subfolder", ""), kind))
        if data is None:
            return 404, b""
        ctype = "image/png" if filename.endswith(".png") else "application/octet-stream"
        return 200, data, {"Content-Type": ctype,
                           "Content-Disposition": 'filename="%s"' % filename}

    async def get_system_stats(rec):
        return fake.system

    async def get_api_jobs(rec):
        rows = m.jobs_rows()
        limit = int(rec.query.get("limit", ["100"])[0])
        return {"jobs": rows[:limit], "pagination": {"offset": 0, "limit": limit,
                                                     "total": len(rows),
                                                     "has_more": len(rows) > limit}}

    # ------------------------------------------------------------- OpenClaw (§4)

    async def health(rec):
        return {"ok": True, "pack": {"name": "ComfyUI-OpenClaw", "version": fake.version,
                                     "dependencies": {"aiohttp": True, "watchdog": False}},
                "uptime_sec": 512.3,
                "config": {"provider": "openai", "model": "gpt-4o-mini", "base_url": None,
                           "api_type": None, "llm_key_configured": False,
                           "llm_key_required": True},
                "stats": {"errors_captured": 0, "logs_processed": 42},
                "startup": {"schema_version": 1, "phase": "ready", "state": "ok",
                            "ready": fake.ready},
                "access_policy": {"observability": "loopback_only",
                                  "token_configured": bool(fake.admin_token)},
                "control_plane": {}, "runtime_profile": "minimal"}

    async def openclaw_jobs(rec):
        known = {"status", "workflow_id", "sort_by", "sort_order", "limit", "offset"}
        if set(rec.query) - known:
            return 400, {"ok": False, "error": "jobs_query_invalid"}
        rows = m.jobs_rows()
        limit = min(200, int(rec.query.get("limit", ["50"])[0]))
        return {"ok": True, "contract_version": 1, "jobs": rows[:limit],
                "pagination": {"limit": limit, "offset": 0, "warnings": [], "total": len(rows),
                               "has_more": len(rows) > limit},
                "source": {"adapter": "comfy_execution.jobs", "authority": "in_process"},
                "scan": {"window": 10000, "examined": len(rows), "excluded": 0, "malformed": 0,
                         "truncated": False}}

    async def trace(rec, prompt_id):
        t = m.traces.get(prompt_id)
        if t is None:
            return 404, {"ok": False, "error": "not_found"}
        return {"ok": True, "trace": dict(t, events=t["events"][-50:])}

    async def templates(rec):
        items = m.template_list()
        return {"ok": True, "templates": items, "count": len(items)}

    async def fire(rec):
        try:
            data = _json(rec)
        except ValueError:
            return 400, {"error": "Invalid JSON"}
        if not isinstance(data, dict):
            return 400, {"error": "Invalid JSON"}
        tid = data.get("template_id")
        if not tid:
            return 400, {"error": "template_id is required"}
        if tid not in m.templates:
            return 404, {"error": "template_id '%s' not found" % tid}
        inputs = data.get("inputs") or {}
        if len(json.dumps(inputs)) > 32 * 1024:
            return 400, {"error": "inputs too large (max 32KB)"}
        trace_id = str(data.get("trace_id") or __import__("uuid").uuid4().hex)
        if data.get("require_approval"):
            rec_ = m.create_approval(tid, inputs, trace_id, data.get("callback"))
            return 202, {"pending": True, "approval_id": rec_["approval_id"],
                         "trace_id": trace_id, "expires_at": rec_["expires_at"]}
        key = m.idem_key("trigger_", trace_id)
        if key in m.idempotency:     # recorded before any earlier submit: maybe None
            return {"triggered": True, "prompt_id": m.idempotency[key], "trace_id": trace_id,
                    "deduped": True}
        m.idempotency[key] = None
        if fake._trigger_in_flight >= fake.max_trigger_in_flight:
            headers = {"Retry-After": _fmt(fake.retry_after)}
            return 429, {"error": "budget_exceeded", "detail": "trigger submit concurrency"}, \
                headers
        fake._trigger_in_flight += 1
        try:
            failure = await fake.submit_hook()
            if failure:
                return 500, {"error": failure}
            graph = m.render_template(tid, inputs)
            if missing_image(fake, graph) is not None:   # LoadImage validation (§6.6)
                return 500, {"error": "Queue submission failed: 400"}
            pid = m.submit(graph, template_id=tid, inputs=inputs,
                           extra_data={"openclaw": {"trace_id": trace_id,
                                                    "source": "automation",
                                                    "tenant_id": "default"}})
        finally:
            fake._trigger_in_flight -= 1
        m.idempotency[key] = pid
        return {"triggered": True, "prompt_id": pid, "trace_id": trace_id, "deduped": False}

    async def approvals(rec):
        status = rec.query.get("status", [None])[0]
        if status is not None and status not in ("pending", "approved", "rejected", "expired"):
            return 400, {"error": "Invalid status: %s" % status}
        m.expire_due()
        rows = sorted(m.approvals.values(), key=lambda r: r["_created"], reverse=True)
        if status:
            rows = [r for r in rows if r["status"] == status]
        limit = min(500, int(rec.query.get("limit", ["100"])[0]))
        pending = sum(1 for r in m.approvals.values() if r["status"] == "pending")
        return {"tenant_id": "default", "approvals": [m.public(r) for r in rows[:limit]],
                "count": len(rows[:limit]), "pending_count": pending,
                "pagination": {"limit": limit, "offset": 0, "warnings": []},
                "scan": {"scanned": len(m.approvals), "skipped_malformed": 0,
                         "truncated": False}}

    async def approval(rec, approval_id):
        r = m.approvals.get(approval_id)
        if r is None:
            return 404, {"error": "Approval not found"}
        return {"tenant_id": "default", "approval": m.public(r)}

    async def approve(rec, approval_id):
        data = _json(rec, lenient=True)
        data = data if isinstance(data, dict) else {}
        r = m.approvals.get(approval_id)
        if r is None:
            return 400, {"error": "Approval request not found: %s" % approval_id}
        if r["status"] == "pending" and m.clock.now() >= r["_expires"]:
            r["status"] = "expired"
            return 400, {"error": "Approval request has expired: %s" % approval_id}
        if r["status"] != "pending":
            return 400, {"error": "Cannot approve request in status: %s" % r["status"]}
        r.update(status="approved", approved_at=m.clock.iso(), decision_by=data.get("actor"))
        snapshot = m.public(r)
        body = {"tenant_id": "default", "approved": True, "approval": snapshot}
        if data.get("auto_execute", True) is False:
            return dict(body, executed=False)
        key = m.idem_key("approved_", approval_id)
        m.idempotency.setdefault(key, None)
        failure = await fake.submit_hook()
        if failure or r["template_id"] not in m.templates:
            return dict(body, executed=False,
                        execution_error=failure or "Unknown template: %s" % r["template_id"])
        pid = m.submit(m.render_template(r["template_id"], r["inputs"]),
                       template_id=r["template_id"], inputs=r["inputs"])
        m.idempotency[key] = pid
        r["metadata"].update(executed_prompt_id=pid, executed_trace_id=r["trace_id"],
                             executed_at=m.clock.iso())
        if data.get("actor"):
            r["metadata"]["executed_by"] = data["actor"]
        return dict(body, executed=True, prompt_id=pid, trace_id=r["trace_id"])

    async def reject(rec, approval_id):
        data = _json(rec, lenient=True)
        data = data if isinstance(data, dict) else {}
        r = m.approvals.get(approval_id)
        if r is None:
            return 400, {"error": "Approval request not found: %s" % approval_id}
        if r["status"] != "pending":
            return 400, {"error": "Cannot reject request in status: %s" % r["status"]}
        r.update(status="rejected", rejected_at=m.clock.iso(), decision_by=data.get("actor"))
        return {"tenant_id": "default", "rejected": True, "approval": m.public(r)}

    async def schedules(rec):
        rows = list(m.schedules.values())
        flag = rec.query.get("enabled", [None])[0]
        if flag in ("true", "false"):
            rows = [r for r in rows if r["enabled"] == (flag == "true")]
        return {"schedules": rows, "count": len(rows)}

    async def schedule_run(rec, schedule_id):
        s = m.schedules.get(schedule_id)
        if s is None:
            return 404, {"error": "Schedule not found"}
        if fake.scheduler_delegated:
            return 503, {"error": "Scheduler execution is delegated to external control plane",
                         "code": "scheduler_delegated", "remediation": "use the control plane"}
        failure = await fake.submit_hook()
        if not failure and s["template_id"] in m.templates:
            m.submit(m.render_template(s["template_id"], s["inputs"]),
                     template_id=s["template_id"], inputs=s["inputs"])
        return {"triggered": True, "schedule_id": schedule_id, "template_id": s["template_id"]}

    P = r"(?P<%s>[^/]+)"
    table = [
        ("GET", CORE + "/prompt", "comfy", "comfy", get_prompt),
        ("POST", CORE + "/prompt", "comfy", "comfy", post_prompt),
        ("GET", CORE + "/queue", "comfy", "comfy", get_queue),
        ("POST", CORE + "/queue", "comfy", "comfy", post_queue),
        ("GET", CORE + "/history", "comfy", "comfy", get_history_all),
        ("POST", CORE + "/history", "comfy", "comfy", post_history),
        ("GET", CORE + "/history/" + P % "prompt_id", "comfy", "comfy", get_history),
        ("POST", CORE + "/interrupt", "comfy", "comfy", post_interrupt),
        ("GET", CORE + "/view", "comfy", "comfy", get_view),
        ("GET", CORE + "/system_stats", "comfy", "comfy", get_system_stats),
        ("GET", r"/api/jobs", "comfy", "comfy", get_api_jobs),
        ("GET", OC + "/health", "public", "plain", health),
        ("GET", OC + "/jobs", "admin", "jobs", openclaw_jobs),
        ("GET", OC + "/trace/" + P % "prompt_id", "admin", "ok", trace),
        ("GET", OC + "/templates", "obs", "obs", templates),
        ("POST", OC + "/triggers/fire", "admin", "plain", fire),
        ("GET", OC + "/approvals", "admin", "plain", approvals),
        ("GET", OC + "/approvals/" + P % "approval_id", "admin", "plain", approval),
        ("POST", OC + "/approvals/" + P % "approval_id" + "/approve", "admin", "plain", approve),
        ("POST", OC + "/approvals/" + P % "approval_id" + "/reject", "admin", "plain", reject),
        ("GET", OC + "/schedules", "admin", "plain", schedules),
        ("POST", OC + "/schedules/" + P % "schedule_id" + "/run", "admin", "plain",
         schedule_run),
    ]
    return [(meth, re.compile(rx), tier, fam, fn) for meth, rx, tier, fam, fn in table]


def _fmt(seconds: float) -> str:
    return ("%d" % seconds) if float(seconds).is_integer() else ("%.3f" % seconds)
