"""The [Done] caption says what the job was: template, inputs that differ from the
defaults (a long prompt cut to 80 characters), the seed, and an id /history accepts."""

from __future__ import annotations

import pytest

from openclaw_connector.jobs import texts as fmt
from openclaw_connector.openclaw.types import JobOutcome
from tests.jobs.support import PNG, job_env


@pytest.mark.gen_test(timeout=10)
async def test_done_caption_shows_inputs_seed_and_an_id_history_accepts(tmp_path):
    async with job_env(tmp_path) as (fake, daemon):
        daemon.pipe.send("/run portrait a red fox at dusk steps=30 seed=7")
        await daemon.out.wait_for("[Queued] portrait")
        pid = fake.model.running.prompt_id
        fake.register_view("a.png", PNG)
        fake.finish_job(pid, images=["a.png"], duration=2.0)
        text = await daemon.out.wait_for("[image] a.png")
        done = text[text.index("[Done]"):].splitlines()[:2]
        assert done == ["[Done] portrait · %s · 2.0 s · 1 image" % pid[:8],
                        'prompt="a red fox at dusk" · steps=30 · seed=7']
        daemon.pipe.send("/history %s" % pid[:8])          # the id as the caption shows it
        answer = await daemon.out.wait_for("Duration: 2.0 s")
    assert "Job %s: success" % pid in answer


@pytest.mark.gen_test(timeout=10)
async def test_approved_run_keeps_its_caption_inputs(tmp_path):
    async with job_env(tmp_path) as (fake, daemon):
        daemon.pipe.send("/run portrait a blue boat --approval")
        await daemon.out.wait_for("[Approval Requested]")
        (aid,) = fake.model.approvals
        daemon.pipe.send("/approve %s" % aid[:8])
        await daemon.out.wait_for("Executed:")
        pid = fake.model.running.prompt_id
        fake.finish_job(pid, duration=1.0)
        text = await daemon.out.wait_for("seed=0")
    assert text.count('prompt="a blue boat" · seed=0') == 1


def test_long_prompt_is_cut_to_80_characters_and_defaults_are_left_out():
    outcome = JobOutcome(prompt_id="1b2c3d4e-aaaa-bbbb-cccc-000000000000", state="success",
                         duration_sec=1.0)
    text = fmt.done_text("poster", outcome, max_images=4,
                         inputs={"prompt": "word " * 40, "flag": False})
    line = text.splitlines()[1]
    prompt = line.split('"')[1]
    assert len(prompt) == 80 and prompt.endswith("…")
    assert line.endswith(" · flag=false")
    assert fmt.done_text("poster", outcome, max_images=4) == (
        "[Done] poster · 1b2c3d4e · 1.0 s · no outputs")
