"""Shared pieces of the command tests: a fake OpenClaw, a client, a router, senders."""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Optional


from openclaw_connector.commands import Router
from openclaw_connector.messages import ChatRef, Inbound
from openclaw_connector.metrics import Metrics
from openclaw_connector.net.transport import build_transport
from openclaw_connector.openclaw.client import OpenClawClient
from tests.fakes.openclaw import FakeOpenClaw
from tests.harness import dotted, make_config

TOKEN = "oc-admin-Zq81x-token-0123456789abcdef"
BOT = "ocbot"
ADMIN, ALLOWED, STRANGER = "1001", "2002", "3003"
_ids = itertools.count(1)


def msg(text: str, user: str = ADMIN, *, chat: Optional[str] = None, is_direct: bool = True,
        message_id: Optional[str] = None, platform: str = "telegram",
        mentioned: bool = False, local_operator: bool = False) -> Inbound:
    """An Inbound from ``user`` (in its own direct chat unless ``chat`` is given)."""
    chat = chat or user
    mid = message_id or str(next(_ids))
    ref = ChatRef(platform=platform, chat_id=chat, user_id=user, message_id=mid,
                  is_group=not is_direct)
    return Inbound(platform=platform, user_id=user, chat_id=chat, text=text, chat=ref,
                   message_id=mid, is_direct=is_direct, bot_name=BOT, mentioned=mentioned,
                   local_operator=local_operator)


@dataclass
class RecordingTracker:
    """A JobTracker that records what it was asked to watch."""

    prompts: list = field(default_factory=list)
    approvals: list = field(default_factory=list)
    fail: bool = False

    inputs: dict = field(default_factory=dict)

    async def watch_prompt(self, prompt_id: str, template: str, chat: ChatRef, *,
                           inputs: Any = None) -> None:
        self.prompts.append((prompt_id, template, chat))
        self.inputs[prompt_id] = inputs
        if self.fail:
            raise RuntimeError("tracker broken")

    async def watch_approval(self, approval_id: str, template: str, chat: ChatRef,
                             expires_at: str, *, inputs: Any = None) -> None:
        self.approvals.append((approval_id, template, chat, expires_at))
        self.inputs[approval_id] = inputs
        if self.fail:
            raise RuntimeError("tracker broken")


@dataclass
class Env:
    fake: FakeOpenClaw
    cfg: Any
    client: OpenClawClient
    router: Router
    tracker: RecordingTracker

    async def say(self, text: str, user: str = ADMIN, **kw: Any) -> Optional[str]:
        reply = await self.router.handle(msg(text, user, **kw))
        return None if reply is None else reply.text


def config(tmp_path, fake_url: str, *, token: Optional[str] = TOKEN, **overrides: Any):
    values = {"openclaw.url": fake_url, "admin_users": ["telegram:" + ADMIN],
              "telegram.allowed_users": [ALLOWED], "openclaw.submit_backoff_sec": 0.001,
              "openclaw.submit_retry_sec": 5, "openclaw.timeout_sec": 5,
              "rate_limit.burst": 1000, "rate_limit.per_minute": 1000}
    if token:
        values["openclaw.admin_token"] = token
    values.update(dotted(**overrides))
    return make_config(tmp_path, **values)


@contextlib.asynccontextmanager
async def stack(tmp_path, *, server_token: Optional[str] = TOKEN,
                client_token: Optional[str] = TOKEN, fake: Optional[dict] = None,
                tracker: Optional[RecordingTracker] = None, **overrides: Any
                ) -> AsyncIterator[Env]:
    """A running fake, a client with its own HTTP client, and a router on top."""
    async with FakeOpenClaw(admin_token=server_token, **(fake or {})) as server:
        cfg = config(tmp_path, server.url, token=client_token, **overrides)
        http = build_transport(cfg)
        client = OpenClawClient(cfg.openclaw, http)
        tracker = tracker if tracker is not None else RecordingTracker()
        router = Router(cfg, openclaw=client, jobs=tracker, metrics=Metrics())
        try:
            yield Env(server, cfg, client, router, tracker)
        finally:
            await client.stop()
            http.close()
