"""Helpers for the photo-in / video-out tests: the fake ComfyUI with the media
templates, a config, and what reached a fake."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.openclaw import FakeOpenClaw
from tests.fakes.openclaw_media import MEDIA_TEMPLATES, png
from tests.fakes.openclaw_model import DEFAULT_TEMPLATES
from tests.support import make_config

ADMIN = 42
PHOTO = png(640, 480, tag=b"the user's photo")


def media_openclaw() -> FakeOpenClaw:
    """The fake with its default templates plus ``invert``, ``anim`` and ``poster``."""
    return FakeOpenClaw(templates={**DEFAULT_TEMPLATES, **MEDIA_TEMPLATES})


def fired_inputs(oc: FakeOpenClaw) -> list[dict]:
    """The ``inputs`` of every ``triggers/fire`` the fake received."""
    return [json.loads(r.body)["inputs"] for r in oc.calls("/triggers/fire", "POST")]


def submitted_graph(oc: FakeOpenClaw) -> dict:
    """The graph of the last job ComfyUI queued."""
    jobs = list(oc.model.finished.values()) + oc.model.pending + \
        ([oc.model.running] if oc.model.running else [])
    return jobs[-1].graph


def tg_config(tmp_path: Any, tg: Any, oc: FakeOpenClaw, **overrides: Any):
    values = {"telegram.token": tg.token, "telegram.api_base": tg.url,
              "telegram.poll_timeout_sec": 1, "telegram.allowed_users": [str(ADMIN)],
              "admin_users": ["telegram:%d" % ADMIN], "openclaw.url": oc.url,
              "results.poll_min_sec": 0.02, "results.poll_max_sec": 0.1}
    values.update(overrides)
    return make_config(tmp_path, **values)
