"""A bare ``admin_users`` id is an admin only where it belongs (issue 20, issue 13).

Through the real daemon and the platform fakes: a WhatsApp number written
bare (and named by the WhatsApp allowlist) must not make the Telegram user
with the same number an admin; a bare id that several enabled platforms
could own is reported at start with the prefixed forms; a Telegram-only
setup keeps its bare admin id working.
"""

from __future__ import annotations

import time

import pytest

from openclaw_connector.commands.permissions import Permissions
from openclaw_connector.config import Allowlist
from openclaw_connector.messages import ChatRef, Inbound
from tests.security.support import (CASTS, DRIVERS, Sender, all_fakes, config, log_waiter,
                                    running)

NUMBER = "15550000042"                       # a WhatsApp wa_id; also a valid Telegram id
TG_GROUP = CASTS["telegram"].allowed_chats[0]


@pytest.mark.gen_test(timeout=30)
async def test_telegram_user_with_a_bare_whatsapp_admin_number_is_not_admin(tmp_path):
    """The WhatsApp allowlist names the bare id: admin on WhatsApp, a plain member on Telegram."""
    async with all_fakes() as fakes:
        cfg = config(tmp_path, fakes, platforms=("telegram", "whatsapp"),
                     admin_users=[NUMBER],
                     whatsapp__allowed_users=list(CASTS["whatsapp"].allowed_users) + [NUMBER])
        with log_waiter() as logs:
            async with running(cfg, fakes) as run:
                warning = await logs.wait_for("event=admin_id_ambiguous id=%s" % NUMBER)
                telegram, whatsapp = DRIVERS["telegram"](run), DRIVERS["whatsapp"](run)
                in_group = await telegram.say(Sender("member", NUMBER, TG_GROUP), "/approvals")
                direct = await telegram.say(Sender("stranger", NUMBER), "/approvals")
                on_whatsapp = await whatsapp.say(Sender("admin", NUMBER), "/approvals")
    assert in_group == ("Access denied: /approvals is for admins. Your id: telegram:%s."
                        % NUMBER)
    assert direct is None                    # not allowed on Telegram at all
    assert on_whatsapp == "No pending approvals."
    assert "admin_on=whatsapp" in warning and "whatsapp:%s" % NUMBER in warning


@pytest.mark.gen_test(timeout=30)
async def test_bare_id_no_allowlist_names_is_admin_nowhere_when_two_platforms_fit(tmp_path):
    """Digits that could be a Telegram or a WhatsApp id, listed nowhere: denied on both,
    and the start-up line says which prefixed forms to write."""
    async with all_fakes() as fakes:
        cfg = config(tmp_path, fakes, platforms=("telegram", "whatsapp"), admin_users=[NUMBER])
        with log_waiter() as logs:
            async with running(cfg, fakes) as run:
                warning = await logs.wait_for("event=admin_id_ambiguous id=%s" % NUMBER)
                in_group = await DRIVERS["telegram"](run).say(
                    Sender("member", NUMBER, TG_GROUP), "/approvals")
                on_whatsapp = await DRIVERS["whatsapp"](run).say(Sender("x", NUMBER),
                                                                  "/approvals")
    assert in_group.startswith("Access denied: /approvals is for admins.")
    assert on_whatsapp is None
    assert "admin_on=none" in warning
    assert 'hint="write telegram:%s or whatsapp:%s in admin_users"' % (NUMBER, NUMBER) in warning


@pytest.mark.gen_test(timeout=30)
async def test_bare_admin_id_still_works_when_one_platform_is_enabled(tmp_path):
    """Telegram alone: a bare id can only be a Telegram user, so it is that admin."""
    async with all_fakes() as fakes:
        cfg = config(tmp_path, fakes, platforms=("telegram",), admin_users=["5009"])
        with log_waiter() as logs:
            async with running(cfg, fakes) as run:
                reply = await DRIVERS["telegram"](run).say(Sender("admin", "5009"),
                                                           "/approvals")
    assert reply == "No pending approvals."
    assert not [m for m in logs.messages if "admin_id_ambiguous" in m]


def _inbound(platform: str, user: str, *, local: bool = False) -> Inbound:
    return Inbound(platform=platform, user_id=user, chat_id=user, text="/status",
                   chat=ChatRef(platform, user, user), local_operator=local)


def test_is_admin_costs_the_same_with_four_thousand_admin_ids():
    """The id sets are built once: 20,000 decisions over 4,000 admins take well under a
    second (building them per call took ~600 µs each, i.e. ~12 s)."""
    admins = ["telegram:%d" % (10_000 + i) for i in range(4000)]
    perms = Permissions({"telegram": Allowlist(user_id_form=r"\d{1,20}")}, admins,
                        enabled=["telegram"])
    admin, stranger = _inbound("telegram", "13999"), _inbound("telegram", "99")
    started = time.perf_counter()
    for _ in range(10_000):
        assert perms.is_admin(admin) and not perms.is_admin(stranger)
    assert time.perf_counter() - started < 1.0


def test_the_local_operator_is_an_admin_whatever_the_platform_name():
    """The console is marked by the Inbound flag, not by the word "console"."""
    perms = Permissions({"telegram": Allowlist()}, [])
    assert perms.is_admin(_inbound("console", "console", local=True))
    assert not perms.is_admin(_inbound("console", "console"))
    assert perms.is_allowed(_inbound("telegram", "1", local=True))
