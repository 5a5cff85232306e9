"""Per-run events: the second ``/ws`` socket that hears one running prompt.

OpenClaw submits with a random ``client_id`` and ComfyUI sends ``executing``,
``progress`` and ``progress_state`` of a run only to the socket opened with
that id (interactive.md §6.1, option (d)). The id is in the running entry of
``GET /queue`` (``extra_data.client_id``), so while a watched prompt runs we
open ``/ws?clientId=<that id>``; ComfyUI runs one prompt at a time, so there
is at most one such socket. ComfyUI re-sends the running node (an
``executing`` without ``prompt_id``) to a socket that connects mid-run.

If attaching fails the card keeps its polled "Running · 0:12" (the socket
retries quietly with backoff until the prompt leaves the queue); nothing is
said in chat. Steps are read from ``progress`` and from ``progress_state``
(upstream ComfyUI sends both, ``main.hijack_progress``; some forks only the
latter). Binary preview frames (§6.3) are decoded
by :func:`parse_preview` when ``progress.previews`` asks for them.
"""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any, Awaitable, Callable, Mapping, Optional

from openclaw_connector import log as logmod
from openclaw_connector.backoff import BackoffPolicy
from openclaw_connector.jobs.card_text import CardState
from openclaw_connector.openclaw.comfy_ws import ComfyWebSocket, ws_url
from openclaw_connector.openclaw.types import QueueEntry

log = logmod.get("jobs")

RUN_EVENTS = ("executing", "progress", "progress_state", "execution_cached")
RESULT_EVENTS = ("execution_success", "execution_error", "execution_interrupted")
PREVIEW_IMAGE, PREVIEW_WITH_METADATA = 1, 4      # ComfyUI protocol.BinaryEventTypes
IMAGE_FORMATS = {1: "image/jpeg", 2: "image/png"}


def parse_preview(frame: bytes) -> Optional[tuple[bytes, str]]:
    """``(image bytes, content type)`` of a preview frame, None for anything else.

    Type 1: uint32 format (1 JPEG, 2 PNG), then the image; type 4: uint32
    metadata length, JSON metadata (``image_type``), then the image; all
    big-endian (interactive.md §6.3).
    """
    if len(frame) < 8:
        return None
    kind, word = struct.unpack(">II", frame[:8])
    if kind == PREVIEW_IMAGE and word in IMAGE_FORMATS and len(frame) > 8:
        return frame[8:], IMAGE_FORMATS[word]
    if kind == PREVIEW_WITH_METADATA and 8 + word < len(frame):
        try:
            meta = json.loads(frame[8:8 + word].decode("utf-8"))
        except ValueError:
            return None
        ctype = meta.get("image_type") if isinstance(meta, dict) else None
        if isinstance(ctype, str) and ctype in IMAGE_FORMATS.values():
            return frame[8 + word:], ctype
    return None


class RunProgress:
    """Folds one run's socket events into its card state (pure, no I/O)."""

    def __init__(self, entry: QueueEntry, state: CardState) -> None:
        self.prompt_id = entry.prompt_id
        self.state = state
        self._classes = dict(entry.node_classes)
        self._seen: set[str] = set()
        if self._classes and not state.node_total:
            state.node_total = len(self._classes)

    def apply(self, message: Mapping) -> bool:
        """Apply one ``{"type", "data"}`` event of this run; True if the card changed."""
        kind, data = message.get("type"), message.get("data")
        if not isinstance(data, Mapping):
            return False
        pid = data.get("prompt_id")
        if pid is not None and pid != self.prompt_id:
            return False                    # another run (or the broadcast socket's)
        if kind == "execution_cached":
            cached = data.get("nodes")
            if isinstance(cached, list) and self._classes:
                self.state.node_total = max(1, len(self._classes) - len(cached))
            return False
        if kind == "executing":
            return self._executing(data.get("node"))
        if kind == "progress":
            return self._steps(data.get("node"), data.get("value"), data.get("max"))
        if kind == "progress_state":
            nodes = data.get("nodes")
            if not isinstance(nodes, Mapping):
                return False
            changed = False
            for node_id, node in nodes.items():
                if isinstance(node, Mapping) and node.get("state") == "running":
                    changed |= self._steps(node.get("display_node_id") or node_id,
                                           node.get("value"), node.get("max"))
            return changed
        return False

    def _executing(self, node: Any) -> bool:
        if node is None:
            return False                    # the run ended; the watcher reports that
        node = str(node)
        if node in self._seen:
            return False
        self._seen.add(node)
        self.state.node_index = len(self._seen)
        if self.state.node_total < self.state.node_index:
            self.state.node_total = self.state.node_index
        # A new node: its steps (if any) come with its own progress events.
        self.state.step = self.state.steps = 0
        self.state.node_class = self._classes.get(node, "")
        return True

    def _steps(self, node: Any, value: Any, maximum: Any) -> bool:
        if not isinstance(value, (int, float)) or not isinstance(maximum, (int, float)) \
                or maximum <= 1:
            return False                    # a node without steps (ImageBlur: 0/1, 1/1)
        node_class = self._classes.get(str(node), "") or self.state.node_class
        step, steps = int(value), int(maximum)
        if (step, steps, node_class) == (self.state.step, self.state.steps,
                                         self.state.node_class):
            return False
        self.state.step, self.state.steps, self.state.node_class = step, steps, node_class
        return True


class RunSocket:
    """At most one extra socket: the one ComfyUI routes the running prompt's events to.

    ``follow(entry)`` attaches to ``entry``'s run (dropping an earlier one);
    ``release()`` detaches. ``on_event(prompt_id, message)`` gets each JSON
    event, on the IOLoop.
    """

    def __init__(self, base_url: str, *, on_event: Callable[[str, dict], None],
                 retry: BackoffPolicy, ping_sec: float, connect_timeout: float,
                 on_preview: Optional[Callable[[str, bytes, str], None]] = None) -> None:
        self._base_url = base_url
        self._on_event = on_event
        self._on_preview = on_preview
        self._retry = retry
        self._ping_sec = ping_sec
        self._connect_timeout = connect_timeout
        self._ws: Optional[ComfyWebSocket] = None
        self._closing: set[asyncio.Task] = set()
        self.prompt_id = ""

    def follow(self, entry: QueueEntry) -> None:
        """Open ``/ws?clientId=<entry.client_id>`` unless already attached to it."""
        if entry.prompt_id == self.prompt_id:
            return
        self.release()
        if not entry.client_id:
            return
        self.prompt_id = pid = entry.prompt_id
        self._ws = ComfyWebSocket(
            ws_url(self._base_url, entry.client_id),
            on_message=lambda message: self._on_event(pid, message),
            on_state=lambda up: log.debug("event=run_socket_state prompt=%s up=%s", pid, up),
            retry=self._retry, ping_sec=self._ping_sec,
            connect_timeout=self._connect_timeout,
            on_binary=None if self._on_preview is None else
            (lambda frame: self._preview(pid, frame)))
        self._spawn(self._ws.start())
        log.info("event=run_socket_attach prompt=%s", pid)

    def _preview(self, pid: str, frame: bytes) -> None:
        image = parse_preview(frame)
        if image is not None and self._on_preview is not None:
            self._on_preview(pid, *image)

    def release(self) -> None:
        """Close the run's socket (the prompt left the queue)."""
        if self._ws is not None:
            self._spawn(self._ws.stop())
            log.debug("event=run_socket_release prompt=%s", self.prompt_id)
        self._ws, self.prompt_id = None, ""

    async def stop(self) -> None:
        self.release()
        if self._closing:
            await asyncio.wait(list(self._closing), timeout=3.0)

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
