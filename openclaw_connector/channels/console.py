"""The console channel: the local operator's chat on stdin/stdout.

Lines are read by a daemon thread (a blocking ``readline`` works the same on
a TTY, a pipe or a redirected file, and a daemon thread never holds up
exit) and handed to the IOLoop with ``call_soon_threadsafe``. Each line
becomes an Inbound from user ``console``, whom the router treats as an
admin. End of input (Ctrl-D, or the end of a pipe) stops the daemon cleanly
through the ``on_eof`` callback the daemon passes in its ``ChannelDeps``.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import Any, Callable, Optional

from openclaw_connector import log as logmod
from openclaw_connector.channels.base import ChannelDeps, ChannelHealth, NoEdits
from openclaw_connector.lifecycle import drain
from openclaw_connector.messages import Capabilities, ChatRef, Inbound, InboundHandler, \
    Reply, Sent

log = logmod.get("console")

CHAT = ChatRef(platform="console", chat_id="console", user_id="console")


class ConsoleChannel(NoEdits):
    """stdin lines in, replies out on stdout."""

    platform = "console"

    def __init__(self, cfg: Any, on_inbound: InboundHandler, deps: ChannelDeps) -> None:
        self._on_inbound = on_inbound
        self._in = deps.console_in or sys.stdin
        self._out = deps.console_out or sys.stdout
        self._on_eof: Optional[Callable[[], None]] = deps.on_eof
        self.health = ChannelHealth("console")
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._queue: "asyncio.Queue[Optional[str]]" = asyncio.Queue()
        self._worker: Optional[asyncio.Task] = None
        self._counter = 0
        self._written = 0
        self._stopped = False

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._worker = asyncio.ensure_future(self._work())
        threading.Thread(target=self._read_lines, name="console-stdin", daemon=True).start()
        self.health.ok()
        log.info("event=console_ready hint=\"type /help; Ctrl-D stops the daemon\"")

    async def stop(self) -> None:
        self._stopped = True
        if self._worker is not None and not self._worker.done():
            self._queue.put_nowait(None)
            await drain([self._worker], 5)
        self.health.stopped()

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities()           # a terminal: no edits, buttons or uploads

    async def send(self, chat: ChatRef, reply: Reply, *, start_part: int = 0,
                   key: str = "") -> Sent:
        """Write the reply as one block (one part); its id counts replies written."""
        if start_part > 0:
            return Sent("console", chat.chat_id)
        parts = [reply.text] if reply.text else []
        for image in reply.images:
            parts.append("[image] %s (%s, %d bytes)" % (image.filename, image.content_type,
                                                         len(image.data)))
        self._out.write("\n".join(parts) + "\n")
        self._out.flush()
        self._written += 1
        return Sent("console", chat.chat_id, str(self._written), str(self._written))

    # ------------------------------------------------------------------ reading
    def _read_lines(self) -> None:
        """Runs in the reader thread; hands each line to the loop."""
        while True:
            try:
                line = self._in.readline()
            except (OSError, ValueError):
                line = ""
            if self._stopped or self._loop is None or self._loop.is_closed():
                return
            try:
                if not line:
                    self._loop.call_soon_threadsafe(self._queue.put_nowait, None)
                    return
                self._loop.call_soon_threadsafe(self._queue.put_nowait, line.rstrip("\r\n"))
            except RuntimeError:  # loop closed while we were blocked in readline
                return

    async def _work(self) -> None:
        """Handle lines one at a time, so replies come out in the order typed."""
        while True:
            text = await self._queue.get()
            if text is None:
                break
            if self._stopped or not text.strip():
                continue
            self._counter += 1
            inbound = Inbound(platform="console", user_id="console", chat_id="console",
                              text=text, chat=CHAT, message_id=str(self._counter),
                              is_direct=True, local_operator=True)
            await self._on_inbound(inbound)
        if not self._stopped:
            log.info("event=console_eof")
            if self._on_eof is not None:
                self._on_eof()
