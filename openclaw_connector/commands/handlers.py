"""The read-only commands (/status, /jobs, /history, /trace) and the command table.

Every handler talks to ComfyUI/OpenClaw only through the OpenClawClient and
turns its typed errors into words (:mod:`commands.text`); a failing call in
``/status`` or ``/jobs`` gives a partial answer that says which part failed.
The control commands (/run, /stop, approvals, schedules) live in
:mod:`commands.control`. Behaviour per command: issue 3's table.
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any

from openclaw_connector import log as logmod
from openclaw_connector.commands import control, ids
from openclaw_connector.commands.context import CommandContext, CommandSpec, Handler, Request
from openclaw_connector.commands.templates import catalogue_full, catalogue_line
from openclaw_connector.commands.text import explain, gib, outcome_lines
from openclaw_connector.messages import Reply
from openclaw_connector.openclaw.types import (
    ExecEvent, Health, NotFound, OpenClawError, QueueState, SystemStats, Unreachable)
from openclaw_connector.timetext import duration, stamp

log = logmod.get("commands")

NO_CLIENT = "The OpenClaw client is not configured in this daemon."
MAX_LISTED = 10


def guarded(fn: Handler) -> Handler:
    """Turn a client error into its sentence; a missing client into one line."""
    @functools.wraps(fn)
    async def wrapper(req: Request, ctx: CommandContext) -> Reply:
        if ctx.openclaw is None:
            return Reply(NO_CLIENT)
        try:
            return await fn(req, ctx)
        except OpenClawError as exc:
            log.info("event=command_failed command=%s error=%s", req.command.word,
                     type(exc).__name__)
            return Reply(explain(exc))
    return wrapper


def _raise_bugs(results: tuple) -> None:
    """Re-raise what ``gather(return_exceptions=True)`` caught that is not a client error:
    a programming error is not a partial answer."""
    for r in results:
        if isinstance(r, BaseException) and not isinstance(r, OpenClawError):
            raise r


# --------------------------------------------------------------------------- /status

@guarded
async def status(req: Request, ctx: CommandContext) -> Reply:
    oc = ctx.client
    health, queue, stats = await asyncio.gather(oc.health(), oc.queue(), oc.system_stats(),
                                                return_exceptions=True)
    results = (health, queue, stats)
    if all(isinstance(r, Unreachable) for r in results):
        return Reply(str(queue))
    _raise_bugs(results)
    lines = []
    if isinstance(stats, SystemStats):
        lines.append("ComfyUI: reachable at %s (version %s)" % (oc.public_url,
                                                                 stats.comfyui_version))
    elif isinstance(queue, QueueState):
        lines.append("ComfyUI: reachable at %s" % oc.public_url)
    if isinstance(health, Health):
        ready = {True: "ready", False: "starting (not ready yet)", None: "readiness unknown"}
        lines.append("OpenClaw: %s %s, %s" % (health.pack_name, health.version,
                                              ready[health.ready]))
        if health.logs_processed is not None or health.errors_captured is not None:
            lines.append("OpenClaw logs: %s processed, %s errors captured" % (
                "?" if health.logs_processed is None else health.logs_processed,
                "?" if health.errors_captured is None else health.errors_captured))
    elif isinstance(health, NotFound):
        lines.append("OpenClaw: pack not loaded (/openclaw/health answers 404)")
    else:
        lines.append(explain(health, what="OpenClaw health"))
    if isinstance(queue, QueueState):
        lines.append("Queue: %d running, %d pending" % (len(queue.running), len(queue.pending)))
    else:
        lines.append(explain(queue, what="Queue"))
    if isinstance(stats, SystemStats):
        for dev in stats.devices:
            lines.append("Device: %s, VRAM %s free of %s" % (dev.name, gib(dev.vram_free),
                                                             gib(dev.vram_total)))
        lines.append("RAM: %s free of %s" % (gib(stats.ram_free), gib(stats.ram_total)))
    else:
        lines.append(explain(stats, what="System stats"))
    return Reply("\n".join(lines))


# --------------------------------------------------------------------------- /jobs

def _age(created: Any, now: float) -> str:
    return "queued %s ago" % duration(now - created) if created else "age unknown"


@guarded
async def jobs(req: Request, ctx: CommandContext) -> Reply:
    oc = ctx.client
    queue, recent = await asyncio.gather(oc.queue(), oc.jobs(limit=MAX_LISTED),
                                         return_exceptions=True)
    if isinstance(queue, Unreachable):
        return Reply(str(queue))
    _raise_bugs((queue, recent))
    now = time.time()
    lines = []
    if isinstance(queue, QueueState):
        if not queue.running and not queue.pending:
            lines.append("The queue is empty.")
        for entry in queue.running:
            lines.append("Running: %s (%s)" % (entry.prompt_id, _age(entry.created_at, now)))
        if queue.pending:
            lines.append("Pending: %d" % len(queue.pending))
            for entry in queue.pending[:MAX_LISTED]:
                lines.append("  %s (%s)" % (entry.prompt_id, _age(entry.created_at, now)))
            if len(queue.pending) > MAX_LISTED:
                lines.append("  … and %d more" % (len(queue.pending) - MAX_LISTED))
    else:
        lines.append(explain(queue, what="Queue"))
    if isinstance(recent, BaseException):
        lines.append(explain(recent, what="Recent jobs"))
    else:
        done = [j for j in recent if j.status in ("completed", "failed", "cancelled")][:5]
        if done:
            lines.append("Recent:")
            for job in done:
                took = (job.ended_at - job.started_at) if job.ended_at and job.started_at \
                    else None
                extra = ", %d output%s" % (job.outputs_count, "" if job.outputs_count == 1
                                           else "s") if job.outputs_count is not None else ""
                lines.append("  %s %s%s%s" % (job.id, job.status, extra,
                                              ", took %s" % duration(took) if took else ""))
    return Reply("\n".join(lines))


# --------------------------------------------------------------------------- /history, /trace

@guarded
async def history(req: Request, ctx: CommandContext) -> Reply:
    if not req.command.args:
        return Reply("Usage: /history <prompt id> (ids are in /jobs)")
    pid = await ids.prompt_id(ctx.client, req.command.args[0])
    if isinstance(pid, Reply):
        return pid
    outcome = await ctx.client.history(pid)
    return Reply("\n".join(outcome_lines(outcome)))


@guarded
async def trace(req: Request, ctx: CommandContext) -> Reply:
    if not req.command.args:
        return Reply("Usage: /trace <prompt id>")
    pid = await ids.prompt_id(ctx.client, req.command.args[0])
    if isinstance(pid, Reply):
        return pid
    try:
        t = await ctx.client.trace(pid)
    except NotFound:
        return await _trace_from_history(ctx, pid)
    lines = ["Trace %s (trace id %s):" % (pid, t.trace_id or "?")]
    for ev in t.events[-20:]:
        when = stamp(ev.ts)
        meta = " ".join("%s=%s" % (k, v) for k, v in list(ev.meta.items())[:4])
        lines.append("%s %s%s" % (when, ev.event, " " + meta if meta else ""))
    if not t.events:
        lines.append("(no events)")
    return Reply("\n".join(lines))


# --------------------------------------------------------------------------- /templates

@guarded
async def templates(req: Request, ctx: CommandContext) -> Reply:
    catalogue = ctx.templates
    items = await catalogue.all()
    if req.command.args:
        wanted = req.command.args[0]
        found = next((t for t in items if t.id == wanted), None)
        if found is None:
            return Reply("Unknown template '%s'. Available templates: %s" % (
                wanted, ", ".join(t.id for t in items) or "none"))
        return Reply(catalogue_full(found, ctx.prompt_input(found.id)))
    if not items:
        return Reply("No templates are installed in OpenClaw.")
    lines = ["Templates: %d (details: /templates <id>)" % len(items)]
    lines += [catalogue_line(t, ctx.prompt_input(t.id)) for t in items]
    if ctx.default_template:
        lines.append("A plain message in a private chat runs %s." % ctx.default_template)
    return Reply("\n".join(lines))


def _exec_line(ev: ExecEvent) -> str:
    where = ev.node_type or "node"
    if ev.node_id:
        where += " (node %s)" % ev.node_id
    if ev.kind == "start":
        what = "started"
    elif ev.kind == "cached":
        what = "cached: %s" % (", ".join(ev.nodes) if ev.nodes else "no nodes")
    elif ev.kind == "executing":
        what = "executing %s" % where
    elif ev.kind == "error":
        what = "failed in %s: %s" % (where, ev.message or "no error message")
    elif ev.kind == "interrupted":
        what = "interrupted at %s" % where
    elif ev.kind == "success":
        what = "finished successfully"
    else:
        what = ev.kind
    return "%s %s" % (stamp(ev.ts), what)


async def _trace_from_history(ctx: CommandContext, pid: str) -> Reply:
    """Jobs started from chat or by approvals have no OpenClaw trace record
    (openclaw-api.md §8): show ComfyUI's own execution messages instead."""
    outcome = await ctx.client.history(pid)
    if outcome.state == "running":
        return Reply("No trace for %s yet: it is %s. ComfyUI records its execution messages "
                     "when the job ends; ask again then." % (
                         pid, "waiting in the queue" if outcome.queued else "running"))
    if not outcome.finished:
        return Reply("No trace for %s: OpenClaw has no trace record and ComfyUI's history "
                     "has no job with this id (see /jobs for ids)." % pid)
    lines = ["Trace %s (ComfyUI execution messages; OpenClaw keeps no trace record of this "
             "job):" % pid]
    lines.extend(_exec_line(ev) for ev in outcome.events[-20:])
    if not outcome.events:
        lines.append("(no execution messages; outcome: %s)" % outcome.state)
    return Reply("\n".join(lines))


# --------------------------------------------------------------------------- table

def builtin_specs() -> list[CommandSpec]:
    """Every command of issue 3 for the router's table (/help is the router's)."""
    return [
        CommandSpec("status", "/status", "ComfyUI and OpenClaw health, queue, GPU", status),
        CommandSpec("jobs", "/jobs", "running, pending and recent jobs", jobs),
        CommandSpec("history", "/history <id>", "outcome and images of a job", history),
        CommandSpec("templates", "/templates [id]", "templates, their inputs and defaults",
                    templates),
        CommandSpec("run", "/run <template> [prompt] [k=v ...] [--approval]",
                    "run a template", guarded(control.run), takes_photo=True),
        CommandSpec("stop", "/stop [id]", "interrupt the running job, or stop one job",
                    guarded(control.stop), admin_only=True),
        CommandSpec("trace", "/trace <id>", "events of a job's trace", trace, admin_only=True),
        CommandSpec("approvals", "/approvals", "pending approval requests",
                    guarded(control.approvals), admin_only=True),
        CommandSpec("approve", "/approve <id>", "approve and run a request",
                    guarded(control.approve), admin_only=True),
        CommandSpec("reject", "/reject <id> [reason]", "reject a request",
                    guarded(control.reject), admin_only=True),
        CommandSpec("schedules", "/schedules", "list schedules", guarded(control.schedules),
                    admin_only=True),
        CommandSpec("schedule", "/schedule run <id>", "run a schedule now",
                    guarded(control.schedule), admin_only=True),
    ]
