"""The live job card (issue 16) on Telegram: the ``[Queued]`` reply is edited with the
queue position and ETA, then with progress from the run's own socket, and ends with
the outcome; the images still come as a new message. All through the fakes."""

from __future__ import annotations

import re
import time

import pytest

from tests.fakes import telegram as ftg
from tests.fakes.telegram import FakeTelegram
from tests.jobs.support import PNG, TOKEN, GatedFake, jobs_config
from tests.harness import running_daemon, until

CHAT = "1111"


def _cfg(tmp_path, oc, tg, **extra):
    extra.setdefault("progress__min_interval_sec", 0.05)
    return jobs_config(tmp_path, oc, telegram__token=ftg.TOKEN, telegram__api_base=tg.url,
                       telegram__poll_timeout_sec=1, telegram__allowed_users=[CHAT],
                       admin_users=["telegram:" + CHAT], **extra)


def _card_id(tg: FakeTelegram, prompt_id: str) -> int:
    """The message id of the ``[Queued]`` reply naming ``prompt_id``."""
    (sent,) = [r for r in tg.sent(CHAT) if r.key == "sendmessage"
               and "[Queued]" in r.params.get("text", "") and prompt_id in r.params["text"]]
    return sent.response["result"]["message_id"]


def _edits(tg: FakeTelegram, message_id: int) -> list[str]:
    return [text for chat, mid, text in tg.edits if chat == CHAT and mid == message_id]


async def _queued(tg: FakeTelegram, oc, before: set) -> str:
    """Wait for the next ``[Queued]`` reply; the prompt id it names."""
    await tg.wait_until(lambda: len(_prompts(tg) - before) == 1)
    (pid,) = _prompts(tg) - before
    assert oc.model.find(pid) is not None
    return pid


def _prompts(tg: FakeTelegram) -> set:
    return {m.group(1) for t in tg.texts(CHAT) for m in [re.search(r"Prompt: (\S+)", t)]
            if m and t.startswith("[Queued]")}


@pytest.mark.gen_test(timeout=20)
async def test_job_behind_two_others_shows_position_and_eta(tmp_path):
    """A finished 10 s job of the template gives the ETA; a job behind two others
    gets its [Queued] reply edited to "2 ahead of you · about 30 s"."""
    async with GatedFake(admin_token=TOKEN) as oc, FakeTelegram() as tg:
        async with running_daemon(_cfg(tmp_path, oc, tg)):
            tg.queue_message("/run portrait", chat_id=int(CHAT))
            first = await _queued(tg, oc, set())
            oc.finish_job(first, duration=10.0)
            await tg.wait_until(lambda: any(t.startswith("[Done]") for t in tg.texts(CHAT)))
            oc.submit("portrait")                       # runs
            oc.submit("portrait")                       # waits
            tg.queue_message("/run portrait", chat_id=int(CHAT))
            mine = await _queued(tg, oc, {first})
            card = _card_id(tg, mine)
            await tg.wait_until(lambda: any("ahead" in t for t in _edits(tg, card)))
    shown = [t for t in _edits(tg, card) if "ahead" in t][-1]
    assert shown.startswith("[Queued] portrait\nPrompt: %s" % mine)
    assert shown.endswith("2 ahead of you · about 30 s")


@pytest.mark.gen_test(timeout=20)
async def test_progress_0_to_30_edits_card_within_budget_and_ends_done(tmp_path):
    """Steps 0→30 from the run's socket: at most duration/interval + 2 edits, the last
    progress edit shows ≥ 90 %, the card ends [Done] and the images come as a new message."""
    interval = 0.1
    async with GatedFake(admin_token=TOKEN) as oc, FakeTelegram() as tg:
        async with running_daemon(_cfg(tmp_path, oc, tg,
                                       progress__min_interval_sec=interval)):
            tg.queue_message("/run portrait", chat_id=int(CHAT))
            pid = await _queued(tg, oc, set())
            card = _card_id(tg, pid)
            await until(lambda: oc.runs.attached_to(pid))
            await tg.wait_until(lambda: any("Running" in t for t in _edits(tg, card)))
            before = len(_edits(tg, card))
            started = time.monotonic()
            oc.runs.executing("3")
            for first, last in ((0, 10), (11, 20), (21, 30)):   # three bursts of steps
                for step in range(first, last + 1):
                    assert oc.runs.progress(step, 30, node="3")
                shown = "KSampler %d/30" % last
                await tg.wait_until(lambda: shown in _edits(tg, card)[-1])
            assert "KSampler 30/30 · 100 %" in _edits(tg, card)[-1]
            took = time.monotonic() - started
            during = _edits(tg, card)[before:]
            oc.register_view("a.png", PNG)
            oc.finish_job(pid, images=["a.png"], duration=2.0)
            await tg.wait_until(lambda: tg.count("sendPhoto") == 1)
            await tg.wait_until(lambda: _edits(tg, card)[-1].startswith("[Done]"))
    assert len(during) <= took / interval + 2
    percents = [int(m.group(1)) for t in during for m in [re.search(r"(\d+) %", t)] if m]
    assert percents and percents[-1] >= 90
    assert _edits(tg, card)[-1] == "[Done] portrait · 2.0 s\nPrompt: %s\nseed=0" % pid
    results = [t for t in tg.texts(CHAT) if t.startswith("[Done]")]   # a new message
    assert results == ["[Done] portrait · %s · 2.0 s · 1 image\nseed=0" % pid[:8]]


@pytest.mark.gen_test(timeout=20)
async def test_nodes_without_steps_show_node_count_and_repeats_cause_no_edit(tmp_path):
    """ImageBlur-like nodes send only executing/progress_state: "node 2 of 4"; the same
    state twice is not edited twice (every edit differs from the one before)."""
    async with GatedFake(admin_token=TOKEN) as oc, FakeTelegram() as tg:
        async with running_daemon(_cfg(tmp_path, oc, tg, progress__min_interval_sec=0)):
            tg.queue_message("/run portrait", chat_id=int(CHAT))
            pid = await _queued(tg, oc, set())
            card = _card_id(tg, pid)
            await until(lambda: oc.runs.attached_to(pid))
            oc.runs.executing("6")
            oc.runs.progress_state({"6": (0, 1, "running")})
            oc.runs.executing("7")
            for _ in range(5):                          # nothing new to show
                oc.runs.progress_state({"6": (1, 1, "finished"), "7": (1, 1, "running")})
            await tg.wait_until(lambda: "node 2 of 4" in _edits(tg, card)[-1])
            oc.runs.executing("9")
            await tg.wait_until(lambda: "node 3 of 4" in _edits(tg, card)[-1])
    edits = _edits(tg, card)
    assert all(a != b for a, b in zip(edits, edits[1:]))
    assert len(tg.calls("editMessageText")) == len(tg.edits)   # no "not modified" call
    assert sum("node 2 of 4" in t for t in edits) <= 2          # 0:00 → 0:01 at most


@pytest.mark.gen_test(timeout=20)
async def test_429_on_one_card_delays_that_card_only(tmp_path):
    """Telegram answers 429 (retry_after 1.5 s) to one card's edit: that card shows its
    state after the wait, while another card in the chat is edited at once."""
    async with GatedFake(admin_token=TOKEN) as oc, FakeTelegram() as tg:
        async with running_daemon(_cfg(tmp_path, oc, tg)):
            tg.queue_message("/run portrait", chat_id=int(CHAT))
            running = await _queued(tg, oc, set())
            other = oc.submit("portrait")
            tg.queue_message("/run portrait", chat_id=int(CHAT))
            waiting = await _queued(tg, oc, {running})
            card_a, card_b = _card_id(tg, running), _card_id(tg, waiting)
            await until(lambda: oc.runs.attached_to(running))
            await tg.wait_until(lambda: any("2 ahead" in t for t in _edits(tg, card_b)))
            await tg.wait_until(lambda: any("Running" in t for t in _edits(tg, card_a)))
            tg.script("editMessageText", ftg.too_many(1.5))
            oc.runs.executing("3")
            oc.runs.progress(5, 30, node="3")
            await tg.wait_until(lambda: any(r.status == 429
                                            for r in tg.calls("editMessageText")))
            throttled_at = time.monotonic()
            oc.model.delete_pending([other])            # card B moves up: 1 ahead
            await tg.wait_until(lambda: any("1 ahead" in t for t in _edits(tg, card_b)))
            b_at = time.monotonic()
            await tg.wait_until(lambda: any("5/30" in t for t in _edits(tg, card_a)))
            a_at = time.monotonic()
    assert b_at - throttled_at < 1.2
    assert a_at - throttled_at >= 1.2


@pytest.mark.gen_test(timeout=20)
async def test_run_socket_refused_card_falls_back_and_ends(tmp_path):
    """ComfyUI refuses the run's socket: the card still says Running (polled) and ends
    [Stopped] when the job is interrupted; nothing about the socket reaches the chat."""
    async with GatedFake(admin_token=TOKEN) as oc, FakeTelegram() as tg:
        oc.runs.refuse_clients = True
        async with running_daemon(_cfg(tmp_path, oc, tg)):
            tg.queue_message("/run portrait", chat_id=int(CHAT))
            pid = await _queued(tg, oc, set())
            card = _card_id(tg, pid)
            await tg.wait_until(lambda: any(t.endswith(("Running · 0:00", "Running · 0:01"))
                                            for t in _edits(tg, card)))
            oc.interrupt(pid)
            await tg.wait_until(lambda: _edits(tg, card)[-1].startswith("[Stopped]"))
            await tg.wait_until(lambda: any(t.startswith("[Stopped]") for t in tg.texts(CHAT)))
    run_id = oc.model.finished[pid].extra_data["client_id"]
    assert run_id not in oc.runs.attached                       # the attach was refused
    assert any(r.query.get("clientId") == [run_id] and r.status == 403
               for r in oc.requests)                            # ... but it was tried
    assert all("socket" not in t for t in tg.texts(CHAT) + _edits(tg, card))


@pytest.mark.gen_test(timeout=20)
async def test_progress_disabled_leaves_the_reply_and_opens_no_run_socket(tmp_path):
    """progress.enabled: false — the [Queued] reply stays as sent, no per-run socket is
    opened, the result still arrives."""
    async with GatedFake(admin_token=TOKEN) as oc, FakeTelegram() as tg:
        async with running_daemon(_cfg(tmp_path, oc, tg, progress__enabled=False)):
            tg.queue_message("/run portrait", chat_id=int(CHAT))
            pid = await _queued(tg, oc, set())
            oc.runs.executing("3")
            oc.runs.progress(5, 30, node="3")
            oc.finish_job(pid)
            await tg.wait_until(lambda: any(t.startswith("[Done]") for t in tg.texts(CHAT)))
    run_id = oc.model.finished[pid].extra_data["client_id"]
    assert tg.edits == [] and tg.count("editMessageText") == 0
    assert run_id not in oc.runs.attached


@pytest.mark.gen_test(timeout=20)
async def test_job_done_before_its_reply_went_out_card_shows_the_outcome(tmp_path):
    """A job that ends while its [Queued] reply is still on the way (a cached prompt
    ends at once): once delivered, that reply is edited to [Done]; one result."""
    async with GatedFake(admin_token=TOKEN) as oc, FakeTelegram() as tg:
        async with running_daemon(_cfg(tmp_path, oc, tg)):
            tg.stall_chat(CHAT)
            tg.queue_message("/run portrait", chat_id=int(CHAT))
            await tg.next_request("sendMessage")          # the [Queued] reply, stalled
            pid = oc.model.running.prompt_id
            oc.register_view("a.png", PNG)
            oc.finish_job(pid, images=["a.png"], duration=0.5)
            await oc.wait_request("/view")                # the watcher took it as ended
            tg.release()
            card = await _queued_card(tg, pid)
            await tg.wait_until(lambda: any(t.startswith("[Done]") for t in tg.texts(CHAT)))
            await tg.wait_until(lambda: bool(_edits(tg, card)) and
                                _edits(tg, card)[-1].startswith("[Done] portrait · 0.5 s"))
    assert sum(t.startswith("[Done]") for t in tg.texts(CHAT)) == 1


async def _queued_card(tg: FakeTelegram, pid: str) -> int:
    await tg.wait_until(lambda: any("[Queued]" in t and pid in t for t in tg.texts(CHAT)))
    return _card_id(tg, pid)


@pytest.mark.gen_test(timeout=20)
async def test_approved_line_becomes_the_requesters_card(tmp_path):
    """A run that waited for approval: the [Approved] message the requester gets is their
    card from then on — edited with progress and ending [Done] — and the result still
    comes once, as a new message."""
    from tests.jobs.test_approvals import _web_ui
    async with GatedFake(admin_token=TOKEN) as oc, FakeTelegram() as tg:
        async with running_daemon(_cfg(tmp_path, oc, tg, progress__min_interval_sec=0)):
            tg.queue_message("/run portrait --approval", chat_id=int(CHAT))
            await tg.wait_until(lambda: any(t.startswith("[Approval Requested]")
                                            for t in tg.texts(CHAT)))
            (aid,) = oc.model.approvals
            pid = (await _web_ui(oc, aid, "approve"))["prompt_id"]
            await tg.wait_until(lambda: any(t.startswith("[Approved]")
                                            for t in tg.texts(CHAT)))
            (approved,) = [r for r in tg.sent(CHAT) if r.key == "sendmessage"
                           and r.params.get("text", "").startswith("[Approved]")]
            card = approved.response["result"]["message_id"]
            await until(lambda: oc.runs.attached_to(pid))
            oc.runs.executing("3")
            oc.runs.progress(15, 30, node="3")
            await tg.wait_until(lambda: any("KSampler 15/30 · 50 %" in t
                                            for t in _edits(tg, card)))
            oc.finish_job(pid, duration=2.0)
            await tg.wait_until(lambda: _edits(tg, card)
                                and _edits(tg, card)[-1].startswith("[Done]"))
            await tg.wait_until(lambda: any(t.startswith("[Done]") for t in tg.texts(CHAT)))
    assert sum(t.startswith("[Done]") for t in tg.texts(CHAT)) == 1
    assert _edits(tg, card)[-1].startswith("[Done] portrait · 2.0 s\nPrompt: %s" % pid)


@pytest.mark.gen_test(timeout=20)
async def test_given_up_job_leaves_no_card_behind(tmp_path):
    """results.max_wait_hours passes with the job still queued: [Gave up] is said, the
    card's stored handle is forgotten (before, it stayed in the StateStore for good)."""
    from openclaw_connector.delivery import CARD
    from openclaw_connector.jobs.watch import PROMPT, watch_key
    from openclaw_connector.messages import ChatRef
    async with GatedFake(admin_token=TOKEN) as oc, FakeTelegram() as tg:
        oc.submit("portrait")                           # runs, and never ends here
        async with running_daemon(_cfg(tmp_path, oc, tg, results__max_wait_hours=0.0003,
                                       results__poll_max_sec=0.03)) as daemon:
            tg.queue_message("/run portrait", chat_id=int(CHAT))
            pid = await _queued(tg, oc, set())
            key = watch_key(PROMPT, pid, ChatRef("telegram", CHAT))
            await until(lambda: daemon.state.kv(CARD).get(key) is not None)
            await tg.wait_until(lambda: any(t.startswith("[Gave up]") for t in tg.texts(CHAT)))
            await until(lambda: daemon.state.kv(CARD).get(key) is None)
    assert sum(t.startswith("[Gave up]") for t in tg.texts(CHAT)) == 1
