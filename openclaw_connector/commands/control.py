"""The commands that change things: /run, /stop, approvals and schedules.

``/run`` fires a template through ``triggers/fire`` with a trace id derived
from the chat message (``Inbound.base_id``), so a redelivered message is
deduplicated by the server; allowed non-admins always go through the approval
gate. The job tracker is told *before* the reply goes out. ``/approve`` and
``/reject`` send ``actor = platform:user``; the reject reason is kept in our
log only (the server drops it). ``/schedule run`` may block the server ~30 s
and returns no prompt id (openclaw-api.md §4.4, §10). Wording follows the
spec's examples (seed-connector.md, "Usage Examples").
"""

from __future__ import annotations

from typing import Any, Awaitable, Optional, Union

from openclaw_connector import log as logmod
from openclaw_connector.commands import ids
from openclaw_connector.commands.context import CommandContext, Request
from openclaw_connector.commands.parser import split_param
from openclaw_connector.commands.photos import bind_photo
from openclaw_connector.commands.templates import BoundRun, InputError, bind, shown_inputs, \
    typed_value
from openclaw_connector.commands.text import explain, inputs_summary
from openclaw_connector.messages import Action, Reply
from openclaw_connector.openclaw.types import NotFound, OpenClawError, Unreachable
from openclaw_connector.timetext import iso_stamp

log = logmod.get("commands")

RUN_USAGE = ("Usage: /run <template> [prompt words] [key=value ...] [--approval] "
             "(see /templates)")


async def _track(req: Request, what: str, call: Optional[Awaitable[Any]]) -> None:
    """Hand a prompt/approval to the job tracker; its failure must not lose the reply."""
    if call is None:
        return
    try:
        await call
    except Exception as exc:
        log.error("event=track_failed what=%s platform=%s chat=%s error=%s", what,
                  req.inbound.platform, req.inbound.chat_id, logmod.one_line_error(exc))


async def _template_hint(ctx: CommandContext) -> str:
    try:
        templates = await ctx.templates.all()
    except OpenClawError:
        return ""
    if not templates:
        return "\nNo templates are installed."
    return "\nAvailable templates: " + ", ".join(t.id for t in templates)


async def _bind(req: Request, ctx: CommandContext, template_id: str) -> Union[BoundRun, Reply]:
    """Check the line against the template before anything is submitted."""
    tokens = req.command.tokens[1:]
    prompt_input = ctx.prompt_input(template_id)
    try:
        template = await ctx.templates.get(template_id)
    except OpenClawError as exc:
        # No catalogue (e.g. 403 on the observability tier): inputs go as typed.
        if any(split_param(t) is None for t in tokens):
            return Reply("Cannot read the template list from OpenClaw (%s), so free text "
                         "cannot be placed; give inputs as key=value." % explain(exc))
        raw = dict(split_param(t) for t in tokens)   # type: ignore[misc]
        typed = {k: typed_value(k, v, "string") for k, v in raw.items()}   # seed=random
        return BoundRun(typed, dict(typed))
    if template is None:
        return Reply("Unknown template '%s'." % template_id + await _template_hint(ctx))
    try:
        return bind(template, tokens, prompt_input=prompt_input,
                    image_input=ctx.photos.input_for(template) if ctx.photos else None)
    except InputError as exc:
        return Reply(str(exc))


async def _bind_photo(req: Request, ctx: CommandContext, template_id: str,
                      bound: BoundRun) -> Optional[Reply]:
    """A photo (sent, replied to, or recent) as the template's image input (issue 19)."""
    if ctx.photos is None:
        return None
    try:
        template = await ctx.templates.get(template_id)
    except OpenClawError:
        return None

    async def takers() -> list[str]:
        assert ctx.photos is not None
        return [t.id for t in await ctx.templates.all() if ctx.photos.input_for(t)]

    return await bind_photo(req.inbound, template, bound.inputs, ctx.photos, ctx.client,
                            takers)


async def run(req: Request, ctx: CommandContext) -> Reply:
    cmd = req.command
    if not cmd.args and not cmd.tokens:
        return Reply(RUN_USAGE + await _template_hint(ctx))
    if cmd.flags:
        return Reply("Unknown option %s. %s" % (cmd.flags[0], RUN_USAGE))
    template = cmd.tokens[0]
    if split_param(template) is not None:
        return Reply(RUN_USAGE + await _template_hint(ctx))
    bound = await _bind(req, ctx, template)
    if isinstance(bound, Reply):
        return bound
    refused = await _bind_photo(req, ctx, template, bound)
    if refused is not None:
        return refused
    forced = not req.is_admin
    gated = cmd.approval or forced
    oc = ctx.client
    trace_base = req.inbound.base_id
    if req.inbound.local_operator:    # the console numbers its messages per process
        trace_base += "-" + ctx.instance_tag
    try:
        result = await oc.fire(template, bound.inputs, trace_base=trace_base,
                               require_approval=gated)
    except NotFound as exc:
        if "template" not in str(exc):   # the route itself is missing
            return Reply("OpenClaw pack not loaded: %s answers 404 for triggers/fire."
                         % oc.public_url)
        return Reply("Unknown template '%s'." % template + await _template_hint(ctx))
    jobs = ctx.jobs
    chat = req.inbound.chat
    if result.approval_id:
        await _track(req, "approval", jobs.watch_approval(
            result.approval_id, template, chat, result.expires_at, inputs=bound.shown)
            if jobs else None)
        lines = ["[Approval Requested]", "ID: %s" % result.approval_id,
                 "Trace: %s" % result.trace_id, "Expires: %s" % iso_stamp(result.expires_at)]
        if forced:
            lines.append("Runs from non-admin users need an admin's /approve; "
                         "you will be told here when it is decided.")
        return Reply("\n".join(lines), actions=decision_actions(result.approval_id))
    assert result.prompt_id is not None   # fire() returns an approval id or a prompt id
    await _track(req, "prompt", jobs.watch_prompt(result.prompt_id, template, chat,
                                                  inputs=bound.shown) if jobs else None)
    return Reply("[Queued] %s\nPrompt: %s" % (template, result.prompt_id))


# --------------------------------------------------------------------------- /stop

async def stop(req: Request, ctx: CommandContext) -> Reply:
    oc = ctx.client
    queue = await oc.queue()
    if not req.command.args:
        if not queue.running:
            return Reply("Nothing is running.%s" % (
                " %d job(s) are pending; stop one with /stop <id>." % len(queue.pending)
                if queue.pending else ""))
        await oc.interrupt()
        return Reply("[Stopped] Interrupt sent for %s; ComfyUI stops it at the next node."
                     % ", ".join(queue.running_ids))
    pid = ids.pick(req.command.args[0], queue.running_ids + queue.pending_ids)
    if isinstance(pid, Reply):
        return pid
    if pid in queue.running_ids:
        await oc.interrupt(pid)
        return Reply("[Stopped] Interrupt sent for running job %s; ComfyUI stops it at the "
                     "next node." % pid)
    if pid in queue.pending_ids:
        await oc.delete_queued([pid])
        return Reply("[Removed] Pending job %s was removed from the queue." % pid)
    return Reply("Job %s is neither running nor pending; nothing to stop (see /history %s)."
                 % (pid, pid))


# --------------------------------------------------------------------------- approvals

APPROVALS_WITH_BUTTONS = 5      # Approve/Reject pairs under /approvals (channels cap further)


def decision_actions(approval_id: str) -> tuple[Action, ...]:
    """Approve and Reject buttons for one request: one decision, so one group."""
    return (Action("Approve", "/approve %s" % approval_id, group=approval_id),
            Action("Reject", "/reject %s" % approval_id, group=approval_id))


async def _decided(ctx: CommandContext, approval_id: str) -> None:
    """Tell the buttons layer the server decided ``approval_id`` (its buttons go)."""
    if ctx.on_decided is None:
        return
    try:
        await ctx.on_decided(approval_id)
    except Exception as exc:     # cosmetic: the decision itself stands
        log.warning("event=decided_hook_failed approval=%s error=%s", approval_id,
                    logmod.one_line_error(exc))


async def approvals(req: Request, ctx: CommandContext) -> Reply:
    items = await ctx.client.approvals("pending")
    if not items:
        return Reply("No pending approvals.")
    lines = ["Pending approvals: %d" % len(items)]
    for a in items[:20]:
        lines.append("%s  %s  %s  expires %s" % (a.approval_id, a.template_id,
                                                 inputs_summary(a.inputs),
                                                 iso_stamp(a.expires_at)))
    actions: tuple[Action, ...] = ()
    for a in items[:APPROVALS_WITH_BUTTONS]:
        approve, reject = decision_actions(a.approval_id)
        short = a.approval_id[-6:]
        actions += (Action("Approve %s" % short, approve.command, group=approve.group),
                    Action("Reject %s" % short, reject.command, group=reject.group))
    return Reply("\n".join(lines), actions=actions)


class _Refused(Exception):
    """An id prefix that names no single approval; ``reply`` says why."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.text)
        self.reply = reply


async def _by_approval_id(req: Request, ctx: CommandContext, typed: str,
                          call: Any) -> tuple[str, Any]:
    """``call(id, actor=...)`` with the id as typed; when the server does not know it,
    once more with the pending approval it is a unique prefix of. Listing first would
    expire overdue requests before the decision (the server expires on list)."""
    try:
        return typed, await call(typed, actor=req.inbound.sender)
    except NotFound:
        resolved = await ids.approval_id(ctx.client, typed)
        if isinstance(resolved, Reply):
            raise _Refused(resolved) from None
        if resolved == typed:
            raise
    return resolved, await call(resolved, actor=req.inbound.sender)


async def approve(req: Request, ctx: CommandContext) -> Reply:
    if not req.command.args:
        return Reply("Usage: /approve <approval id> (ids are in /approvals)")
    aid = req.command.args[0]
    try:
        aid, result = await _by_approval_id(req, ctx, aid, ctx.client.approve)
    except NotFound as exc:
        return Reply(str(exc) or "Approval request not found: %s" % req.command.args[0])
    except _Refused as exc:
        return exc.reply
    except OpenClawError as exc:
        if getattr(exc, "status", None) == 400:   # expired / already decided
            await _decided(ctx, aid)
            return Reply("Cannot approve %s: %s" % (aid, exc))
        raise
    log.info("event=approved approval=%s actor=%s executed=%s", aid, req.inbound.sender,
             result.executed)
    await _decided(ctx, aid)
    if result.executed and result.prompt_id:
        template = result.approval.template_id if result.approval else "?"
        jobs = ctx.jobs
        shown = await _approval_inputs(ctx, result.approval)
        await _track(req, "prompt", jobs.watch_prompt(result.prompt_id, template,
                                                      req.inbound.chat, inputs=shown)
                     if jobs else None)
        return Reply("[Approved] %s\nExecuted: %s" % (aid, result.prompt_id))
    reason = result.execution_error or "the server did not start the job (auto-execute off)"
    return Reply("[Approved] %s (Not Executed)\nReason: %s\nRun it by hand with the template "
                 "and inputs of the request." % (aid, reason))


async def _approval_inputs(ctx: CommandContext, approval: Any) -> dict:
    """The caption inputs of an approved request (its defaults from the catalogue)."""
    if approval is None:
        return {}
    try:
        template = await ctx.templates.get(approval.template_id)
    except OpenClawError:
        template = None
    return shown_inputs(template, approval.inputs or {})


async def reject(req: Request, ctx: CommandContext) -> Reply:
    if not req.command.args:
        return Reply("Usage: /reject <approval id> [reason]")
    typed = req.command.args[0]
    reason = req.command.rest[len(typed):].strip() if req.command.rest.startswith(typed) else \
        " ".join(req.command.args[1:])
    aid = typed
    try:
        aid, _ = await _by_approval_id(req, ctx, typed, ctx.client.reject)
    except NotFound as exc:
        return Reply(str(exc) or "Approval request not found: %s" % typed)
    except _Refused as exc:
        return exc.reply
    except OpenClawError as exc:
        if getattr(exc, "status", None) == 400:
            await _decided(ctx, aid)
            return Reply("Cannot reject %s: %s" % (aid, exc))
        raise
    await _decided(ctx, aid)
    # The server does not store a reason; this line is where it is kept.
    log.info("event=rejected approval=%s actor=%s reason=%r", aid, req.inbound.sender,
             reason[:500])
    return Reply("[Rejected] %s" % aid + ("\nReason: %s" % reason if reason else ""))


# --------------------------------------------------------------------------- schedules

def _when(s: Any) -> str:
    if s.cron_expr:
        return "cron %s" % s.cron_expr
    if s.interval_sec:
        return "every %d s" % s.interval_sec
    return s.trigger_type


async def schedules(req: Request, ctx: CommandContext) -> Reply:
    items = await ctx.client.schedules()
    if not items:
        return Reply("No schedules.")
    lines = ["Schedules: %d" % len(items)]
    for s in items[:30]:
        lines.append("%s  %s  template=%s  %s  %s" % (
            s.schedule_id, s.name or "-", s.template_id, _when(s),
            "enabled" if s.enabled else "disabled"))
    return Reply("\n".join(lines))


async def schedule(req: Request, ctx: CommandContext) -> Reply:
    args = req.command.args
    if len(args) < 2 or args[0].lower() != "run":
        return Reply("Usage: /schedule run <schedule id> (ids are in /schedules)")
    sid = args[1]
    try:
        result = await ctx.client.run_schedule(sid)
    except NotFound:
        return Reply("Schedule not found: %s (see /schedules)" % sid)
    except Unreachable as exc:
        if exc.reason == "timed out":
            return Reply("The run of schedule %s was sent, but the server did not answer in "
                         "time; check /jobs to see whether it started." % sid)
        raise
    return Reply("[Triggered] schedule %s (template %s)\nThe server returns no prompt id for "
                 "schedule runs; follow it with /jobs." % (result.schedule_id,
                                                            result.template_id))
