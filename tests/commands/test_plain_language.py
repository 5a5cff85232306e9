"""Issue 18 (and 15's input checks): free-text prompts, validation before submit,
/templates, bare text in private chats, id prefixes, phone-keyboard characters."""

from __future__ import annotations

import pytest

from openclaw_connector.commands import Router
from openclaw_connector.commands.ids import pick
from openclaw_connector.commands.parser import normalise, parse
from openclaw_connector.metrics import Metrics
from tests.commands.helpers import ADMIN, ALLOWED, BOT, msg, stack

# The three model-free templates of openclaw-api.md ("Templates for image input, free
# text and animated output"), plus one without any text input and one with a bool.
DOC_TEMPLATES = {
    "poster": {"allowed_inputs": ["prompt", "seed", "width", "height", "color"],
               "defaults": {"prompt": "", "seed": 0, "width": 256, "height": 256, "color": 0},
               "graph": {"2": {"class_type": "EmptyImage",
                               "inputs": {"width": "{{width}}", "height": "{{height}}",
                                          "batch_size": 1, "color": "{{color}}"}},
                         "3": {"class_type": "PreviewAny", "inputs": {"source": "{{prompt}}"}},
                         "4": {"class_type": "PreviewAny", "inputs": {"source": "{{seed}}"}}}},
    "solid": {"allowed_inputs": ["width", "height", "color"],
              "defaults": {"width": 64, "height": 64, "color": 0},
              "graph": {"1": {"class_type": "EmptyImage",
                              "inputs": {"width": "{{width}}", "color": "{{color}}"}}}},
    "invert": {"allowed_inputs": ["image"], "defaults": {},
               "graph": {"1": {"class_type": "LoadImage", "inputs": {"image": "{{image}}"}}}},
    "tiled": {"allowed_inputs": ["positive", "tiling", "cfg"],
              "defaults": {"tiling": False, "cfg": 7.5},
              "graph": {"1": {"class_type": "X", "inputs": {"text": "{{positive}}",
                                                            "tile": "{{tiling}}"}}}},
}


def _fired(env) -> list[dict]:
    return [r.json for r in env.fake.calls("/triggers/fire")]


# --------------------------------------------------------------------------- free text

@pytest.mark.gen_test(timeout=10)
async def test_free_text_is_the_prompt_and_known_keys_are_typed_inputs(tmp_path):
    async with stack(tmp_path) as env:
        reply = await env.say("/run portrait a red fox steps=30")
        assert reply.startswith("[Queued] portrait")
        (body,) = _fired(env)
        assert body["inputs"] == {"prompt": "a red fox", "steps": 30}
        assert env.fake.model.running.graph["7"]["inputs"]["text"] == "a red fox"
        assert env.fake.model.running.graph["3"]["inputs"]["steps"] == 30
        # What the [Done] caption will show: differing inputs and the seed.
        pid = env.fake.model.running.prompt_id
        assert env.tracker.inputs[pid] == {"prompt": "a red fox", "steps": 30, "seed": 0}


@pytest.mark.gen_test(timeout=10)
async def test_quoted_values_words_in_any_order_and_configured_prompt_input(tmp_path):
    async with stack(tmp_path, fake={"templates": DOC_TEMPLATES},
                     templates={"poster": {"prompt_input": "color"}}) as env:
        await env.say('/run tiled seed=1 "a, b" cfg=8')
        await env.say('/run tiled cfg=6.5 tiling=yes at dusk')
        await env.say('/run poster width=128 prompt="x=y, z"')
        assert (await env.say("/run poster 12")).startswith("[Queued]")
    # tiled has no seed input: "seed=1" is refused before anything is sent.
    assert [b["inputs"] for b in _fired(env)] == [
        {"cfg": 6.5, "tiling": True, "positive": "at dusk"},
        {"width": 128, "prompt": "x=y, z"},
        {"color": 12}]


@pytest.mark.gen_test(timeout=10)
async def test_free_text_to_a_template_without_a_text_input_is_refused(tmp_path):
    async with stack(tmp_path, fake={"templates": DOC_TEMPLATES}) as env:
        reply = await env.say("/run solid a red square")
        assert reply == ("Template solid takes no free text; give its inputs as key=value. "
                         "Inputs: width (default 64), height (default 64), color (default 0).")
        assert (await env.say("/run invert a fox")).startswith("Template invert takes no")
        assert _fired(env) == []


@pytest.mark.gen_test(timeout=10)
async def test_wrong_kind_and_unknown_input_are_refused_before_any_submit(tmp_path):
    async with stack(tmp_path, fake={"templates": DOC_TEMPLATES}) as env:
        assert await env.say("/run solid width=abc") == (
            'width must be a whole number (default 64), got "abc".')
        assert await env.say("/run solid colour=red") == (
            'Template solid has no input "colour" (did you mean "color"?). Inputs: width '
            '(default 64), height (default 64), color (default 0). To put "=" in a prompt, '
            'quote it: prompt="a=b".')
        assert await env.say("/run tiled cfg=high") == (
            'cfg must be a number (default 7.5), got "high".')
        assert await env.say("/run tiled tiling=maybe") == (
            'tiling must be true or false (default false), got "maybe".')
        assert (await env.say("/run poster fox prompt=cat")).startswith(
            "The prompt is given twice")
        assert _fired(env) == []
        assert env.fake.model.queue_remaining() == 0


@pytest.mark.gen_test(timeout=10)
async def test_seed_random_submits_a_fresh_integer_seed_and_the_caption_shows_it(tmp_path):
    """``seed=random`` (what Again carries) is drawn when the run is bound: an integer
    reaches OpenClaw, a new one each time, and the [Done] caption shows the one used."""
    async with stack(tmp_path) as env:
        for _ in range(2):
            assert (await env.say("/run portrait a fox seed=random")).startswith(
                "[Queued] portrait")
            pid = env.fake.model.running.prompt_id
            env.fake.finish_job(pid)
            seed = _fired(env)[-1]["inputs"]["seed"]
            assert isinstance(seed, int) and not isinstance(seed, bool) and seed > 0
            assert env.tracker.inputs[pid]["seed"] == seed
        first, second = (b["inputs"]["seed"] for b in _fired(env))
        assert first != second
        assert await env.say("/run portrait seed=often") == (
            'seed must be a whole number or random (default 0), got "often".')


@pytest.mark.gen_test(timeout=10)
async def test_without_the_template_list_inputs_go_as_typed_and_free_text_is_refused(tmp_path):
    """A server that refuses GET /openclaw/templates (403) does not block /run."""
    async with stack(tmp_path) as env:
        env.fake.fail_next(2, 403, {"ok": False, "error": "forbidden"},
                           path="/openclaw/templates")
        assert (await env.say("/run portrait a red fox")).startswith(
            "Cannot read the template list from OpenClaw (")
        assert (await env.say("/run portrait seed=3")).startswith("[Queued] portrait")
        assert [b["inputs"] for b in _fired(env)] == [{"seed": "3"}]


@pytest.mark.gen_test(timeout=10)
async def test_non_admin_free_text_goes_through_approval(tmp_path):
    async with stack(tmp_path) as env:
        reply = await env.say("/run portrait a small boat", ALLOWED)
        assert reply.startswith("[Approval Requested]")
        (body,) = _fired(env)
        assert body["require_approval"] is True and body["inputs"] == {"prompt": "a small boat"}


# --------------------------------------------------------------------------- /templates

@pytest.mark.gen_test(timeout=10)
async def test_templates_lists_each_with_inputs_defaults_and_free_text(tmp_path):
    async with stack(tmp_path, fake={"templates": DOC_TEMPLATES}) as env:
        listing = await env.say("/templates", ALLOWED)
        assert listing.splitlines() == [
            "Templates: 4 (details: /templates <id>)",
            "invert: image; no free text",
            'poster: prompt (default ""), seed (default 0), width (default 256), height '
            '(default 256), color (default 0); free text → prompt',
            "solid: width (default 64), height (default 64), color (default 0); no free text",
            "tiled: positive, tiling (default false), cfg (default 7.5); free text → positive"]
        full = await env.say("/templates poster")
        assert full.splitlines()[:3] == ["Template poster",
                                         '  prompt: text, default "" (free text goes here)',
                                         "  seed: a whole number, default 0"]
        assert full.splitlines()[-1] == "Example: /run poster a red fox at dusk seed=0"
        assert (await env.say("/templates nope")).startswith("Unknown template 'nope'.")


@pytest.mark.gen_test(timeout=10)
async def test_catalogue_is_read_at_most_once_a_minute(tmp_path):
    now = [1000.0]
    async with stack(tmp_path) as env:
        router = Router(env.cfg, openclaw=env.client, jobs=env.tracker, metrics=Metrics(),
                        clock=lambda: now[0])
        for _ in range(3):
            await router.handle(msg("/templates"))
            await router.handle(msg("/run portrait fox"))
        assert len(env.fake.calls("/openclaw/templates")) == 1
        env.fake.model.templates["fresh"] = {"allowed_inputs": ["prompt"], "defaults": {}}
        assert "fresh" not in (await router.handle(msg("/templates"))).text
        now[0] += 60
        assert "fresh: prompt; free text → prompt" in (await router.handle(msg("/templates"))).text
        assert len(env.fake.calls("/openclaw/templates")) == 2


# --------------------------------------------------------------------------- bare text

@pytest.mark.gen_test(timeout=10)
async def test_bare_text_in_private_runs_the_default_template(tmp_path):
    async with stack(tmp_path, default_template="portrait") as env:
        assert (await env.say("a red fox at dusk")).startswith("[Queued] portrait")
        approval = await env.say("a blue boat steps=12", ALLOWED)
        assert approval.startswith("[Approval Requested]")
        assert await env.say('a "quoted word', ADMIN) is not None
        group = await env.router.handle(msg("a green frog", ADMIN, chat="-100", is_direct=False))
        assert group is None
    bodies = _fired(env)
    assert [b["inputs"] for b in bodies] == [{"prompt": "a red fox at dusk"},
                                             {"prompt": "a blue boat", "steps": 12},
                                             {"prompt": 'a "quoted word'}]
    assert [b["require_approval"] for b in bodies] == [False, True, False]


@pytest.mark.gen_test(timeout=10)
async def test_bare_text_without_default_template_gets_the_hint(tmp_path):
    async with stack(tmp_path) as env:
        assert await env.say("a red fox") == "Commands start with /. Send /help for the list."
        assert await env.router.handle(msg("a red fox", chat="-100", is_direct=False)) is None
        assert _fired(env) == []


# --------------------------------------------------------------------------- id prefixes

@pytest.mark.gen_test(timeout=10)
async def test_unique_prefixes_name_jobs_and_approvals(tmp_path):
    async with stack(tmp_path) as env:
        done = env.fake.submit()
        env.fake.finish_job(done, images=["a.png"], duration=2.0)
        running = env.fake.submit()
        assert (await env.say("/history %s" % done[:8])).startswith("Job %s: success" % done)
        assert (await env.say("/history %s" % running[:6])) == "Job %s: still running." % running
        assert (await env.say("/history zz%s" % done[:8])).startswith(
            "Job zz%s: ComfyUI has no job with this id" % done[:8])
        assert (await env.say("/stop %s" % running[:7])).startswith(
            "[Stopped] Interrupt sent for running job %s" % running)
        await env.say("/run portrait --approval")
        aid = next(iter(env.fake.model.approvals))
        assert (await env.say("/approve %s" % aid[:9])).startswith("[Approved] %s" % aid)
        await env.say("/run portrait --approval")
        other = [a for a in env.fake.model.approvals if a != aid][0]
        assert (await env.say("/reject %s too dark" % other[:8])) == (
            "[Rejected] %s\nReason: too dark" % other)


@pytest.mark.gen_test(timeout=10)
async def test_prefix_found_in_history_when_the_jobs_list_fails(tmp_path):
    async with stack(tmp_path) as env:
        done = env.fake.submit()
        env.fake.finish_job(done, duration=1.0)
        env.fake.fail_next(1, 500, path="/api/jobs")
        assert (await env.say("/history %s" % done[:8])).startswith("Job %s: success" % done)
        scans = [r for r in env.fake.requests if r.path.endswith("/history")]
        assert [r.query.get("max_items") for r in scans] == [["200"]]


@pytest.mark.gen_test(timeout=10)
async def test_short_or_ambiguous_prefixes_are_refused(tmp_path):
    async with stack(tmp_path) as env:
        pid = env.fake.submit()
        assert (await env.say("/history %s" % pid[:4])) == (
            "%s is too short to name a job; give at least 6 characters of the id." % pid[:4])
        assert env.fake.calls("/history/") == []
    # The fake's ids are random uuids, so the ambiguous case is pinned on the rule itself.
    both = ["abcdef01-1", "abcdef02-2"]
    assert pick("abcdef0", both).text == (
        "abcdef0 matches 2 ids (abcdef01-1, abcdef02-2); give more characters.")
    assert pick("abcdef01", both) == "abcdef01-1"
    assert pick("zzzzzzzz", both) == "zzzzzzzz"


# --------------------------------------------------------------------------- phone keyboards

def test_phone_keyboard_characters_mean_their_ascii_twins():
    cmd = parse("／run portrait “a red fox” steps＝30 —approval", BOT)
    assert cmd.word == "run" and cmd.approval
    assert cmd.tokens == ("portrait", "a red fox", "steps=30")
    assert parse("/run\u00a0portrait\u3000seed=1", BOT).tokens == ("portrait", "seed=1")
    assert parse("／ｓｔａｔｕｓ", BOT).word == "status"
    assert parse("@ocbot ／ｓｔａｔｕｓ", BOT).word == "status"
    assert parse("/run portrait –approval", BOT).approval      # en dash
    # Inside a prompt, dashes and CJK text stay as typed.
    assert normalise("/run poster 夕暮れの狐 — 赤い") == "/run poster 夕暮れの狐 — 赤い"


@pytest.mark.gen_test(timeout=10)
async def test_phone_typed_run_submits_like_the_ascii_one(tmp_path):
    async with stack(tmp_path) as env:
        reply = await env.say("／run portrait “a red fox” steps＝30 —approval")
        assert reply.startswith("[Approval Requested]")
        (body,) = _fired(env)
        assert body["inputs"] == {"prompt": "a red fox", "steps": 30}
        assert body["require_approval"] is True
