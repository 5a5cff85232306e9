"""SIGKILL while a job's live card is showing, then restart on the same state_dir: the
restarted daemon edits the same card (never a second one) and delivers one result."""

from __future__ import annotations

import pytest

from tests.e2e.world import World
from tests.harness import until

PROGRESS = {"progress.min_interval_sec": 0.05}


@pytest.mark.gen_test(timeout=60)
async def test_sigkill_mid_run_restart_edits_same_card_one_result(tmp_path):
    async with World(tmp_path, channels=("telegram",)) as w:
        tg, oc = w.telegram, w.openclaw
        await w.start_daemon(**PROGRESS)
        item = await w.send("telegram", "/run portrait")
        await until(lambda: any("[Queued]" in t for t in tg.texts(item.chat)), 10, "[Queued]")
        (queued,) = [r for r in tg.sent(item.chat) if "[Queued]" in r.params.get("text", "")]
        card = queued.response["result"]["message_id"]
        pid = oc.model.running.prompt_id

        def edits() -> list[str]:
            return [t for c, m, t in tg.edits if c == item.chat and m == card]
        await until(lambda: oc.runs.attached_to(pid), 10, "run socket")
        oc.runs.executing("3")
        oc.runs.progress(4, 30, node="3")
        await until(lambda: any("KSampler 4/30" in t for t in edits()), 10, "first edit")
        n = 0
        while not edits()[-1].endswith("· 0:01"):     # let the job's clock reach 0:01
            n += 1
            step = "KSampler %d/30" % (5 + n % 10)
            oc.runs.progress(5 + n % 10, 30, node="3")
            await until(lambda: step in edits()[-1], 10, step)
        w.daemon.kill()
        assert await w.daemon.wait_exit() == -9

        await w.start_daemon()
        await until(lambda: oc.runs.attached_to(pid), 10, "run socket after restart")
        oc.runs.progress(20, 30, node="3")
        await until(lambda: any("KSampler 20/30" in t for t in edits()), 10, "edit after restart")
        assert not edits()[-1].endswith("· 0:00")     # its clock went on across the restart
        oc.finish_job(pid, images=["e2e.png"], duration=3.0)
        await until(lambda: any(t.startswith("[Done]") for t in tg.texts(item.chat)), 10,
                    "result")
        await until(lambda: edits()[-1].startswith("[Done] portrait · 3.0 s"), 10, "[Done] card")
        assert await w.daemon.stop() == 0
    sent = [r.params.get("text", "") for r in tg.sent(item.chat) if r.key == "sendmessage"]
    assert sum(t.startswith("[Queued]") for t in sent) == 1       # one card, edited on
    assert sum(t.startswith("[Done]") for t in sent) == 1         # one result
    assert {m for c, m, _t in tg.edits if c == item.chat} == {card}
    assert w.leaked() == []
