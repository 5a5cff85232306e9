"""Turning a job outcome into a Reply, and getting it accepted by the platform.

Split from :mod:`jobs` (the watching) so each stays one concept. The reply
carries the first ``results.max_images`` images, each fetched through
``/view`` (openclaw-api.md §5) with at most ``media.max_mb`` bytes; an image
that cannot be fetched becomes a note in the caption. Sending retries with
backoff (``retry.*``; a platform's ``retry_after`` wins) up to
``results.delivery_attempts`` times; images a platform refuses for good are
dropped and the text sent alone. Nothing here ever re-runs a job.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable, Mapping, Optional

from openclaw_connector import jobs_format as fmt
from openclaw_connector import log as logmod
from openclaw_connector.backoff import Backoff, BackoffPolicy, wait_or_stop
from openclaw_connector.config import Config
from openclaw_connector.messages import ChannelSendError, ChatRef, Image, Reply
from openclaw_connector.openclaw_types import ImageRef, JobOutcome, NotFound, OpenClawError, \
    Unreachable

log = logmod.get("jobs")

DONE, FAILED = "done", "failed"

Deliver = Callable[[ChatRef, Reply], Awaitable[None]]


class ResultSender:
    """Builds result replies and sends them until accepted (bounded)."""

    def __init__(self, cfg: Config, *, openclaw: Any, deliver: Deliver, metrics: Any,
                 stopping: asyncio.Event) -> None:
        self._res = cfg.results
        self._max_bytes = int(cfg.media.max_mb * 1024 * 1024)
        self._oc = openclaw
        self._deliver = deliver
        self._metrics = metrics
        self._stopping = stopping
        self.retry = BackoffPolicy(cfg.retry.initial_sec, 2.0, cfg.retry.max_sec)

    async def result_reply(self, template: str, outcome: JobOutcome, *,
                           inputs: Optional[Mapping] = None) -> Reply:
        """Text plus the first ``max_images`` images of a finished (or lost) job."""
        images: list[Image] = []
        notes: list[str] = []
        if outcome.state == "success":
            for ref in outcome.images[:self._res.max_images]:
                try:
                    data = await self._view(ref)
                except OpenClawError as exc:
                    notes.append(fmt.image_note(ref.filename, _why(exc)))
                    continue
                images.append(Image(ref.filename, data, fmt.content_type(ref.filename)))
        text = fmt.outcome_text(template, outcome, max_images=self._res.max_images,
                                notes=notes, inputs=inputs)
        return Reply(text, tuple(images))

    async def _view(self, ref: ImageRef) -> bytes:
        """One /view download; an unreachable ComfyUI is retried with backoff, bounded."""
        delays = Backoff(self.retry)
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._oc.view(ref.filename, ref.subfolder, ref.type,
                                           max_bytes=self._max_bytes)
            except Unreachable:
                if attempt >= self._res.delivery_attempts or \
                        await wait_or_stop(self._stopping, delays.next()):
                    raise

    async def send(self, key: str, chat: ChatRef, reply: Reply, outcome: str) -> Optional[str]:
        """Send until accepted: DONE, FAILED after the last attempt, None if stopping."""
        delays = Backoff(self.retry)
        started = time.monotonic()
        attempt = 0
        while attempt < self._res.delivery_attempts:
            attempt += 1
            try:
                await self._deliver(chat, reply)
            except Exception as exc:
                permanent = isinstance(exc, ChannelSendError) and exc.permanent
                after = getattr(exc, "retry_after", None) or 0.0
                log.warning("event=result_send_failed key=%s attempt=%d permanent=%s "
                            "error=%s", key, attempt, permanent, logmod.one_line_error(exc))
                if permanent and reply.images:
                    # The images were refused (size, type): the words still matter.
                    reply = Reply(reply.text + "\n" + fmt.image_note(
                        "images", "the platform refused them"))
                    continue
                if permanent or attempt >= self._res.delivery_attempts:
                    break
                if await wait_or_stop(self._stopping, max(delays.next(), after)):
                    return None   # stays pending: delivered after the next start
                continue
            log.info("event=result_delivered key=%s outcome=%s attempts=%d took_ms=%.1f",
                     key, outcome, attempt, 1000 * (time.monotonic() - started))
            if self._metrics is not None:
                self._metrics.inc("job_results_total", outcome=outcome,
                                  platform=chat.platform, help="Job results delivered")
            return DONE
        log.error("event=result_gave_up key=%s outcome=%s attempts=%d", key, outcome, attempt)
        if self._metrics is not None:
            self._metrics.inc("job_results_failed_total", platform=chat.platform,
                              help="Job results the platform never accepted")
        return FAILED


def _why(exc: OpenClawError) -> str:
    if isinstance(exc, NotFound):
        return "file not found"
    if isinstance(exc, Unreachable):
        return "ComfyUI not reachable"
    return str(exc) or type(exc).__name__
