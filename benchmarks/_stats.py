"""Figures the benchmark scripts share: a percentile, per-variant medians, a child's CPU time."""

from __future__ import annotations

import os
import statistics
from typing import Iterable


def percentile(values: list[float], pct: float) -> float:
    """The nearest-rank ``pct`` percentile (0-100) of ``values``."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(pct / 100.0 * len(ordered))) - 1))
    return ordered[index]


def medians(results: list[dict], keys: Iterable[str]) -> dict[str, dict]:
    """Per variant ``name`` (in order of first run): the median of each key, plus ``runs``."""
    keys = tuple(keys)
    med: dict[str, dict] = {}
    for name in dict.fromkeys(r["name"] for r in results):
        runs = [r for r in results if r["name"] == name]
        med[name] = {k: statistics.median(r[k] for r in runs) for k in keys}
        med[name]["runs"] = len(runs)
    return med


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of a process (Linux /proc)."""
    with open("/proc/%d/stat" % pid) as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
