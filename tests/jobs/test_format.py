"""The chat texts of issue 7, as pure functions."""

from __future__ import annotations

from openclaw_connector import media_out
from openclaw_connector.jobs import texts as fmt
from openclaw_connector.openclaw.comfy_ws import ws_url
from openclaw_connector.openclaw.types import ImageRef, JobOutcome, OtherOutput

PID = "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d"


def _ok(n_images: int, took: float = 12.4, others=()) -> JobOutcome:
    return JobOutcome(PID, "success", images=tuple(ImageRef("i%d.png" % i)
                                                   for i in range(n_images)),
                      other_outputs=tuple(others), duration_sec=took)


def test_done_caption_matches_the_issue():
    assert fmt.done_text("portrait", _ok(2), max_images=4) == \
        "[Done] portrait · 1b2c3d4e · 12.4 s · 2 images"
    assert fmt.done_text("portrait", _ok(1, took=75), max_images=4) == \
        "[Done] portrait · 1b2c3d4e · 1 min 15 s · 1 image"


def test_more_images_than_max_points_at_history():
    assert fmt.done_text("p", _ok(7), max_images=4).endswith(
        "7 images (+3 more, /history %s)" % PID)


def test_non_image_outputs_are_listed():
    others = [OtherOutput("12", "gifs", 1), OtherOutput("15", "text", 2)]
    assert fmt.done_text("p", _ok(0, others=others), max_images=4) == \
        "[Done] p · 1b2c3d4e · 12.4 s · no images; produced: gifs ×1 (node 12), text ×2 (node 15)"
    assert fmt.done_text("p", _ok(1, others=others[:1]), max_images=4).endswith(
        "1 image · also: gifs ×1 (node 12)")
    assert fmt.done_text("p", JobOutcome(PID, "success"), max_images=4) == \
        "[Done] p · 1b2c3d4e · no outputs"


def test_failed_stopped_lost_lines():
    err = JobOutcome(PID, "error", error_node_type="KSampler",
                     error_message="CUDA out of memory.\nTried to allocate 2 GiB")
    assert fmt.outcome_text("portrait", err, max_images=4) == \
        "[Failed] portrait · %s: KSampler: CUDA out of memory. Tried to allocate 2 GiB" % PID
    long = JobOutcome(PID, "error", error_message="x" * 1000)
    assert len(fmt.failed_text("p", long)) < 400
    assert fmt.outcome_text("p", JobOutcome(PID, "interrupted"), max_images=4) == \
        "[Stopped] p · %s" % PID
    assert fmt.outcome_text("p", JobOutcome(PID, "unknown"), max_images=4) == \
        "[Lost] %s: ComfyUI restarted before the job finished" % PID


def test_approval_lines():
    assert fmt.approved_text("apr_1", "portrait", PID, "telegram:42") == \
        "[Approved] apr_1 · portrait by telegram:42. Executed: %s" % PID
    assert fmt.rejected_text("apr_1", "portrait", None) == "[Rejected] apr_1 · portrait"
    assert fmt.expired_text("apr_1", "portrait").startswith("[Expired] apr_1 · portrait")


def test_content_type_and_ws_url():
    assert media_out.content_type("a.webp") == "image/webp"
    assert media_out.content_type("noext") == "application/octet-stream"
    assert ws_url("http://127.0.0.1:8188", "cid") == "ws://127.0.0.1:8188/ws?clientId=cid"
    assert ws_url("https://comfy.example.test/base/", "c d") == \
        "wss://comfy.example.test/base/ws?clientId=c+d"
