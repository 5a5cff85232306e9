"""A job started from chat reports back to that chat: images, failures, interrupts, lost jobs.

Each test runs the real daemon in-process against the fake ComfyUI/OpenClaw
(tests/fakes/openclaw.py) and reads the console channel's output.
"""

from __future__ import annotations

import pytest

from openclaw_connector.state import StateStore
from tests.jobs.support import CHAT, PNG, job_env
from tests.harness import running_daemon


def _images(fake, n: int) -> list[str]:
    names = ["img_%02d.png" % i for i in range(n)]
    for i, name in enumerate(names):
        fake.register_view(name, PNG + bytes([i]))
    return names


@pytest.mark.gen_test(timeout=10)
async def test_success_with_two_images_reaches_the_chat_once(tmp_path):
    """The caption names template, short id, duration and count; both images follow."""
    async with job_env(tmp_path) as (fake, daemon):
        pid = fake.submit("portrait")
        await daemon.jobs.watch_prompt(pid, "portrait", CHAT)
        fake.finish_job(pid, images=_images(fake, 2), duration=12.4)
        text = await daemon.out.wait_for("[image] img_01.png")
        assert "[Done] portrait · %s · 12.4 s · 2 images" % pid[:8] in text
        assert "[image] img_00.png (image/png, 73 bytes)" in text
        assert daemon.jobs.introspect().pending == []
        other = fake.submit("portrait")     # more queue changes: the first is not resent
        await daemon.jobs.watch_prompt(other, "portrait", CHAT)
        fake.fail_job(other)
        await daemon.out.wait_for("[Failed]")
    assert daemon.out.text.count("[Done]") == 1
    assert [c.query["filename"][0] for c in fake.calls("/api/view")] == ["img_00.png",
                                                                      "img_01.png"]


@pytest.mark.gen_test(timeout=10)
async def test_more_images_than_max_sends_the_first_four_and_a_note(tmp_path):
    async with job_env(tmp_path) as (fake, daemon):
        pid = fake.submit("portrait")
        await daemon.jobs.watch_prompt(pid, "portrait", CHAT)
        fake.finish_job(pid, images=_images(fake, 6))
        text = await daemon.out.wait_for("[image] img_03.png")
        assert "6 images (+2 more, /history %s)" % pid in text
    assert daemon.out.text.count("[image]") == 4
    assert len(fake.calls("/api/view")) == 4


@pytest.mark.gen_test(timeout=10)
async def test_failed_job_names_node_type_and_message(tmp_path):
    async with job_env(tmp_path) as (fake, daemon):
        pid = fake.submit("portrait")
        await daemon.jobs.watch_prompt(pid, "portrait", CHAT)
        fake.fail_job(pid, node_type="KSampler", message="CUDA out of memory")
        text = await daemon.out.wait_for("[Failed]")
    assert "[Failed] portrait · %s: KSampler: CUDA out of memory" % pid in text


@pytest.mark.gen_test(timeout=10)
async def test_interrupted_job_says_stopped(tmp_path):
    async with job_env(tmp_path) as (fake, daemon):
        pid = fake.submit("portrait")
        await daemon.jobs.watch_prompt(pid, "portrait", CHAT)
        assert fake.interrupt(pid) == pid
        text = await daemon.out.wait_for("[Stopped]")
    assert "[Stopped] portrait · %s" % pid in text
    assert "[image]" not in text


@pytest.mark.gen_test(timeout=10)
async def test_non_image_outputs_are_listed_in_the_caption(tmp_path):
    async with job_env(tmp_path) as (fake, daemon):
        pid = fake.submit("portrait")
        await daemon.jobs.watch_prompt(pid, "portrait", CHAT)
        fake.register_view("clip.mp4", b"\0\0\0\x18ftypmp42")
        fake.finish_job(pid, outputs={
            "12": {"gifs": [{"filename": "clip.mp4", "subfolder": "", "type": "output",
                             "format": "video/h264-mp4", "fullpath": "/srv/comfy/clip.mp4"}]},
            "15": {"text": ["hello", "world"]}})
        text = await daemon.out.wait_for("[Done]")
    assert "no images; produced: gifs ×1 (node 12), text ×2 (node 15)" in text
    # VideoHelperSuite's file is delivered too (issue 19), fetched by name, never fullpath.
    assert [c.query["filename"] for c in fake.calls("/api/view")] == [["clip.mp4"]]
    assert "/srv/comfy" not in text


@pytest.mark.gen_test(timeout=10)
async def test_missing_image_file_is_noted_and_the_rest_delivered(tmp_path):
    async with job_env(tmp_path) as (fake, daemon):
        pid = fake.submit("portrait")
        await daemon.jobs.watch_prompt(pid, "portrait", CHAT)
        names = _images(fake, 1) + ["gone.png"]
        fake.finish_job(pid, images=names)
        text = await daemon.out.wait_for("[image] img_00.png")
    assert "2 images" in text and "(gone.png not attached: file not found)" in text


@pytest.mark.gen_test(timeout=10)
async def test_image_over_media_max_mb_is_not_attached(tmp_path):
    async with job_env(tmp_path, media__max_mb=0.001) as (fake, daemon):
        fake.register_view("big.png", PNG + b"x" * 2000)
        pid = fake.submit("portrait")
        await daemon.jobs.watch_prompt(pid, "portrait", CHAT)
        fake.finish_job(pid, images=["big.png"])
        text = await daemon.out.wait_for("[Done]")
    assert "(big.png not attached:" in text and "[image]" not in text


@pytest.mark.gen_test(timeout=10)
async def test_comfyui_restart_clears_history_and_the_chat_hears_lost(tmp_path):
    async with job_env(tmp_path) as (fake, daemon):
        pid = fake.submit("portrait")
        await daemon.jobs.watch_prompt(pid, "portrait", CHAT)
        await fake.go_down()
        fake.restart()                       # history and queue gone
        await fake.come_up()
        text = await daemon.out.wait_for("[Lost]")
    assert "[Lost] %s: ComfyUI restarted before the job finished" % pid in text
    assert text.count("[Lost]") == 1


@pytest.mark.gen_test(timeout=10)
async def test_websocket_down_polling_still_delivers(tmp_path):
    """With /ws refused (HTTP up) the watcher polls /queue with backoff and still delivers."""
    async with job_env(tmp_path) as (fake, daemon):
        await fake.wait_request("/ws")
        fake.ws_refused = True
        fake.drop_ws()
        pid = fake.submit("portrait")
        await daemon.jobs.watch_prompt(pid, "portrait", CHAT)
        before = len(fake.calls("/api/queue"))
        await fake.wait_request("/api/queue", count=before + 3)   # polls, no broadcast heard
        assert fake.ws_clients == []
        fake.finish_job(pid, images=_images(fake, 1))
        text = await daemon.out.wait_for("[image] img_00.png")
        assert not daemon.jobs.ws.connected
    assert "[Done] portrait · %s" % pid[:8] in text


@pytest.mark.gen_test(timeout=10)
async def test_websocket_reconnects_after_a_drop(tmp_path):
    async with job_env(tmp_path) as (fake, daemon):
        await fake.wait_request("/ws")
        fake.drop_ws()
        await fake.wait_request("/ws", count=2)
        pid = fake.submit("portrait")
        await daemon.jobs.watch_prompt(pid, "portrait", CHAT)
        fake.finish_job(pid, images=_images(fake, 1))
        await daemon.out.wait_for("[image] img_00.png")
    assert daemon.jobs.ws.connects >= 2


@pytest.mark.gen_test(timeout=15)
async def test_daemon_restart_checks_pending_watches_and_delivers_once(tmp_path):
    """Job finished while the daemon was down: the next start delivers it, once."""
    async with job_env(tmp_path) as (fake, daemon):
        pid = fake.submit("portrait")
        await daemon.jobs.watch_prompt(pid, "portrait", CHAT)
        cfg = daemon.cfg
    fake2 = fake
    await fake2.start()        # job_env stopped the fake it owned; same port again
    try:
        fake2.finish_job(pid, images=_images(fake2, 1))
        async with running_daemon(cfg, console=True) as again:
            text = await again.out.wait_for("[image] img_00.png")
            assert "[Done] portrait" in text
        async with running_daemon(cfg, console=True) as third:
            assert third.jobs.introspect().pending == []
        assert "[Done]" not in third.out.text
    finally:
        await fake2.stop()
    state = StateStore(str(tmp_path / "state"))
    state.open()
    try:
        assert [r.state for r in state.watches()] == ["done"]
    finally:
        state.close()


@pytest.mark.gen_test(timeout=10)
async def test_watch_is_given_up_after_max_wait_hours(tmp_path):
    # poll_max 0.03 s: the safety pass that notices the overdue watch runs every 0.3 s
    async with job_env(tmp_path, results__max_wait_hours=0.0001,
                       results__poll_max_sec=0.03) as (fake, daemon):
        pid = fake.submit("portrait")
        await daemon.jobs.watch_prompt(pid, "portrait", CHAT)
        text = await daemon.out.wait_for("[Gave up]")
    assert "[Gave up] portrait · %s: no result after 0.4 s" % pid in text
    assert daemon.jobs.introspect().pending == []


@pytest.mark.gen_test(timeout=10)
async def test_same_prompt_watched_twice_for_one_chat_is_delivered_once(tmp_path):
    async with job_env(tmp_path) as (fake, daemon):
        pid = fake.submit("portrait")
        await daemon.jobs.watch_prompt(pid, "portrait", CHAT)
        await daemon.jobs.watch_prompt(pid, "portrait", CHAT)
        fake.finish_job(pid, images=_images(fake, 1))
        await daemon.out.wait_for("[image] img_00.png")
        await daemon.jobs.watch_prompt(pid, "portrait", CHAT)   # replay after delivery
        assert daemon.jobs.introspect().pending == []
    assert daemon.out.text.count("[Done]") == 1
