"""``openclaw-connectord``: argv, config, logging, signals, exit statuses.

A recipe of named steps (thumbor's ``main``): parse arguments, load and
validate the config, set up logging, then either answer a one-shot flag
(``--check-config``, ``--print-config``, ``--check``) or run the daemon in
the foreground until SIGTERM/SIGINT or the console's end of input.

Exit statuses: 0 clean stop, 1 unexpected fatal error, 2 bad usage,
78 configuration error (EX_CONFIG). Only this module calls ``sys.exit``.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import logging
import os
import signal
import sys
from typing import Optional, Sequence, TextIO

from openclaw_connector import __version__
from openclaw_connector import config as configmod
from openclaw_connector import log as logmod
from openclaw_connector import sdnotify
from openclaw_connector.config import Config, ConfigError, mask_secret

EX_OK, EX_FATAL, EX_USAGE, EX_CONFIG = 0, 1, 2, 78
GC_GEN0_THRESHOLD = 50_000   # young-generation pass per this many net new containers (default 700)

log = logmod.get("daemon")


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, sized without ``shutil``: argparse builds one for every
    ``add_argument`` (to check the metavar), and the default one imports ``shutil`` (and
    with it bz2 and lzma, ~0.5 MiB RSS) only to ask the terminal's width."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_terminal_columns() - 2)


def _terminal_columns() -> int:
    """``$COLUMNS``, else stdout's terminal width, else 80 (as shutil would say)."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):   # no stdout, or not a terminal
        return 80


def _decline_curses() -> None:
    """Keep curses out of the daemon: tornado.log imports it only to colour tornado's
    own log formatter, which the daemon never installs (log.py formats every line), and
    curses with libncursesw is ~0.5 MiB RSS. Nothing in the daemon imports it, so the
    entry point marks it unavailable before tornado loads; a process that already loaded
    it keeps it."""
    if "curses" not in sys.modules:
        sys.modules["curses"] = None  # type: ignore[assignment]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="openclaw-connectord", formatter_class=_HelpFormatter,
        description="Drive a ComfyUI + OpenClaw machine from Telegram, Discord, LINE and "
                    "WhatsApp. Runs in the foreground; stop it with SIGTERM or Ctrl-C.")
    p.add_argument("-c", "--config", metavar="PATH",
                   help="YAML config file (default: $OPENCLAW_CONNECTOR_CONFIG; without "
                        "either, defaults + OPENCLAW_CONNECTOR_* variables)")
    p.add_argument("--check-config", action="store_true",
                   help="validate the config, print one line per enabled channel, exit")
    p.add_argument("--print-config", action="store_true",
                   help="print the effective config as YAML with secrets masked, exit")
    p.add_argument("--check", action="store_true",
                   help="validate, then contact ComfyUI and every enabled platform, exit")
    p.add_argument("--console", action="store_true",
                   help="enable the console channel (chat on this terminal)")
    p.add_argument("--log-file", metavar="PATH", help="log to this file instead of stderr")
    p.add_argument("--log-level", metavar="LEVEL",
                   choices=["debug", "info", "warning", "error", "DEBUG", "INFO", "WARNING",
                            "ERROR"], help="debug, info, warning or error")
    p.add_argument("--pidfile", metavar="PATH",
                   help="write our pid here after start; refuse to start if it names a live "
                        "process")
    p.add_argument("--version", action="version", version="%(prog)s " + __version__)
    return p


def load_config(args: argparse.Namespace, env=None) -> Config:
    env = os.environ if env is None else env
    path = args.config or env.get("OPENCLAW_CONNECTOR_CONFIG")
    overrides = {
        "console.enabled": True if args.console else None,
        "log.file": args.log_file,
        "log.level": args.log_level.lower() if args.log_level else None,
    }
    return configmod.load(path, env=env, overrides=overrides)


def _config_failed(problems: list[str], args: argparse.Namespace, stderr: TextIO) -> int:
    """Print every problem on the terminal and append them to the log file when one is
    known from the command line or environment (a service's terminal is nowhere)."""
    lines = list(problems) + ["configuration invalid: %d problem%s; nothing was started" % (
        len(problems), "" if len(problems) == 1 else "s")]
    for line in lines:
        print(line, file=stderr)
    one_shot = args.check or args.check_config or args.print_config
    if not one_shot:
        _start_failed(problems[0], errno.EINVAL)
    path = args.log_file or os.environ.get("OPENCLAW_CONNECTOR_LOG_FILE")
    if path and not one_shot:
        try:
            handler = logmod.setup("ERROR", file=path, stream=stderr)
        except OSError:
            return EX_CONFIG
        for line in lines:
            log.error("event=config_error %s", line)
        handler.flush()
    return EX_CONFIG


def _start_failed(why: str, code: int, secrets: Sequence[str] = ()) -> None:
    """Tell a waiting service manager that start failed, and why (sd_notify ``STATUS=``
    and ``ERRNO=``): systemd shows it in ``systemctl status``, and start-stop-daemon
    ``--notify-await`` gives up at once instead of waiting for its timeout. The reason is
    redacted like a log line: ``systemctl status`` is readable by every user."""
    why = logmod.redact(" ".join(why.split())[:200], secrets)
    sdnotify.notify("STATUS=start failed: %s\nERRNO=%d" % (why, code))


def summary_lines(cfg: Config) -> list[str]:
    """One line per enabled channel for ``--check-config``, secrets masked."""
    lines = ["openclaw: url=%s admin_token=%s" % (cfg.openclaw.url,
                                                  mask_secret(cfg.openclaw.admin_token))]
    if cfg.console.enabled:
        lines.append("console: enabled (local operator, admin)")
    if cfg.telegram.on:
        t = cfg.telegram
        lines.append("telegram: token=%s allowed_users=%d allowed_chats=%d api_base=%s" % (
            mask_secret(t.token), len(t.allowed_users), len(t.allowed_chats), t.api_base))
    if cfg.discord.on:
        d = cfg.discord
        lines.append("discord: token=%s allowed_users=%d allowed_channels=%d" % (
            mask_secret(d.token), len(d.allowed_users), len(d.allowed_channels)))
    if cfg.line.on:
        ln = cfg.line
        lines.append("line: webhook=http://%s:%d%s channel_secret=%s allowed_users=%d "
                     "allowed_groups=%d" % (ln.bind, ln.port, ln.path,
                                            mask_secret(ln.channel_secret),
                                            len(ln.allowed_users), len(ln.allowed_groups)))
    if cfg.whatsapp.on:
        w = cfg.whatsapp
        lines.append("whatsapp: webhook=http://%s:%d%s access_token=%s app_secret=%s "
                     "allowed_users=%d" % (w.bind, w.port, w.path, mask_secret(w.access_token),
                                           mask_secret(w.app_secret), len(w.allowed_users)))
    lines.append("admin_users=%d state_dir=%s" % (len(cfg.admin_users), cfg.state_dir))
    return lines


def main(argv: Optional[Sequence[str]] = None, *, stdout: Optional[TextIO] = None,
         stderr: Optional[TextIO] = None) -> int:
    _decline_curses()
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args)
        problem = None if args.print_config else configmod.no_channel_problem(cfg)
        if problem:
            raise ConfigError([problem])
    except ConfigError as exc:
        return _config_failed(exc.problems, args, stderr)
    if args.print_config:
        stdout.write(configmod.dump_yaml(cfg))
        return EX_OK
    warnings = cfg.warnings()
    permissions = configmod.permission_warning(cfg.source, cfg)
    if args.check_config:
        for line in summary_lines(cfg):
            print(line, file=stdout)
        for warning in warnings + ([permissions] if permissions else []):
            print("warning: " + warning, file=stdout)
        print("config OK", file=stdout)
        return EX_OK
    # --check runs as whoever types it (often root): it logs to stderr so it never
    # creates a log file the service user cannot open later.
    log_file = None if args.check else cfg.log.file
    level = args.log_level.upper() if args.log_level else cfg.log_level
    try:
        logmod.setup(level, file=log_file, secrets=cfg.secrets(), stream=stderr,
                     retry_sec=cfg.log.retry_sec)
    except OSError as exc:
        print("log.file: cannot open %s: %s (fix the path or its permissions)" % (
            cfg.log.file, exc.strerror), file=stderr)
        return EX_CONFIG
    if not cfg.source:
        log.info("event=config_source source=environment reason=\"no -c and no "
                 "OPENCLAW_CONNECTOR_CONFIG: running on defaults + OPENCLAW_CONNECTOR_* "
                 "variables\"")
    if permissions:
        log.warning("event=config_permissions %s", permissions)
    for warning in warnings:
        log.warning("event=config_warning %s", warning)
    if args.check:
        return asyncio.run(_check(cfg, stdout))
    return run(cfg, pidfile=args.pidfile)


async def _check(cfg: Config, out: TextIO) -> int:
    """``--check`` over the daemon's own transport (proxies included), closed after."""
    from openclaw_connector import check
    from openclaw_connector.net.transport import build_transport
    http = build_transport(cfg)
    try:
        return await check.run_checks(cfg, out, http)
    finally:
        http.close()


def run(cfg: Config, *, pidfile: Optional[str] = None) -> int:
    """Run the daemon until a stop signal; return the exit status."""
    from openclaw_connector.state import StateDirError   # with tornado, after _decline_curses
    if pidfile:
        problem = _claim_pidfile(pidfile)
        if problem:
            log.error("event=pidfile_refused %s", problem)
            _start_failed(problem, errno.EEXIST, cfg.secrets())
            return EX_FATAL
    try:
        return asyncio.run(_serve(cfg, pidfile))
    except StateDirError as exc:
        log.error("event=config_error %s", exc)
        _start_failed(str(exc), errno.EACCES, cfg.secrets())
        return EX_CONFIG
    except KeyboardInterrupt:
        return EX_OK
    except Exception as exc:
        log.error("event=fatal error=%s", logmod.one_line_error(exc),
                  exc_info=logging.getLogger().isEnabledFor(logging.DEBUG))
        _start_failed(logmod.one_line_error(exc), getattr(exc, "errno", None) or errno.EIO,
                      cfg.secrets())
        return EX_FATAL
    finally:
        if pidfile:
            _release_pidfile(pidfile)


def settle_heap() -> None:
    """Once started: move what start-up built out of the collector's sight
    (``gc.freeze``) and run the young-generation pass less often.

    Each webhook keeps a few hundred containers alive while its command and
    reply are in flight; at the default threshold (700 net new containers) the
    collector ran every few requests, and each older-generation pass walked
    every module, config and route object again. Freeze plus 50000 took the
    CPU per webhook at c=50 from ~0.33 to ~0.30 ms and the paced-500 ack p99
    from ~4 to ~2.5 ms (benchmarks/README.md, issue 21). Cycles are still
    collected, in larger batches.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, 20, 100)


async def _serve(cfg: Config, pidfile: Optional[str]) -> int:
    from openclaw_connector.daemon import Daemon
    daemon = Daemon(cfg)
    loop = asyncio.get_running_loop()
    for signum, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")):
        loop.add_signal_handler(signum, daemon.request_stop, name)
    loop.add_signal_handler(signal.SIGHUP, _reopen_logs)
    try:
        try:
            await daemon.start()
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
                log.error("event=config_error cannot listen: %s (change the bind/port in "
                          "the config or stop what uses it)", exc.strerror)
                await daemon.stop()
                _start_failed("cannot listen: %s" % exc.strerror, exc.errno, cfg.secrets())
                return EX_CONFIG
            raise
        # Before the pidfile and READY=1: whoever waits on those (an init script,
        # then logrotate) should not meet the collector's pause.
        settle_heap()
        if pidfile:
            with open(pidfile, "w") as fh:
                fh.write("%d\n" % os.getpid())
        sdnotify.notify("READY=1")
        log.info("event=daemon_ready pid=%d channels=%s", os.getpid(),
                 ",".join(daemon.channels) or "none")
        await sdnotify.with_watchdog(daemon.wait())   # WATCHDOG=1 when WatchdogSec= is set
        sdnotify.notify("STOPPING=1")
    finally:
        await daemon.stop()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(signum)
    return EX_OK


def _reopen_logs() -> None:
    logmod.reopen()
    log.info("event=log_reopened")


def _claim_pidfile(path: str) -> Optional[str]:
    """Refuse when ``path`` names a live process; clear a stale one."""
    try:
        with open(path) as fh:
            pid = int(fh.read().strip() or "0")
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        pid = 0
    if pid > 0 and pid != os.getpid():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            pass
        except PermissionError:
            return "pidfile %s names running process %d (another instance?)" % (path, pid)
        else:
            return "pidfile %s names running process %d (another instance?)" % (path, pid)
    try:
        os.unlink(path)
    except OSError:
        pass
    return None


def _release_pidfile(path: str) -> None:
    try:
        with open(path) as fh:
            if fh.read().strip() != str(os.getpid()):
                return
        os.unlink(path)
    except OSError:
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
