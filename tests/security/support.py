"""Shared pieces of the security tests: every fake at once, one in-process daemon
with any set of the four channels, and a per-platform *driver* that injects a
message as a given sender through that platform's fake (or signed webhook) and
returns the reply the fake received (or None for silence).

How silence is observed without sleeping: the daemon's router is wrapped by
:class:`RouterTap` (an observer; it calls the real ``handle``). The dispatcher
sends a reply only when ``handle`` returned one, so "the router returned None
for this message" plus "the fake recorded no send" is silence, and a reply is
awaited at the fake itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, AsyncIterator, Optional

from tornado.httpclient import AsyncHTTPClient, HTTPRequest, HTTPResponse

from openclaw_connector import config as configmod
from openclaw_connector.messages import Inbound, Reply
from tests.fakes import discord as fdc
from tests.fakes import line as fline
from tests.fakes import telegram as ftg
from tests.fakes import whatsapp as fwa
from tests.fakes.openclaw import FakeOpenClaw
from tests.harness import (LogWaiter, discord_values, dotted, free_port,  # noqa: F401 (re-exported)
                           log_waiter, make_config, running_daemon, telegram_values,
                           webhook_url)

# Every secret the daemon can hold; each is distinctive so a grep cannot miss it.
ADMIN_TOKEN = "sec-admin-token-Q7v2Lr9Xw1"
TG_TOKEN = ftg.TOKEN
DC_TOKEN = fdc.TOKEN
LINE_SECRET = "sec-line-channel-secret-Zk4P0"
LINE_TOKEN = "sec-line-access-token-Hm3Yq8"
WA_TOKEN = "sec-wa-access-token-Bn6Tc2"
WA_VERIFY = "sec-wa-verify-token-Jd5Fs1"
WA_SECRET = "sec-wa-app-secret-Rx8Ge7"
SECRETS = {"openclaw.admin_token": ADMIN_TOKEN, "telegram.token": TG_TOKEN,
           "discord.token": DC_TOKEN, "line.channel_secret": LINE_SECRET,
           "line.channel_access_token": LINE_TOKEN, "whatsapp.access_token": WA_TOKEN,
           "whatsapp.verify_token": WA_VERIFY, "whatsapp.app_secret": WA_SECRET}
PUBLIC = "https://bot.example.test"
SCHEDULE = "sched_1"


# --------------------------------------------------------------------------- senders

@dataclass(frozen=True)
class Sender:
    """Who writes, and where: ``chat`` None = the sender's direct chat."""

    role: str
    user: str
    chat: Optional[str] = None

    @property
    def group(self) -> bool:
        return self.chat is not None


@dataclass(frozen=True)
class Cast:
    """The senders of one platform plus the config entries that make them what they are."""

    platform: str
    unknown: Sender
    foreign_admin: Sender       # admin_users names this id with ANOTHER platform's prefix
    user: Sender                # in allowed_users
    chat: Sender                # not listed, but writes in an allowed chat/channel/group
    admin: Sender               # admin_users names platform:id
    foreign_admin_user: Sender  # allowed user here, admin elsewhere: a plain user here
    allowed_users: tuple
    allowed_chats: tuple
    admin_users: tuple

    def roles(self) -> list[Sender]:
        out = [self.unknown, self.foreign_admin, self.user, self.admin,
               self.foreign_admin_user]
        return out + ([self.chat] if self.chat is not None else [])


def _cast(platform: str, other: str, ids: list[str], group: Optional[str]) -> Cast:
    unknown, foreign, user, member, admin, foreign_user = ids
    return Cast(
        platform,
        unknown=Sender("unknown", unknown),
        foreign_admin=Sender("foreign_admin", foreign),
        user=Sender("user", user),
        chat=Sender("chat", member, group) if group else None,
        admin=Sender("admin", admin),
        foreign_admin_user=Sender("foreign_admin_user", foreign_user),
        allowed_users=(user, foreign_user),
        allowed_chats=(group,) if group else (),
        admin_users=("%s:%s" % (platform, admin), "%s:%s" % (other, foreign),
                     "%s:%s" % (other, foreign_user)))


CASTS = {
    "telegram": _cast("telegram", "discord",
                      ["5004", "5005", "5002", "5003", "5001", "5006"], "-1007770001"),
    "discord": _cast("discord", "telegram",
                     ["2000000000000000004", "2000000000000000005", "2000000000000000002",
                      "2000000000000000003", "2000000000000000001", "2000000000000000006"],
                     "1200000000000000777"),
    "line": _cast("line", "whatsapp", ["U" + c * 32 for c in "456213"],
                  "C" + "7" * 32),
    "whatsapp": _cast("whatsapp", "telegram",
                      ["15550000004", "15550000005", "15550000002", "15550000003",
                       "15550000001", "15550000006"], None),
}
CHAT_KEYS = {"telegram": "allowed_chats", "discord": "allowed_channels",
             "line": "allowed_groups"}


# --------------------------------------------------------------------------- the tap

class RouterTap:
    """Records every ``(inbound, reply)`` the daemon's router produced."""

    def __init__(self, router: Any) -> None:
        self.records: list[tuple[Inbound, Optional[Reply]]] = []
        self._changed = asyncio.Event()
        real = router.handle

        async def handle(inbound: Inbound) -> Optional[Reply]:
            reply = await real(inbound)
            self.records.append((inbound, reply))
            self._changed.set()
            return reply

        router.handle = handle

    async def wait(self, count: int, timeout: float = 5.0) -> None:
        async def _wait() -> None:
            while len(self.records) < count:
                self._changed.clear()
                await self._changed.wait()
        await asyncio.wait_for(_wait(), timeout)


# --------------------------------------------------------------------------- log waits

# --------------------------------------------------------------------------- the fakes

@dataclass
class Fakes:
    oc: FakeOpenClaw
    tg: ftg.FakeTelegram
    dc: fdc.FakeDiscord
    line: fline.FakeLine
    wa: fwa.FakeWhatsApp


@contextlib.asynccontextmanager
async def all_fakes(**openclaw: Any) -> AsyncIterator[Fakes]:
    """Every fake, started; ``openclaw`` goes to FakeOpenClaw (e.g. ``templates={}``)."""
    dc = fdc.FakeDiscord(heartbeat_interval_ms=200).start()
    try:
        async with FakeOpenClaw(admin_token=ADMIN_TOKEN, retry_after=0, **openclaw) as oc, \
                ftg.FakeTelegram() as tg, \
                fline.FakeLine(access_token=LINE_TOKEN) as fl, \
                fwa.FakeWhatsApp(access_token=WA_TOKEN) as fw:
            oc.add_schedule(SCHEDULE)
            yield Fakes(oc, tg, dc, fl, fw)
    finally:
        dc.stop()


def config(tmp_path: Any, fakes: Fakes, platforms: tuple = ("telegram", "discord", "line",
                                                              "whatsapp"),
           **overrides: Any):
    """All secrets of the enabled platforms, each platform's cast, fakes as base URLs."""
    values: dict = {"openclaw.url": fakes.oc.url, "openclaw.admin_token": ADMIN_TOKEN,
                    "openclaw.timeout_sec": 5, "openclaw.submit_backoff_sec": 0.001,
                    "openclaw.submit_retry_sec": 2, "media.public_base_url": PUBLIC,
                    "rate_limit.burst": 10000, "rate_limit.per_minute": 10000,
                    "results.approval_poll_sec": 60, "results.poll_min_sec": 5,
                    "results.poll_max_sec": 60}
    admins: list = []
    for name in platforms:
        cast = CASTS[name]
        admins += list(cast.admin_users)
        values["%s.allowed_users" % name] = list(cast.allowed_users)
        if name in CHAT_KEYS:
            values["%s.%s" % (name, CHAT_KEYS[name])] = list(cast.allowed_chats)
    values["admin_users"] = admins
    if "telegram" in platforms:
        values.update(telegram_values(fakes.tg, TG_TOKEN))
    if "discord" in platforms:
        values.update(discord_values(fakes.dc, DC_TOKEN))
    if "line" in platforms:
        values.update({"line.channel_secret": LINE_SECRET,
                       "line.channel_access_token": LINE_TOKEN,
                       "line.api_base": fakes.line.url})
    if "whatsapp" in platforms:
        values.update({"whatsapp.access_token": WA_TOKEN, "whatsapp.verify_token": WA_VERIFY,
                       "whatsapp.app_secret": WA_SECRET,
                       "whatsapp.phone_number_id": fakes.wa.phone_number_id,
                       "whatsapp.api_base": fakes.wa.api_base})
    values.update(dotted(**overrides))
    cfg = make_config(str(tmp_path / "state"), **values)
    # Port 0 is not a valid configured port; set it after validation (one shared server).
    return configmod.with_overrides(cfg, line={"port": 0}, whatsapp={"port": 0})


@dataclass
class Running:
    daemon: Any
    fakes: Fakes
    tap: RouterTap

    def webhook_url(self, platform: str, suffix: str = "") -> str:
        return webhook_url(self.daemon, platform, suffix)


@contextlib.asynccontextmanager
async def running(cfg: Any, fakes: Fakes) -> AsyncIterator[Running]:
    async with running_daemon(cfg) as daemon:
        tap = RouterTap(daemon.router)
        if "discord" in daemon.channels:
            dc = fakes.dc
            await dc.wait_for(lambda: dc.live is not None and dc.session is not None and
                              dc.live.session is dc.session, what="READY")
        yield Running(daemon, fakes, tap)


def oc_traffic(fakes: Fakes) -> list:
    """OpenClaw/ComfyUI requests other than the JobWatcher's websocket."""
    return [r for r in fakes.oc.requests if not r.path.startswith(("/ws", "/api/ws"))]


# --------------------------------------------------------------------------- HTTP helpers

async def http(url: str, *, method: str = "GET", body: Optional[bytes] = None,
               headers: Optional[dict] = None, client: Optional[AsyncHTTPClient] = None,
               **kw: Any) -> HTTPResponse:
    own = client is None
    client = client or AsyncHTTPClient(force_instance=True)
    try:
        return await client.fetch(HTTPRequest(
            url, method=method, body=body, headers=headers or {}, connect_timeout=5,
            request_timeout=5, allow_nonstandard_methods=True, **kw), raise_error=False)
    finally:
        if own:
            client.close()


# --------------------------------------------------------------------------- drivers

class Driver:
    """Say something as a sender on one platform; get the reply text or None."""

    platform = ""

    def __init__(self, run: Running) -> None:
        self.run = run
        self.fakes = run.fakes

    async def inject(self, sender: Sender, text: str) -> None:
        raise NotImplementedError

    def replies(self) -> list[str]:
        """Every reply text the fake has accepted so far, in order."""
        raise NotImplementedError

    async def say(self, sender: Sender, text: str, timeout: float = 5.0) -> Optional[str]:
        before_handled = len(self.run.tap.records)
        before_sent = len(self.replies())
        await self.inject(sender, text)
        await self.run.tap.wait(before_handled + 1, timeout)
        _inbound, reply = self.run.tap.records[before_handled]
        if reply is None:
            return None
        # The JobWatcher may deliver other messages meanwhile: find this reply's text.
        head = reply.text[:100]

        def found() -> bool:
            return any(r[:100] == head for r in self.replies()[before_sent:])
        await self.wait_replies(found, timeout)
        return next(r for r in self.replies()[before_sent:] if r[:100] == head)

    async def wait_replies(self, predicate, timeout: float) -> None:
        raise NotImplementedError


class TelegramDriver(Driver):
    platform = "telegram"

    async def inject(self, sender: Sender, text: str) -> None:
        self.fakes.tg.queue_message(
            text, user_id=int(sender.user),
            chat_id=int(sender.chat) if sender.group else None,
            chat_type="supergroup" if sender.group else "private")

    def replies(self) -> list[str]:
        return self.fakes.tg.texts()

    async def wait_replies(self, predicate, timeout: float) -> None:
        await self.fakes.tg.wait_until(predicate, timeout)


class DiscordDriver(Driver):
    platform = "discord"

    async def inject(self, sender: Sender, text: str) -> None:
        if sender.group:
            self.fakes.dc.message_create(text, author_id=sender.user, channel_id=sender.chat,
                                         guild_id=fdc.GUILD_ID)
        else:   # a DM channel of its own per user
            self.fakes.dc.message_create(text, author_id=sender.user,
                                         channel_id="13" + sender.user[2:])

    def replies(self) -> list[str]:
        return [s.content for s in self.fakes.dc.sends if s.status == 200]

    async def wait_replies(self, predicate, timeout: float) -> None:
        await self.fakes.dc.wait_for(predicate, timeout, "reply")


class LineDriver(Driver):
    platform = "line"

    async def inject(self, sender: Sender, text: str) -> None:
        fl = self.fakes.line
        token = fl.issue_reply_token(to=sender.chat or sender.user)
        event = fline.text_event(text, user_id=sender.user, group_id=sender.chat or "",
                                 reply_token=token)
        body = fline.body_of(event)
        resp = await http(self.run.webhook_url("line"), method="POST", body=body,
                          headers={"Content-Type": "application/json",
                                   "X-Line-Signature": fline.sign(body, LINE_SECRET)})
        assert resp.code == 200, resp.code

    def replies(self) -> list[str]:
        return ["\n".join(m["text"] for m in d["messages"] if m["type"] == "text")
                for d in self.fakes.line.delivered]

    async def wait_replies(self, predicate, timeout: float) -> None:
        await self.fakes.line.wait_until(predicate, timeout=timeout, what="reply")


class WhatsAppDriver(Driver):
    platform = "whatsapp"

    async def inject(self, sender: Sender, text: str) -> None:
        body = fwa.body_of(fwa.notification(
            messages=(fwa.text_message(sender.user, text),),
            phone_number_id=self.fakes.wa.phone_number_id))
        resp = await http(self.run.webhook_url("whatsapp"), method="POST", body=body,
                          headers={"Content-Type": "application/json",
                                   "X-Hub-Signature-256": fwa.sign(body, WA_SECRET)})
        assert resp.code == 200, resp.code

    def replies(self) -> list[str]:
        return self.fakes.wa.texts()

    async def wait_replies(self, predicate, timeout: float) -> None:
        await self.fakes.wa.wait_until(predicate, timeout=timeout, what="reply")


DRIVERS = {"telegram": TelegramDriver, "discord": DiscordDriver, "line": LineDriver,
           "whatsapp": WhatsAppDriver}
