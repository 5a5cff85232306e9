"""Image input and animated output on the fake ComfyUI + OpenClaw (issue 19).

Mirrors openclaw-api.md "Templates for image input, free text and animated
output" and interactive.md §4, §6.5-6.7:

* ``POST /upload/image`` (also ``/api/upload/image``), multipart: ``image`` file
  part (a filename is required, else 400 with an empty body), ``type``
  ``input`` (default) | ``temp`` | ``output`` (another value: 500),
  ``subfolder``, ``overwrite``. A path escaping the directory → 400. Without
  overwrite a clash with identical bytes reuses the name, with different
  bytes becomes ``name (1).ext``. Answer ``{"name", "subfolder", "type"}``.
  Stored files are in ``fake.inputs`` and readable through ``/view``.
* The templates ``invert`` (``LoadImage(image="{{image}}")`` → ``ImageInvert``
  → ``SaveImage(openclaw_invert)``), ``anim`` (``EmptyImage`` →
  ``SaveAnimatedWEBP(openclaw_anim)``) and ``poster``, in :data:`MEDIA_TEMPLATES`.
* LoadImage's validation at submit: a value naming no stored file makes the
  submit fail, which OpenClaw answers ``500 {"error": "Queue submission
  failed: 400"}`` (:func:`missing_image`).
* :func:`finish_like_comfy` ends the running job with the history outputs the
  real nodes write: ``{"3": {"images": [png]}}`` for invert, ``{"2": {"images":
  [webp], "animated": [true]}}`` for anim.
"""

from __future__ import annotations

import re
import struct
from typing import TYPE_CHECKING, Any, Optional

from tornado import httputil

if TYPE_CHECKING:
    from tests.fakes.openclaw import FakeOpenClaw

MEDIA_TEMPLATES: dict[str, dict] = {
    "invert": {
        "allowed_inputs": ["image"],
        "defaults": {},
        "graph": {"1": {"class_type": "LoadImage", "inputs": {"image": "{{image}}"}},
                  "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
                  "3": {"class_type": "SaveImage", "inputs": {
                      "images": ["2", 0], "filename_prefix": "openclaw_invert"}}},
    },
    "anim": {
        "allowed_inputs": ["width", "height", "frames", "color"],
        "defaults": {"width": 96, "height": 96, "frames": 4, "color": 255},
        "graph": {"1": {"class_type": "EmptyImage", "inputs": {
                      "width": "{{width}}", "height": "{{height}}", "batch_size": "{{frames}}",
                      "color": "{{color}}"}},
                  "2": {"class_type": "SaveAnimatedWEBP", "inputs": {
                      "images": ["1", 0], "filename_prefix": "openclaw_anim", "fps": 4,
                      "lossless": False, "quality": 80, "method": "default"}}},
    },
    "poster": {
        "allowed_inputs": ["prompt", "seed", "width", "height", "color"],
        "defaults": {"prompt": "", "seed": 0, "width": 256, "height": 256, "color": 0},
        "graph": {"1": {"class_type": "EmptyImage", "inputs": {
                      "width": "{{width}}", "height": "{{height}}", "batch_size": 1,
                      "color": "{{color}}"}},
                  "2": {"class_type": "SaveImage", "inputs": {
                      "images": ["1", 0], "filename_prefix": "openclaw_poster"}},
                  "3": {"class_type": "PreviewAny", "inputs": {"source": "{{prompt}}"}},
                  "4": {"class_type": "PreviewAny", "inputs": {"source": "{{seed}}"}}},
    },
}


def png(width: int = 8, height: int = 8, tag: bytes = b"") -> bytes:
    """A PNG signature and IHDR with this size (enough for every header check)."""
    ihdr = struct.pack(">II", width, height) + b"\x08\x02\x00\x00\x00"
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + b"\0\0\0\0" + tag


def animated_webp(width: int = 96, height: int = 96) -> bytes:
    """A RIFF/WEBP with a VP8X header whose animation flag is set."""
    vp8x = bytes([0x02, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + \
        (height - 1).to_bytes(3, "little")
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x + b"ANIM" + b"\0" * 14
    return b"RIFF" + struct.pack("<I", len(body)) + body


def upload_routes(fake: "FakeOpenClaw") -> list:
    """The ``/upload/image`` route for the fake's table."""

    async def upload_image(rec: Any) -> Any:
        args: dict = {}
        files: dict = {}
        httputil.parse_body_arguments(rec.headers.get("Content-Type", ""), rec.body, args,
                                      files)
        parts = files.get("image") or []
        if not parts or not parts[0].filename:
            return 400, b""
        kind = _arg(args, "type") or "input"
        if kind not in ("input", "temp", "output"):
            return 500, b"500 Internal Server Error"
        subfolder = _arg(args, "subfolder")
        name = parts[0].filename
        if ".." in subfolder or subfolder.startswith("/") or "/" in name or ".." in name:
            return 400, b""
        data = parts[0].body
        overwrite = _arg(args, "overwrite").lower() in ("true", "1")
        if not overwrite:
            base, dot, ext = name.rpartition(".")
            n = 0
            while (name, subfolder, kind) in fake.views and \
                    fake.views[(name, subfolder, kind)] != data:
                n += 1
                name = "%s (%d).%s" % (base, n, ext) if dot else "%s (%d)" % (name, n)
        fake.views[(name, subfolder, kind)] = data
        fake.uploads.append((subfolder, name, data))
        return {"name": name, "subfolder": subfolder, "type": kind}

    return [("POST", r"(?:/api)?/upload/image", "comfy", "comfy", upload_image)]


def _arg(args: dict, key: str) -> str:
    values = args.get(key) or []
    return values[-1].decode("utf-8", "replace") if values else ""


_ANNOTATION = re.compile(r"^(.*?)(?: \[(input|output|temp)\])?$")


def missing_image(fake: "FakeOpenClaw", graph: dict) -> Optional[str]:
    """The first LoadImage value in ``graph`` that names no stored file (§6.6)."""
    for node in graph.values():
        if not isinstance(node, dict) or node.get("class_type") != "LoadImage":
            continue
        value = (node.get("inputs") or {}).get("image")
        if not isinstance(value, str):
            return str(value)
        match = _ANNOTATION.match(value)
        path, kind = (match.group(1), match.group(2) or "input") if match else (value, "input")
        subfolder, _, name = path.rpartition("/")
        if (name, subfolder, kind) not in fake.views:
            return value
    return None


def finish_like_comfy(fake: "FakeOpenClaw", prompt_id: Optional[str] = None) -> str:
    """End the running (or named) job with the outputs its template's nodes write."""
    job = fake.model.running if prompt_id is None else fake.model.find(prompt_id)
    assert job is not None, "no job to finish"
    n = len([k for k in fake.views if k[0].startswith("openclaw_")]) + 1
    if job.template_id == "invert":
        name = "openclaw_invert_%05d_.png" % n
        fake.register_view(name, png(tag=b"inverted"))
        outputs: dict = {"3": {"images": [{"filename": name, "subfolder": "",
                                           "type": "output"}]}}
    elif job.template_id == "anim":
        name = "openclaw_anim_%05d_.webp" % n
        fake.register_view(name, animated_webp())
        outputs = {"2": {"images": [{"filename": name, "subfolder": "", "type": "output"}],
                         "animated": [True]}}
    else:
        name = "openclaw_poster_%05d_.png" % n
        fake.register_view(name, png(256, 256))
        outputs = {"2": {"images": [{"filename": name, "subfolder": "", "type": "output"}]},
                   "3": {"text": [str(job.inputs.get("prompt", ""))]},
                   "4": {"text": [str(job.inputs.get("seed", 0))]}}
    return fake.model.finish(job.prompt_id, outputs=outputs, duration=0.5)
