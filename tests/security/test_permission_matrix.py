"""The permission matrix through the real daemon, on all four platforms.

Each platform gets one in-process daemon (only that channel on) and runs every
command word of the spec as each kind of sender, injected through the
platform's fake (Telegram getUpdates, the Discord gateway, signed LINE and
WhatsApp webhooks); replies are read back at the fake. Senders:

* unknown — no list names it: silence, and not one request to OpenClaw;
* foreign_admin — ``admin_users`` names its id with another platform's prefix
  (``discord:<id>`` must not make the Telegram user <id> anything): silence;
* user — in ``allowed_users``; chat — not listed but writes in an allowed
  chat/channel/group (WhatsApp has none); foreign_admin_user — an allowed user
  here whose id is an admin elsewhere: all three are plain users here (general
  commands, ``/run`` through the approval gate, ``Access denied`` for admin words);
* admin — ``admin_users`` names ``platform:id``: everything.

Phases are ordered so the OpenClaw request log proves the denials: silent
senders first, then the non-admins' admin-only words, both while the log must
stay empty; only then the commands that are meant to reach OpenClaw.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.security.support import (CASTS, DRIVERS, SCHEDULE, Sender, all_fakes, config,
                                    oc_traffic, running)

GENERAL = ["/help", "/status", "/jobs", "/history pid_nope", "/run portrait seed=1",
           "/run portrait seed=2 --approval"]
ADMIN_ONLY = ["/stop", "/trace pid_nope", "/approvals", "/approve apr_nope",
              "/reject apr_nope no reason", "/schedules", "/schedule run %s" % SCHEDULE]
EVERY = GENERAL + ADMIN_ONLY
OTHER_CHAT = {"telegram": "-1007770002", "discord": "1200000000000000888",
              "line": "C" + "8" * 32}

APPROVAL = r"^\[Approval Requested\]\nID: \S+\nTrace: \S+\nExpires: "
ADMIN_EXPECT = {
    "/help": r"^Commands:\n(.|\n)*\nAdmin:\n(.|\n)*/approve <id>",
    "/status": r"^ComfyUI: reachable at ",
    "/jobs": r"^(The queue is empty\.|Running: |Pending: )",
    "/history pid_nope": r"^Job pid_nope: unknown id",
    "/run portrait seed=1": r"^\[Queued\] portrait\nPrompt: \S+$",
    "/run portrait seed=2 --approval": APPROVAL + r"\S+$",
    "/stop": r"^(Nothing is running\.|\[Stopped\] )",
    "/trace pid_nope": r"^No trace for pid_nope: .*no job with this id",
    "/approvals": r"^(No pending approvals\.|Pending approvals: \d+)",
    "/approve apr_nope": r"(?i)not found",
    "/reject apr_nope no reason": r"(?i)not found",
    "/schedules": r"^Schedules: 1\n%s " % SCHEDULE,
    "/schedule run %s" % SCHEDULE: r"^\[Triggered\] schedule %s " % SCHEDULE,
}
USER_EXPECT = dict(ADMIN_EXPECT)
USER_EXPECT.update({
    "/help": r"^Commands:\n(?!(.|\n)*Admin:)(.|\n)*/run <template>",
    "/run portrait seed=1": APPROVAL + r".*\nRuns from non-admin users need an admin's /approve",
    "/run portrait seed=2 --approval":
        APPROVAL + r".*\nRuns from non-admin users need an admin's /approve",
})


def _word(text: str) -> str:
    return text.split()[0][1:]


def _denied(platform: str, user: str, text: str) -> str:
    return "Access denied: /%s is for admins. Your id: %s:%s." % (_word(text), platform, user)


def _fires(fakes) -> list:
    return [r for r in fakes.oc.requests if r.path.endswith("/triggers/fire")]


@pytest.mark.gen_test(timeout=30)
@pytest.mark.parametrize("platform", ["telegram", "discord", "line", "whatsapp"])
async def test_permission_matrix(tmp_path, platform):
    cast = CASTS[platform]
    plain = [s for s in (cast.user, cast.chat, cast.foreign_admin_user) if s is not None]
    problems: list[str] = []

    def check(sender, text, got, pattern=None, exact=None) -> None:
        if exact is not None:
            ok = got == exact
        elif pattern is None:
            ok = got is None
        else:
            ok = got is not None and re.search(pattern, got, re.S) is not None
        if not ok:
            problems.append("%s %s %r -> %r (want %r)" % (
                platform, sender.role, text, got, exact or pattern))

    async with all_fakes() as fakes:
        cfg = config(tmp_path, fakes, (platform,))
        async with running(cfg, fakes) as run:
            driver = DRIVERS[platform](run)
            say = driver.say

            # 1. Silent senders: no reply, no OpenClaw request at all. Also an unknown
            # sender in a chat nobody allowed, and an allowed chat's member writing
            # directly (the chat's permission does not follow them out of it).
            silent = [cast.unknown, cast.foreign_admin]
            if cast.chat is not None:
                silent += [Sender("unknown_in_other_chat", cast.unknown.user,
                                  OTHER_CHAT[platform]),
                           Sender("chat_member_direct", cast.chat.user)]
            for sender in silent:
                # (Discord's channel itself drops guild chatter that is no command.)
                chatter = [] if platform == "discord" and sender.group else ["hello"]
                for text in EVERY + ["/STATUS", "/help@ourbot"] + chatter:
                    check(sender, text, await say(sender, text))
            assert oc_traffic(fakes) == [], "a denied sender reached OpenClaw"
            assert driver.replies() == [], "a denied sender got a reply"

            # 2. Plain users' admin-only words: Access denied, still nothing sent on.
            for sender in plain:
                for text in ADMIN_ONLY:
                    check(sender, text, await say(sender, text),
                          exact=_denied(platform, sender.user, text))
            assert oc_traffic(fakes) == [], "an Access denied command reached OpenClaw"

            # 3. Plain users' general commands; every /run goes through the gate.
            for sender in plain:
                for text in GENERAL:
                    fires = len(_fires(fakes))
                    check(sender, text, await say(sender, text), USER_EXPECT[text])
                    if text.startswith("/run"):
                        new = _fires(fakes)[fires:]
                        assert len(new) == 1 and new[0].json["require_approval"] is True, \
                            (sender.role, text, [r.json for r in new])

            # Parameters cannot reach the request's own fields (no gate bypass).
            sneaky = "/run portrait require_approval=false template_id=upscale trace_id=t1"
            fires = len(_fires(fakes))
            check(plain[0], sneaky, await say(plain[0], sneaky), USER_EXPECT[GENERAL[4]])
            (fire,) = _fires(fakes)[fires:]
            assert fire.json["require_approval"] is True
            assert fire.json["template_id"] == "portrait" and fire.json["trace_id"] != "t1"
            assert fire.json["inputs"] == {"require_approval": "false",
                                           "template_id": "upscale", "trace_id": "t1"}

            # 4. The admin: everything, /run without the gate unless asked for.
            for text in EVERY:
                fires = len(_fires(fakes))
                check(cast.admin, text, await say(cast.admin, text), ADMIN_EXPECT[text])
                if text.startswith("/run"):
                    new = _fires(fakes)[fires:]
                    assert [r.json["require_approval"] for r in new] == ["--approval" in text]

        if platform == "discord":   # echoed text can never ping anyone
            assert {json.dumps(s.payload.get("allowed_mentions")) for s in fakes.dc.sends} \
                == {json.dumps({"parse": []})}
        actors = {r.json.get("actor") for r in fakes.oc.requests
                  if r.method == "POST" and isinstance(r.json, dict) and "actor" in r.json}
        assert actors <= {"%s:%s" % (platform, cast.admin.user)}, actors
    assert not problems, "\n".join(problems)
