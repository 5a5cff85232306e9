"""The console channel: the local operator's chat on stdin/stdout.

Lines are read by a daemon thread (a blocking ``readline`` works the same on
a TTY, a pipe or a redirected file, and a daemon thread never holds up
exit) and handed to the IOLoop with ``call_soon_threadsafe``. Each line
becomes an Inbound from user ``console``, whom the router treats as an
admin. End of input (Ctrl-D, or the end of a pipe) stops the daemon cleanly
through the ``on_eof`` callback the daemon passes in its ``ChannelDeps``.

Under a service stdin is ``/dev/null`` (or closed): reading it would stop the
daemon at once, so the channel logs a warning and stays idle instead. Result
images are saved under ``console.save_dir`` (``<state_dir>/console`` unless
set) and the reply prints the path, since a terminal cannot show a picture.
"""

from __future__ import annotations

import asyncio
import os
import stat
import sys
import threading
from typing import Any, Callable, Optional

from openclaw_connector import log as logmod
from openclaw_connector.channels.base import ChannelDeps, ChannelHealth, NoEdits
from openclaw_connector.config import ConsoleConfig
from openclaw_connector.lifecycle import drain
from openclaw_connector.messages import Capabilities, ChatRef, Image, Inbound, InboundHandler, \
    Reply, Sent

log = logmod.get("console")

CHAT = ChatRef(platform="console", chat_id="console", user_id="console")


def stdin_problem(stream: Any) -> Optional[str]:
    """Why ``stream`` cannot carry a console session, or None when it can.

    A terminal, a pipe, a socket or a redirected file can; ``/dev/null`` or a
    closed descriptor (what init systems give a service) cannot.
    """
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None   # an in-memory stream (tests): let it through
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return "stdin is closed"
    if os.isatty(fd) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISREG(mode):
        return None
    return "stdin is not a terminal or pipe (%s)" % (
        "/dev/null or another device" if stat.S_ISCHR(mode) else "not a stream")


def _unused_path(directory: str, filename: str) -> str:
    """``directory/filename``, with ``-1``, ``-2``… before the suffix if it exists."""
    name = os.path.basename(filename.replace("\\", "/")).lstrip(".") or "result"
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    path, n = os.path.join(directory, name), 0
    while os.path.exists(path):
        n += 1
        path = os.path.join(directory, "%s-%d%s" % (stem, n, dot + suffix))
    return path


def save_image(directory: str, image: Image) -> str:
    """Write ``image`` under ``directory`` (created 0700); return its absolute path."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = _unused_path(directory, image.filename)
    with open(path, "xb") as fh:
        fh.write(image.data)
    return os.path.abspath(path)


class ConsoleChannel(NoEdits):
    """stdin lines in, replies out on stdout."""

    platform = "console"

    def __init__(self, cfg: ConsoleConfig, on_inbound: InboundHandler,
                 deps: ChannelDeps) -> None:
        self._on_inbound = on_inbound
        self._in = deps.console_in or sys.stdin
        self._out = deps.console_out or sys.stdout
        self._on_eof: Optional[Callable[[], None]] = deps.on_eof
        self._save_dir: str = getattr(cfg, "save_dir", None) or os.path.join("state", "console")
        self.health = ChannelHealth("console")
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._queue: "asyncio.Queue[Optional[str]]" = asyncio.Queue()
        self._worker: Optional[asyncio.Task] = None
        self._counter = 0
        self._written = 0
        self._stopped = False

    async def start(self) -> None:
        problem = stdin_problem(self._in)
        if problem:
            log.warning("event=console_unusable reason=\"%s\" hint=\"console.enabled has no "
                        "effect here; the daemon keeps running for the other channels; use "
                        "--console in a terminal\"", problem)
            self.health.off(problem)
            return
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
        if self.health.state != "off":
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
        loop = asyncio.get_running_loop()
        for image in reply.images:
            line = "[image] %s (%s, %d bytes)" % (image.filename, image.content_type,
                                                  len(image.data))
            try:
                path = await loop.run_in_executor(None, save_image, self._save_dir, image)
            except OSError as exc:
                log.warning("event=console_save_failed dir=%s error=%s", self._save_dir,
                            logmod.one_line_error(exc))
                line += " not saved: %s" % (exc.strerror or exc)
            else:
                line += " saved to %s" % path
            parts.append(line)
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
