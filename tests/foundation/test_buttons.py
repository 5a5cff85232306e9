"""The platform-blind half of one-tap buttons (issue 17): tokens in the StateStore,
decisions, the Again/Details commands, and the console's typed commands."""

from __future__ import annotations

import math

import pytest

from openclaw_connector.buttons import BUSY_TEXT, DONE_TEXT, OTHER_CHAT_TEXT, UNKNOWN_TEXT, \
    Buttons, Granted, Refused, new_token
from openclaw_connector.commands.parser import parse
from openclaw_connector.jobs.actions import again_command, result_actions
from openclaw_connector.messages import Action, ChatRef, Sent
from openclaw_connector.openclaw.types import JobOutcome
from openclaw_connector.state import StateStore
from tests.jobs.support import job_env

CHAT = ChatRef(platform="telegram", chat_id="-100", user_id="7")
APPROVE = Action("Approve", "/approve apr_1", group="apr_1")


@pytest.fixture
def state(tmp_path):
    store = StateStore(str(tmp_path / "state"))
    store.open()
    yield store
    store.close()


class Clearing:
    """A channel stand-in that records clear_buttons calls."""

    platform = "telegram"

    def __init__(self) -> None:
        self.cleared: list[Sent] = []

    async def clear_buttons(self, sent: Sent) -> None:
        self.cleared.append(sent)


def test_tokens_are_random_128_bit_and_never_the_command(state):
    """Tokens carry ≥96 random bits, fit every platform's payload, reveal nothing."""
    buttons = Buttons(state, ttl_sec=60)
    tokens = {buttons.issue(CHAT, APPROVE) for _ in range(200)}
    assert len(tokens) == 200
    assert all(len(t) == 22 and "apr_1" not in t and "approve" not in t for t in tokens)
    assert math.log2(64) * len(new_token()) >= 128     # 22 base64url characters


def test_a_token_opens_only_in_its_chat_and_only_while_fresh(state, tmp_path):
    buttons = Buttons(state, ttl_sec=60)
    token = buttons.issue(CHAT, Action("Details", "/history p1"))
    granted = buttons.open(token, CHAT, "tap1")
    assert isinstance(granted, Granted) and granted.command == "/history p1"
    assert buttons.open(token, CHAT, "tap2") == Refused(BUSY_TEXT)    # a double tap
    buttons.close(granted)
    again = buttons.open(token, CHAT, "tap2")                        # done: usable again
    assert isinstance(again, Granted) and again.tap_id == "tap2"
    buttons.close(again)
    other = ChatRef(platform="telegram", chat_id="-200", user_id="7")
    assert buttons.open(token, other, "tap3") == Refused(OTHER_CHAT_TEXT)
    assert buttons.open(token, ChatRef("discord", "-100"), "tap4") == Refused(OTHER_CHAT_TEXT)
    assert buttons.open("forged", CHAT, "tap5") == Refused(UNKNOWN_TEXT)
    assert buttons.open("", CHAT, "tap6") == Refused(UNKNOWN_TEXT)
    short = Buttons(state, ttl_sec=-1)                   # already expired
    assert short.open(short.issue(CHAT, APPROVE), CHAT, "tap7") == Refused(UNKNOWN_TEXT)


@pytest.mark.gen_test
async def test_a_decision_group_runs_once_then_answers_done_and_clears(state):
    """While one tap of a group runs, another is told so; once decided, every token of the
    group is "already done" and the messages showing it are cleared, once."""
    channel = Clearing()
    buttons = Buttons(state, ttl_sec=60, channels={"telegram": channel})
    approve = buttons.issue(CHAT, APPROVE)
    reject = buttons.issue(CHAT, Action("Reject", "/reject apr_1", group="apr_1"))
    buttons.shown([APPROVE], Sent("telegram", "-100", "5", "5"))
    first = buttons.open(approve, CHAT, "tap1")
    assert isinstance(first, Granted)
    assert buttons.open(reject, CHAT, "tap2") == Refused(BUSY_TEXT)
    buttons.close(first)                                   # e.g. the tapper was denied
    second = buttons.open(reject, CHAT, "tap3")
    assert isinstance(second, Granted)
    await buttons.decided("apr_1")
    buttons.close(second)
    assert buttons.open(approve, CHAT, "tap4") == Refused(DONE_TEXT)
    assert channel.cleared == [Sent("telegram", "-100", "5", "5")]
    await buttons.decided("apr_1")
    assert len(channel.cleared) == 1


def test_again_keeps_the_inputs_asks_for_a_random_seed_and_parses_back():
    command = again_command("portrait", {"prompt": 'a "fox"'})
    assert command is None                                # cannot be typed: no button
    command = again_command("portrait", {"prompt": "a red fox", "steps": 30, "cfg": 6.5,
                                         "hires": False, "seed": 7})
    assert command == \
        '/run portrait prompt="a red fox" steps=30 cfg=6.5 hires=false seed=random'
    parsed = parse(command)
    assert parsed is not None and dict(parsed.params) == {
        "prompt": "a red fox", "steps": "30", "cfg": "6.5", "hires": "false",
        "seed": "random"}
    assert again_command("portrait", {"prompt": "a fox"}) == '/run portrait prompt="a fox"'


def test_results_get_again_and_details_but_lost_jobs_none():
    done = JobOutcome(prompt_id="p-1", state="success")
    assert [a.label for a in result_actions("portrait", done, {"seed": 1})] == \
        ["Again", "Details"]
    assert result_actions("portrait", done)[-1].command == "/history p-1"
    assert result_actions("portrait", JobOutcome(prompt_id="p-1", state="unknown")) == ()


@pytest.mark.gen_test(timeout=10)
async def test_console_prints_the_commands_of_the_buttons(tmp_path):
    """No buttons in a terminal: an approval request lists the commands to type."""
    async with job_env(tmp_path) as (fake, daemon):
        daemon.pipe.send("/run portrait --approval")
        await daemon.out.wait_for("[Approval Requested]")
        (aid,) = fake.model.approvals
        text = await daemon.out.wait_for("Reject: /reject %s" % aid)
    assert "Approve: /approve %s" % aid in text
