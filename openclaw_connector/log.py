"""Logging: one event per line, ``key=value`` fields, no secret ever.

Line format (for ``tail -f`` and grep)::

    2026-11-24T07:00:00.123Z INFO  telegram: poll failed status=502 retry_in=2.0s

Every handler gets a :class:`RedactingFormatter`, which redacts the *whole
formatted line* — message, arguments and any exception text — so a token
inside an exception message is caught too. It replaces every configured
secret, anything shaped like a Telegram bot token, ``Bearer`` values and
``hub.verify_token=`` query values with ``***``. Tracebacks are printed only
at debug level; otherwise an exception becomes ``error=Type: message``.

The cheap line: a call that passes ``extra=SAFE`` promises a constant format
string; when every argument is a number or a short id-shaped string (no
spaces, ``=``, ``?`` or quotes, at most 36 characters: too short for a bot
token) the token regexes cannot match and are skipped; configured secrets
are still replaced. Any other argument (message text, an error) sends the
line through the full redaction as before. Why: the per-command INFO line
spent ~37 µs in the six regexes, ~13 % of a webhook's CPU (issue 21).
A file goes through :class:`LogFileHandler` (a ``WatchedFileHandler``) so
logrotate works; SIGHUP also calls :func:`reopen`.

Control characters in a message (CR, LF, ESC, ...) are escaped as ``\\r``,
``\\n``, ``\\x1b``: ids and names come from chat platforms, and a CR/LF in
one must not forge a log line (issue 20). Logging never takes the daemon
down: when the log file cannot be opened or written (its directory was
deleted, the disk is full) lines go to stderr after one warning, and the
file is tried again every ``retry_sec``.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import re
import sys
import time
from typing import IO, Iterable, Optional

ROOT = "openclaw_connector"

_TOKEN_PATTERNS = [
    re.compile(r"\d{6,}:[A-Za-z0-9_-]{30,}"),                       # Telegram bot token
    re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"),                       # Authorization values
    re.compile(r"(?i)(bot\s+)[A-Za-z0-9_.-]{40,}"),                  # Discord "Bot <token>"
    re.compile(r"(?i)(hub\.verify_token=)[^&\s\"']+"),               # WhatsApp verification
    re.compile(r"(?i)(hub\.challenge=)[^&\s\"']+"),
    re.compile(r"(?i)([?&](?:sig|access_token|token)=)[^&\s\"']+"),  # signed URLs, query tokens
]


# C0 controls, DEL, C1 controls and the Unicode line/paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_controls(text: str) -> str:
    """``text`` with every control character written as an escape (one line, always)."""
    if _CONTROL.search(text) is None:     # the common case costs one scan
        return text
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), "\\x%02x" % ord(m.group()))
                        if ord(m.group()) < 0x100 else "\\u%04x" % ord(m.group()), text)


SAFE = {"safe_fields": True}      # logger.info(..., extra=SAFE): see the module docstring
_SAFE_ARG = re.compile(r"[A-Za-z0-9_.:@+-]{0,36}")


def _replace_secrets(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4 and secret in text:
            text = text.replace(secret, "***")
    return text


def _token_free(record: logging.LogRecord) -> bool:
    """True when the record promised a constant format and every argument is id-shaped."""
    if not getattr(record, "safe_fields", False) or record.exc_info:
        return False
    args = record.args if isinstance(record.args, tuple) else ()
    for arg in args:
        if arg is None or isinstance(arg, (int, float)):
            continue
        if not (isinstance(arg, str) and _SAFE_ARG.fullmatch(arg)):
            return False
    return True


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace secret values and token-shaped strings in ``text`` with ``***``."""
    text = _replace_secrets(text, secrets)
    for pattern in _TOKEN_PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + "***", text)
        else:
            text = pattern.sub("***", text)
    return text


class RedactingFormatter(logging.Formatter):
    """Formats the line described in the module docstring and redacts it."""

    def __init__(self, secrets: Iterable[str] = (), *, tracebacks: bool = False) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        stamp += ".%03dZ" % (record.msecs,)
        component = record.name.rsplit(".", 1)[-1] if record.name != ROOT else "daemon"
        try:
            message = record.getMessage()
        except Exception as exc:  # a bad format string must not lose the event
            message = "%s (log format error: %s)" % (record.msg, exc)
        line = "%s %-5s %s: %s" % (stamp, record.levelname, component,
                                   escape_controls(message))
        if record.exc_info and record.exc_info[1] is not None:
            if self.tracebacks:
                line += "\n" + self.formatException(record.exc_info)
            elif "error=" not in message:
                line += " error=%s" % escape_controls(one_line_error(record.exc_info[1]))
        if _token_free(record):
            return _replace_secrets(line, self.secrets)
        return redact(line, self.secrets)


def one_line_error(exc: BaseException) -> str:
    """``Type: message`` on one line, for ``error=`` fields."""
    text = str(exc).replace("\n", " ").strip()
    name = type(exc).__name__
    return "%s: %s" % (name, text) if text else name


class LogFileHandler(logging.handlers.WatchedFileHandler):
    """The log file, reopened after logrotate moves it, flushed once per IOLoop pass.

    Why not a plain ``WatchedFileHandler``: it stats the path and flushes (a
    write system call) for every line, which under webhook load was a visible
    share of each command's cost (issue 6). Here the rotation check runs at
    most once a second (SIGHUP still reopens at once), and lines logged during
    one pass of the event loop are written together at its end, so ``tail -f``
    sees them within that pass. Errors, and lines logged outside the loop
    (start-up, the console's reader thread), are written at once.
    """

    STAT_EVERY_SEC = 1.0

    def __init__(self, filename: str, encoding: str = "utf-8", *, retry_sec: float = 30.0,
                 fallback: Optional[IO[str]] = None) -> None:
        super().__init__(filename, encoding=encoding)
        self._next_stat = 0.0
        self._urgent = False
        self._flush_pending = False
        self.retry_sec = retry_sec
        self._fallback = fallback            # None: sys.stderr as it is when needed
        self.on_fallback = False
        self._retry_at = 0.0

    def reopenIfNeeded(self) -> None:  # noqa: N802 (the stdlib's name)
        now = time.monotonic()
        if self.on_fallback:
            if now >= self._retry_at:
                self._restore(now)
            return
        if now >= self._next_stat:
            self._next_stat = now + self.STAT_EVERY_SEC
            try:
                super().reopenIfNeeded()
            except OSError as exc:
                self._fall_back(exc)

    def reopen_now(self) -> None:
        """SIGHUP: reopen the file at once (or try to leave stderr)."""
        self.acquire()
        try:
            if self.on_fallback:
                self._restore(time.monotonic())
                return
            try:
                if self.stream:
                    self.stream.close()
                self.stream = None   # type: ignore[assignment]
                self.stream = self._open()
                self._statstream()
            except OSError as exc:
                self._fall_back(exc)
        finally:
            self.release()

    def _fall_back(self, exc: OSError) -> None:
        """Write to stderr from now on; say so once; retry the file later."""
        if self.stream is not None and not self.on_fallback:
            try:
                self.stream.close()
            except OSError:
                pass
        self.stream = self._fallback or sys.stderr   # type: ignore[assignment]
        self.on_fallback = True
        self._retry_at = time.monotonic() + self.retry_sec
        self._write_own(logging.WARNING, "event=log_file_failed path=%s error=%s; logging to "
                        "stderr, trying the file again every %g s", self.baseFilename,
                        one_line_error(exc), self.retry_sec)

    def _restore(self, now: float) -> None:
        try:
            stream = self._open()
        except OSError:
            self._retry_at = now + self.retry_sec
            return
        self.stream = stream
        self._statstream()
        self.on_fallback = False
        self._next_stat = now + self.STAT_EVERY_SEC
        self._write_own(logging.WARNING, "event=log_file_restored path=%s", self.baseFilename)

    def _write_own(self, level: int, msg: str, *args: object) -> None:
        record = logging.LogRecord(ROOT + ".log", level, __file__, 0, msg, args, None)
        stream: Optional[IO[str]] = self.stream
        try:
            if stream is not None:
                stream.write(self.format(record) + self.terminator)
                stream.flush()
        except (OSError, ValueError):
            pass

    def emit(self, record: logging.LogRecord) -> None:
        self._urgent = record.levelno >= logging.ERROR
        super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (stdlib name)
        """A write to the file failed (ENOSPC, EIO): go to stderr with this line."""
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError) and not self.on_fallback:
            self._fall_back(exc)
            stream: Optional[IO[str]] = self.stream
            try:
                if stream is not None:
                    stream.write(self.format(record) + self.terminator)
            except (OSError, ValueError):
                pass
            return
        super().handleError(record)

    def flush(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or self._urgent:
            super().flush()
        elif not self._flush_pending:
            self._flush_pending = True
            loop.call_soon(self._flush_now)

    def _flush_now(self) -> None:
        self._flush_pending = False
        self.acquire()
        try:
            super().flush()
        except OSError as exc:
            if not self.on_fallback:
                self._fall_back(exc)
        finally:
            self.release()

    def close(self) -> None:
        if self.on_fallback:
            self.stream = None   # type: ignore[assignment]  # never close stderr
        super().close()


_handlers: list[logging.Handler] = []


def setup(level: str = "INFO", *, file: Optional[str] = None, secrets: Iterable[str] = (),
          stream=None, retry_sec: float = 30.0) -> logging.Handler:
    """Install one handler on the root logger (replacing ours from a previous call)."""
    root = logging.getLogger()
    for old in _handlers:
        root.removeHandler(old)
        old.close()
    _handlers.clear()
    if file:
        handler: logging.Handler = LogFileHandler(file, retry_sec=retry_sec, fallback=stream)
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
    numeric = getattr(logging, level.upper(), logging.INFO)
    handler.setFormatter(RedactingFormatter(secrets, tracebacks=numeric <= logging.DEBUG))
    root.addHandler(handler)
    root.setLevel(numeric)
    # Our lines never show thread or process names, nor the caller's file, line or
    # function (RedactingFormatter.format): skip collecting them per record (without
    # _srcfile, logging walks the stack for every line).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # type: ignore[attr-defined]
    # Tornado's per-request access lines go through our own log function
    # (access_log below), and asyncio's debug chatter is not for operators.
    logging.getLogger("asyncio").setLevel(max(numeric, logging.WARNING))
    _handlers.append(handler)
    return handler


def reopen() -> None:
    """Reopen the log file after logrotate moved it (SIGHUP)."""
    for handler in _handlers:
        if isinstance(handler, LogFileHandler):
            handler.reopen_now()


def get(component: str) -> logging.Logger:
    """The logger for one component; its last name part is printed on each line."""
    return logging.getLogger("%s.%s" % (ROOT, component))


def access_log(handler) -> None:
    """Tornado ``log_function``: method, path (never the query) and status."""
    status = handler.get_status()
    request = handler.request
    level = logging.INFO if status < 400 else logging.WARNING
    logging.getLogger("%s.http" % ROOT).log(
        level, "event=http_request method=%s path=%s status=%d took_ms=%.1f",
        request.method, request.path, status, 1000.0 * request.request_time())
