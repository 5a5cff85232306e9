"""What ComfyUI's history says about one prompt: :class:`JobOutcome` (state, images,
other outputs, duration, error, execution events), parsed from
``GET /history/{id}`` by :func:`outcome_from_history` (openclaw-api.md §5, §7.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, NamedTuple, Optional

from openclaw_connector.openclaw.errors import scrub_server_text
from openclaw_connector.openclaw.jsonshape import expect_list, expect_object, number, \
    sub_object


class ImageRef(NamedTuple):
    """An output image as ``/view`` wants it: ``(filename, subfolder, type)``;
    ``animated`` is the node's ``animated`` flag (animated WEBP/APNG, and videos,
    which core ComfyUI lists under ``images``: interactive.md §4)."""

    filename: str
    subfolder: str = ""
    type: str = "output"
    animated: bool = False


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
    ms = number(body.get("timestamp"))
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
    d = expect_object(data, "history")
    entry = d.get(prompt_id)
    if entry is None:
        return None
    entry = expect_object(entry, "history entry")
    status = sub_object(entry, "status")
    messages = [m for m in expect_list(status.get("messages"), "status.messages")
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
    stamps = [t for t in (number(m[1].get("timestamp")) for m in messages) if t is not None]
    start = number(kinds.get("execution_start", {}).get("timestamp"))
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


def _file(item: Any, animated: bool = False) -> Optional[ImageRef]:
    # Only name, subfolder and type: VideoHelperSuite's "fullpath" is a server path.
    if isinstance(item, Mapping) and item.get("filename"):
        return ImageRef(str(item["filename"]), str(item.get("subfolder") or ""),
                        str(item.get("type") or "output"), animated)
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
        flags = node.get("animated")
        animated = isinstance(flags, list) and any(f is True for f in flags)
        for kind, value in node.items():
            items = value if isinstance(value, list) else [value]
            files = tuple(f for f in (_file(i, animated) for i in items) if f)
            if kind == "images":
                images.extend(files)
            elif kind != "animated":
                others.append(OtherOutput(str(node_id), str(kind), len(items), files))
    return tuple(images), tuple(others)
