"""The e2e harness: every fake in this process, the REAL daemon in a subprocess.

``World`` starts FakeOpenClaw (ComfyUI + OpenClaw), FakeTelegram, FakeDiscord,
FakeLine and FakeWhatsApp on 127.0.0.1 ephemeral ports, writes one YAML config
that turns on all four channels (plus the status server) against them with
fast retry settings, and runs ``python -m openclaw_connector -c <yaml>`` as a
child process. It drives chat traffic the way each platform would (Telegram
update queue, Discord MESSAGE_CREATE on the live gateway session, signed LINE
and WhatsApp webhook POSTs redelivered until they get a 2xx) and reads back
what reached each platform (:meth:`World.texts`). The daemon's stderr is kept
line by line so tests wait on log lines (never sleep) and grep it for secrets.

Faults are injected through the fakes' own controls (tests/fakes/README.md);
process faults through ``tests/e2e/process.py`` (:class:`DaemonProc`: SIGKILL,
SIGTERM, restart on the same state_dir).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import yaml
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse
from tornado.iostream import StreamClosedError

from tests.e2e.process import DaemonProc, free_port
from tests.harness import (discord_values, dotted, nested, openclaw_values, telegram_values,
                           tick, until)
from tests.fakes import line as line_fake
from tests.fakes import whatsapp as wa_fake
from tests.fakes.discord import FakeDiscord
from tests.fakes.line import FakeLine
from tests.fakes.openclaw import FakeOpenClaw
from tests.fakes.telegram import FakeTelegram
from tests.fakes.whatsapp import FakeWhatsApp

ADMIN_TOKEN = "e2e-admin-token-0123456789abcdef"
LINE_SECRET = "e2e-line-channel-secret-0123456789"
LINE_ACCESS = "e2e-line-access-token-0123456789abcdef"
WA_ACCESS = "e2e-wa-access-token-0123456789abcdef"
WA_SECRET = "e2e-wa-app-secret-0123456789abcdef"
WA_VERIFY = "e2e-wa-verify-token-0123456789"
PUBLIC_BASE = "https://media.example.invalid"

TG_USER = 4242
DC_USER = "1000000000000000004"         # FakeDiscord's default author
DC_GUILD = "3000000000000000001"
LINE_USER = "U" + "e2" * 16
WA_USER = "15550004242"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
PLATFORMS = ("telegram", "discord", "line", "whatsapp")


# --------------------------------------------------------------------------- the world

@dataclass
class Sent:
    """One chat message the harness delivered to the daemon (through a platform)."""

    platform: str
    chat: str               # where its replies land (our correlation key)
    text: str
    msg_id: str = ""
    at: float = field(default_factory=time.monotonic)
    acked: bool = False     # webhook answered 2xx / emitted on a live gateway session


class World:
    """All fakes + config + daemon runs for one test (``async with World(tmp) as w``)."""

    def __init__(self, tmp_path: Any, *, channels: tuple = PLATFORMS,
                 discord_heartbeat_ms: float = 500) -> None:
        self.tmp = str(tmp_path)
        self.state_dir = os.path.join(self.tmp, "state")
        self.config_path = os.path.join(self.tmp, "connector.yaml")
        self.channels = channels
        self.openclaw = FakeOpenClaw(admin_token=ADMIN_TOKEN)
        self.telegram = FakeTelegram()
        self.discord = FakeDiscord(heartbeat_interval_ms=discord_heartbeat_ms)
        self.line = FakeLine(access_token=LINE_ACCESS)
        self.whatsapp = FakeWhatsApp(access_token=WA_ACCESS)
        self.webhook_port = free_port()
        self.status_port = free_port()
        self.runs: list[DaemonProc] = []
        self.http = AsyncHTTPClient(force_instance=True)
        self.sent: list[Sent] = []
        self._n = 0
        self._worker: Optional[asyncio.Task] = None
        self._job_changed = asyncio.Event()
        self.auto_finish = False
        self.dump_logs = True

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> "World":
        await self.openclaw.start()
        await self.telegram.start()
        self.discord.start()
        await self.line.start()
        await self.whatsapp.start()
        self.openclaw.register_view("e2e.png", PNG)
        inner = self.openclaw.model.on_change

        def _changed() -> None:
            inner()
            self._job_changed.set()
        self.openclaw.model.on_change = _changed
        return self

    async def __aexit__(self, *exc: Any) -> None:
        for index, run in enumerate(self.runs if self.dump_logs else ()):
            # pytest shows this output only for a failing test.
            print("---- daemon run %d (pid %d, exit %s), last 60 lines:\n%s" % (
                index + 1, run.pid, run.returncode, "\n".join(run.lines[-60:])))
        for run in self.runs:
            if run.returncode is None:
                run.kill()
                try:
                    await run.wait_exit(5)
                except Exception:
                    pass
        if self._worker is not None:
            self._worker.cancel()
        self.http.close()
        await self.whatsapp.stop()
        await self.line.stop()
        self.discord.stop()
        await self.telegram.stop()
        await self.openclaw.stop()

    def config(self, **overrides: Any) -> dict:
        """The YAML config as a dict; ``overrides`` are dotted keys (``retry.max_sec``)."""
        values: dict = {
            "state_dir": self.state_dir,
            "shutdown_grace_sec": 5,
            "admin_users": ["telegram:%d" % TG_USER, "discord:%s" % DC_USER,
                            "line:%s" % LINE_USER, "whatsapp:%s" % WA_USER],
            "log.level": "info",
            "retry.initial_sec": 0.02, "retry.max_sec": 0.2,
            "rate_limit.per_minute": 100000, "rate_limit.burst": 100000,
            **openclaw_values(self.openclaw, ADMIN_TOKEN, timeout_sec=2),
            "openclaw.submit_retry_sec": 2,
            "results.poll_min_sec": 0.05, "results.poll_max_sec": 0.3,
            "results.approval_poll_sec": 0.1,
            "media.public_base_url": PUBLIC_BASE,
            "status.port": self.status_port,
        }
        if "telegram" in self.channels:
            values.update(telegram_values(self.telegram))
        if "discord" in self.channels:
            values.update(discord_values(self.discord, invalid_session_wait_sec=0.2))
        if "line" in self.channels:
            values.update({"line.channel_secret": LINE_SECRET,
                           "line.channel_access_token": LINE_ACCESS,
                           "line.api_base": self.line.url, "line.port": self.webhook_port})
        if "whatsapp" in self.channels:
            values.update({"whatsapp.access_token": WA_ACCESS,
                           "whatsapp.verify_token": WA_VERIFY,
                           "whatsapp.app_secret": WA_SECRET,
                           "whatsapp.phone_number_id": self.whatsapp.phone_number_id,
                           "whatsapp.api_base": self.whatsapp.api_base,
                           "whatsapp.port": self.webhook_port})
        values.update(dotted(**overrides))
        return nested(values)

    def write_config(self, **overrides: Any) -> str:
        with open(self.config_path, "w") as fh:
            yaml.safe_dump(self.config(**overrides), fh)
        os.chmod(self.config_path, 0o600)
        return self.config_path

    async def start_daemon(self, *, ready: bool = True,
                           preexec_fn: Optional[Callable[[], None]] = None,
                           **overrides: Any) -> DaemonProc:
        """Write the config (first run, or when overrides are given) and start a run."""
        if overrides or not os.path.exists(self.config_path):
            self.write_config(**overrides)
        run = await DaemonProc.spawn(self.config_path, preexec_fn=preexec_fn)
        self.runs.append(run)
        if ready:
            await run.ready()
            if "discord" in self.channels:
                await self.discord_live()
        return run

    @property
    def daemon(self) -> DaemonProc:
        return self.runs[-1]

    def secrets(self) -> list[str]:
        return [ADMIN_TOKEN, LINE_SECRET, LINE_ACCESS, WA_ACCESS, WA_SECRET, WA_VERIFY,
                self.telegram.token, self.discord.token]

    def leaked(self) -> list[str]:
        """Secrets that appear in any run's log (must be empty)."""
        text = "\n".join(run.text for run in self.runs)
        return [s[:6] + "..." for s in self.secrets() if s in text]

    # ------------------------------------------------------------------ ComfyUI worker
    def start_worker(self) -> None:
        """Finish every queued ComfyUI job (one image) as soon as it runs."""
        self.auto_finish = True
        if self._worker is None:
            self._worker = asyncio.ensure_future(self._work())

    async def _work(self) -> None:
        model = self.openclaw.model
        while True:
            self._job_changed.clear()
            if self.auto_finish and model.running is not None:
                self.openclaw.finish_job(None, images=["e2e.png"], duration=0.5)
                continue
            await self._job_changed.wait()

    # ------------------------------------------------------------------ traffic in
    def _next(self) -> int:
        self._n += 1
        return self._n

    def chat_for(self, platform: str, n: int) -> str:
        return {"telegram": str(-100000 - n), "discord": str(4000000000000000000 + n),
                "line": "C%032x" % n, "whatsapp": WA_USER}[platform]

    def discord_is_live(self) -> bool:
        live = self.discord.live
        return live is not None and self.discord.session is not None and \
            live.session is self.discord.session and not live.zombie and \
            not getattr(live, "server_closed", False) and live.ws_connection is not None

    async def discord_live(self, timeout: float = 10.0) -> None:
        await until(self.discord_is_live, timeout, "a live Discord gateway session")

    async def send(self, platform: str, text: str, *, n: Optional[int] = None,
                   redeliver_until: float = 30.0) -> Sent:
        """One user message on ``platform``, in its own chat; returns the ledger entry."""
        n = self._next() if n is None else n
        chat = self.chat_for(platform, n)
        item = Sent(platform, chat, text)
        self.sent.append(item)
        if platform == "telegram":
            item.msg_id = str(self.telegram.queue_message(
                text, user_id=TG_USER, chat_id=int(chat), chat_type="group"))
            item.acked = True
        elif platform == "discord":
            await self.discord_live()
            d = self.discord.message_create(text, author_id=DC_USER, channel_id=chat,
                                            guild_id=DC_GUILD)
            item.msg_id, item.acked = d["id"], True
        elif platform == "line":
            token = self.line.issue_reply_token(to=chat)
            event = line_fake.text_event(text, user_id=LINE_USER, group_id=chat,
                                         reply_token=token)
            item.msg_id = event["webhookEventId"]
            await self._post_until_ok(item, "line", event, redeliver_until)
        else:
            message = wa_fake.text_message(WA_USER, text)
            item.msg_id = item.chat = message["id"]
            await self._post_until_ok(item, "whatsapp", message, redeliver_until)
        return item

    async def post_webhook(self, platform: str, body: bytes, *, signed: bool = True,
                           headers: Optional[dict] = None, timeout: float = 5.0):
        """POST ``body`` to the daemon's LINE or WhatsApp webhook; the response (599 on refusal)."""
        path = "/line/webhook" if platform == "line" else "/whatsapp/webhook"
        hdrs = {"Content-Type": "application/json"}
        if signed and platform == "line":
            hdrs["X-Line-Signature"] = line_fake.sign(body, LINE_SECRET)
        elif signed:
            hdrs["X-Hub-Signature-256"] = wa_fake.sign(body, WA_SECRET)
        hdrs.update(headers or {})
        request = HTTPRequest("http://127.0.0.1:%d%s" % (self.webhook_port, path),
                              method="POST", body=body, headers=hdrs,
                              connect_timeout=timeout, request_timeout=timeout)
        try:
            return await self.http.fetch(request, raise_error=False)
        except (OSError, StreamClosedError, HTTPClientError) as exc:   # daemon down
            return HTTPResponse(request, 599, error=exc)

    async def _post_until_ok(self, item: Sent, platform: str, obj: dict,
                             redeliver_until: float) -> None:
        """Deliver like LINE/Meta: anything but 2xx is redelivered (same event id)."""
        deadline = time.monotonic() + redeliver_until
        attempt = 0
        while True:
            if platform == "line":
                if attempt:
                    obj["deliveryContext"] = {"isRedelivery": True}
                body = line_fake.body_of(obj)
            else:
                body = wa_fake.body_of(wa_fake.notification(messages=(obj,)))
            resp = await self.post_webhook(platform, body)
            attempt += 1
            if 200 <= resp.code < 300:
                item.acked = True
                return
            if time.monotonic() > deadline:
                raise AssertionError("%s webhook never accepted (last %s)" % (platform,
                                                                           resp.code))
            await tick(0.05)

    # ------------------------------------------------------------------ traffic out
    def texts(self, platform: str, chat: str) -> list[str]:
        """Every text message that reached ``chat`` on ``platform``, in order."""
        if platform == "telegram":
            out = []
            for r in self.telegram.sent(chat):
                text = r.params.get("text") or r.params.get("caption")
                if text:
                    out.append(str(text))
            return out
        if platform == "discord":
            return [s.content for s in self.discord.sends
                    if s.channel_id == chat and not s.duplicate and s.status in (None, 200)
                    and s.content]
        if platform == "line":
            return [m["text"] for d in self.line.delivered if d["to"] == chat
                    for m in d["messages"] if m["type"] == "text"]
        return [b["text"]["body"] for b in self.whatsapp.sent
                if b.get("type") == "text" and (b.get("context") or {}).get("message_id") == chat]

    def answers(self, item: Sent, prefix: str) -> int:
        return sum(t.startswith(prefix) for t in self.texts(item.platform, item.chat))

    async def wait_answers(self, item: Sent, prefix: str, count: int = 1,
                           timeout: float = 10.0) -> None:
        await until(lambda: self.answers(item, prefix) >= count, timeout,
                    "%d× %r on %s chat %s" % (count, prefix, item.platform, item.chat))

    async def status_json(self) -> tuple[int, dict]:
        resp = await self.http.fetch("http://127.0.0.1:%d/healthz" % self.status_port,
                                     raise_error=False, request_timeout=5)
        try:
            return resp.code, json.loads(resp.body or b"{}")
        except ValueError:
            return resp.code, {}
