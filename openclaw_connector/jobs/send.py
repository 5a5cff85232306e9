"""Turning a job outcome into a Reply, and getting it accepted by the platform.

Split from :mod:`jobs` (the watching) so each stays one concept. The reply
carries its buttons (:mod:`jobs.actions`, :mod:`jobs.followups`) and the
first ``results.max_images`` images, each fetched through
``/view`` (openclaw-api.md §5) with at most ``media.max_mb`` bytes; an image
that cannot be fetched becomes a note in the caption. Sending goes through
the Outbox (``delivery.py``), which owns the retry policy for every reply;
a result is a ``durable`` delivery, so one interrupted by a shutdown resumes
after the restart from the first part not yet delivered. Nothing here ever
re-runs a job.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, Mapping, Optional

from openclaw_connector.jobs import texts as fmt
from openclaw_connector.jobs.actions import result_actions
from openclaw_connector.jobs.followups import FollowUps, output_reference
from openclaw_connector import log as logmod
from openclaw_connector.backoff import Backoff, BackoffPolicy, wait_or_stop
from openclaw_connector.config import Config
from openclaw_connector.delivery import DONE, FAILED, STOPPED, Outbox
from openclaw_connector.media_in import RESULT_OUTPUTS, result_name
from openclaw_connector.media_out import IMAGE, classify
from openclaw_connector.media_out import content_type as media_type
from openclaw_connector.messages import ChatRef, Image, Reply, Sent
from openclaw_connector.metrics import Metrics
from openclaw_connector.openclaw.types import ImageRef, JobOutcome, NotFound, OpenClawError, \
    Unreachable

log = logmod.get("jobs")

__all__ = ["DONE", "FAILED", "ResultSender"]

OUTPUT_MEMORY_SEC = 7 * 86400.0     # as long as finished watches are kept (jobs.watcher)


class ResultSender:
    """Builds result replies and sends them until accepted (bounded)."""

    def __init__(self, cfg: Config, *, openclaw: Any, outbox: Outbox, metrics: Metrics,
                 stopping: asyncio.Event, state: Any = None,
                 followups: Optional[FollowUps] = None) -> None:
        self._res = cfg.results
        self._max_bytes = int(cfg.media.max_mb * 1024 * 1024)
        self._max_video_bytes = int(max(cfg.media.max_mb, cfg.media.max_video_mb) * 1048576)
        self._oc = openclaw
        self._outbox = outbox
        self._metrics = metrics
        self._stopping = stopping
        self._state = state
        self._followups = followups
        self.retry = BackoffPolicy(cfg.retry.initial_sec, 2.0, cfg.retry.max_sec)

    async def result_reply(self, template: str, outcome: JobOutcome, *,
                           inputs: Optional[Mapping] = None) -> Reply:
        """Text plus the first ``max_images`` images of a finished (or lost) job."""
        images: list[Image] = []
        notes: list[str] = []
        if outcome.state == "success":
            for ref in output_files(outcome)[:self._res.max_images]:
                kind = classify(ref.filename, ref.animated)
                try:
                    data = await self._view(ref, self._max_bytes if kind == IMAGE
                                            else self._max_video_bytes)
                except OpenClawError as exc:
                    notes.append(fmt.image_note(ref.filename, _why(exc)))
                    continue
                images.append(Image(ref.filename, data, media_type(ref.filename), kind=kind,
                                    source=output_reference(ref) if kind == IMAGE else ""))
        text = fmt.outcome_text(template, outcome, max_images=self._res.max_images,
                                notes=notes, inputs=inputs)
        more = await self._followups.actions(template, outcome) if self._followups else ()
        return Reply(text, tuple(images),
                     actions=result_actions(template, outcome, inputs, more))

    async def _view(self, ref: ImageRef, max_bytes: int) -> bytes:
        """One /view download; an unreachable ComfyUI is retried with backoff, bounded."""
        delays = Backoff(self.retry)
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._oc.view(ref.filename, ref.subfolder, ref.type,
                                           max_bytes=max_bytes)
            except Unreachable:
                if attempt >= self._res.delivery_attempts or \
                        await wait_or_stop(self._stopping, delays.next()):
                    raise

    async def send(self, key: str, chat: ChatRef, reply: Reply, outcome: str,
                   on_sent: Optional[Callable[[Optional[Sent]], None]] = None
                   ) -> Optional[str]:
        """Deliver through the Outbox: DONE, FAILED when never accepted, None if stopping.
        ``on_sent`` hears what was sent (None when nothing was): a message to adopt as a
        card."""
        started = time.monotonic()
        delivery = await self._outbox.deliver(chat, reply, key=key, durable=True)
        if on_sent is not None:
            on_sent(delivery.sent if delivery.status == DONE else None)
        if delivery.status == STOPPED:
            return None   # stays pending: delivered after the next start
        if delivery.status == DONE:
            self._remember_outputs(chat, reply, delivery.sent)
            log.info("event=result_delivered key=%s outcome=%s attempts=%d took_ms=%.1f",
                     key, outcome, delivery.attempts, 1000 * (time.monotonic() - started))
            self._metrics.inc("job_results_total", outcome=outcome,
                              platform=chat.platform, help="Job results delivered")
            return DONE
        log.error("event=result_gave_up key=%s outcome=%s attempts=%d permanent=%s", key,
                  outcome, delivery.attempts, delivery.permanent)
        self._metrics.inc("job_results_failed_total", platform=chat.platform,
                          help="Job results the platform never accepted")
        return FAILED


    def _remember_outputs(self, chat: ChatRef, reply: Reply, sent: Optional[Sent]) -> None:
        """Map the sent messages to the output files they showed, so a reply to one of
        them reuses the file as ``"<name> [output]"`` (issue 19; interactive.md §6.6)."""
        refs = [i.source for i in reply.images if i.source]
        if not refs or sent is None or self._state is None:
            return
        outputs = self._state.kv(RESULT_OUTPUTS)
        # The first and last message of the reply, then each image's own message where
        # the channel says which (LINE, WhatsApp): the more precise mapping wins.
        shown = [(message_id, image.source) for image, message_id
                 in zip(reply.images, sent.image_ids) if image.source]
        for message_id, ref in [(sent.first_id, refs[0]), (sent.last_id, refs[-1])] + shown:
            if message_id:
                outputs.put_expiring(result_name(chat.platform, chat.chat_id, message_id), ref,
                                     OUTPUT_MEMORY_SEC)


def output_files(outcome: JobOutcome) -> list[ImageRef]:
    """Every file to send: ``images`` (stills, animations and core ComfyUI's videos),
    then VideoHelperSuite's ``gifs`` (interactive.md §4)."""
    files = list(outcome.images)
    for other in outcome.other_outputs:
        if other.kind in ("gifs", "videos", "video"):
            files.extend(ImageRef(f.filename, f.subfolder, f.type, True) for f in other.files)
    return files


def _why(exc: OpenClawError) -> str:
    if isinstance(exc, NotFound):
        return "file not found"
    if isinstance(exc, Unreachable):
        return "ComfyUI not reachable"
    return str(exc) or type(exc).__name__
