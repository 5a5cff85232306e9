"""Counters and histograms for ``/metrics`` (Prometheus text format, by hand).

One :class:`Metrics` object is made by the daemon and passed to whoever
counts; no module-level registry. Names are declared where they are used,
with ``inc``/``observe``; ``render()`` writes the exposition format 0.0.4.
Gauges that describe a moment (channel up) are refreshed by collectors
registered with :meth:`Metrics.collect` just before each render, and the
conventional ``process_*`` series (memory, CPU, fds, start time) follow ours.
"""

from __future__ import annotations

import math
import os
import resource
import sys
import time
from typing import Callable, Iterable

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


def _labels(labels: dict) -> tuple:
    items = sorted(labels.items())
    # Counted on every webhook: skip str() when every value already is one.
    if all(type(v) is str for _k, v in items):
        return tuple(items)
    return tuple((k, str(v)) for k, v in items)


def _fmt_labels(items: Iterable[tuple[str, str]]) -> str:
    parts = ['%s="%s"' % (k, v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n"))
             for k, v in items]
    return "{%s}" % ",".join(parts) if parts else ""


class Metrics:
    """In-memory counters, gauges and histograms keyed by name and labels."""

    PREFIX = "openclaw_connector_"

    def __init__(self) -> None:
        self._counters: dict[str, dict[tuple, float]] = {}
        self._gauges: dict[str, dict[tuple, float]] = {}
        self._hist: dict[str, dict[tuple, list]] = {}
        self._help: dict[str, str] = {}
        self._collectors: list[Callable[[], None]] = []

    def collect(self, refresh: Callable[[], None]) -> None:
        """Call ``refresh`` before every render (it sets gauges that describe now)."""
        self._collectors.append(refresh)

    def inc(self, name: str, amount: float = 1.0, *, help: str = "", **labels) -> None:
        series = self._counters.setdefault(name, {})
        key = _labels(labels)
        series[key] = series.get(key, 0.0) + amount
        if help:
            self._help.setdefault(name, help)

    def set(self, name: str, value: float, *, help: str = "", **labels) -> None:
        self._gauges.setdefault(name, {})[_labels(labels)] = value
        if help:
            self._help.setdefault(name, help)

    def observe(self, name: str, value: float, *, help: str = "",
                buckets: tuple = DEFAULT_BUCKETS, **labels) -> None:
        series = self._hist.setdefault(name, {})
        key = _labels(labels)
        entry = series.get(key)
        if entry is None:
            entry = series[key] = [buckets, [0] * len(buckets), 0.0, 0]
        for i, bound in enumerate(entry[0]):
            if value <= bound:
                entry[1][i] += 1
        entry[2] += value
        entry[3] += 1
        if help:
            self._help.setdefault(name, help)

    def value(self, name: str, **labels) -> float:
        """A counter's or gauge's current value (0 when never touched); for tests."""
        key = _labels(labels)
        for table in (self._counters, self._gauges):
            if name in table and key in table[name]:
                return table[name][key]
        return 0.0

    def render(self) -> str:
        for refresh in self._collectors:
            refresh()
        out: list[str] = []
        for kind, table in (("counter", self._counters), ("gauge", self._gauges)):
            for name in sorted(table):
                full = self.PREFIX + name
                out.append("# HELP %s %s" % (full, self._help.get(name, name)))
                out.append("# TYPE %s %s" % (full, kind))
                for key, val in sorted(table[name].items()):
                    out.append("%s%s %s" % (full, _fmt_labels(key), _num(val)))
        for name in sorted(self._hist):
            full = self.PREFIX + name
            out.append("# HELP %s %s" % (full, self._help.get(name, name)))
            out.append("# TYPE %s histogram" % full)
            for key, (buckets, counts, total, count) in sorted(self._hist[name].items()):
                for bound, c in zip(buckets, counts):
                    out.append("%s_bucket%s %d" % (full, _fmt_labels(key + (("le", _num(bound)),)), c))
                out.append("%s_bucket%s %d" % (full, _fmt_labels(key + (("le", "+Inf"),)), count))
                out.append("%s_sum%s %s" % (full, _fmt_labels(key), _num(total)))
                out.append("%s_count%s %d" % (full, _fmt_labels(key), count))
        out.extend(process_lines())
        return "\n".join(out) + "\n"


def _proc_start_time() -> float:
    """When this process started (Linux /proc; elsewhere: when this module loaded)."""
    try:
        with open("/proc/self/stat") as fh:
            ticks = float(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as fh:
            boot = next(float(line.split()[1]) for line in fh if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()


_START_TIME = _proc_start_time()


def _resident_bytes() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return float(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        # No /proc (macOS): the peak is the best we have; ru_maxrss is bytes there.
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return float(peak if sys.platform == "darwin" else peak * 1024)


def _open_fds() -> float:
    for where in ("/proc/self/fd", "/dev/fd"):
        try:
            return float(len(os.listdir(where)))
        except OSError:
            continue
    return float("nan")


def process_lines() -> list[str]:
    """The Prometheus client libraries' ``process_*`` series, from the OS."""
    times = os.times()
    series = [
        ("process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.",
         times.user + times.system),
        ("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
         _resident_bytes()),
        ("process_open_fds", "gauge", "Number of open file descriptors.", _open_fds()),
        ("process_start_time_seconds", "gauge",
         "Start time of the process since unix epoch in seconds.", _START_TIME),
    ]
    out = []
    for name, kind, text, value in series:
        if math.isnan(value):
            continue
        out.extend(["# HELP %s %s" % (name, text), "# TYPE %s %s" % (name, kind),
                    "%s %s" % (name, _num(value))])
    return out


def _num(value: float) -> str:
    if math.isinf(value):
        return "+Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))
