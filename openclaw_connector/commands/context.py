"""The types a command handler sees: the request, the context, the table entry.

They live in one module that imports no handler and no router, so
``router.py``, ``handlers.py`` and ``control.py`` each import this module
and never each other (the import graph has no cycle; tests/foundation
checks it). A handler is ``async def h(req, ctx) -> Reply``: ``req`` is what
this message asks, ``ctx`` the collaborators every command shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable, Mapping, Optional

from openclaw_connector.commands.parser import Command
from openclaw_connector.commands.photos import PhotoInputs
from openclaw_connector.commands.templates import TemplateCatalogue
from openclaw_connector.commands.tracking import JobTracker
from openclaw_connector.messages import Inbound, Reply
from openclaw_connector.openclaw.client import OpenClawClient


@dataclass(frozen=True)
class Request:
    """One command to answer: the message, the parsed command, and whether an admin asks."""

    inbound: Inbound
    command: Command
    is_admin: bool


@dataclass(frozen=True)
class CommandContext:
    """What every handler may use, typed; built once by the router.

    ``openclaw`` and ``jobs`` may be None (a router built without them);
    ``commands`` is the router's table (for ``/help``); ``instance_tag``
    differs per process, for ids that restart with the process.
    ``templates`` is the cached catalogue, ``prompt_input`` the configured
    text input of a template, ``default_template`` what a private chat's
    plain message runs (None: the /help hint).
    """

    openclaw: Optional[OpenClawClient]
    jobs: Optional[JobTracker]
    commands: Mapping[str, "CommandSpec"]
    instance_tag: str
    templates: TemplateCatalogue
    prompt_input: Callable[[str], Optional[str]]
    default_template: Optional[str] = None
    # Told an approval id once the server says it is decided (its buttons go away).
    on_decided: Optional[Callable[[str], Awaitable[None]]] = None
    photos: Optional["PhotoInputs"] = None     # chat photos as template inputs (issue 19)

    @property
    def client(self) -> OpenClawClient:
        """The client, for handlers behind ``guarded`` (which answers when there is none)."""
        if self.openclaw is None:
            raise LookupError("no OpenClaw client in this router")
        return self.openclaw


Handler = Callable[[Request, CommandContext], Awaitable[Reply]]


@dataclass(frozen=True)
class CommandSpec:
    """One command: its word, usage line, who may run it, and its handler.

    ``takes_photo``: the command can use a chat photo as an input (``/run``), so
    platform menus that can carry a file offer one (Discord's ATTACHMENT option).
    """

    word: str
    usage: str
    summary: str
    handler: Handler
    admin_only: bool = False
    takes_photo: bool = False
