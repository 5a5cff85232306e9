"""How long one StateStore write takes on the IOLoop thread (issue 2).

Prints median and p99 of ``set`` (the Telegram offset), ``mark_seen`` (a
webhook dedup id) and ``put_pending`` + ``delete_pending`` (a pending command),
and a webhook command's whole cycle before and after issue 21 (dedup id +
pending row, against the command held in the dedup row), each over N calls on a fresh database in a temp dir. Baseline in the same
run: a plain ``json.dumps`` + dict store, to show the sqlite share.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

from openclaw_connector.state import PendingRow, StateStore


def timed(fn, n):
    out = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t)
    out.sort()
    return statistics.median(out) * 1e6, out[int(len(out) * 0.99) - 1] * 1e6


def main(n: int = 5000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(tmp)
        store.open()
        plain: dict = {}
        rows = {
            "baseline json+dict": lambda i: plain.__setitem__("k", json.dumps({"o": i})),
            "kv set": lambda i: store.set("telegram.offset", str(i)),
            "mark_seen": lambda i: store.mark_seen("line", "ev%d" % i, 3600),
            "put+delete pending": lambda i: (store.put_pending(PendingRow(
                "inbound:x:%d" % i, "x", str(i), "{}", 0.0, {})),
                store.delete_pending("inbound:x:%d" % i)),
            # A webhook command, then and now (issue 21): id + pending row + delete,
            # against the command held in the id's own row + clear.
            "seen+pending+delete": lambda i: (
                store.mark_seen("line2", "ev%d" % i, 3600), store.put_pending(PendingRow(
                    "inbound:y:%d" % i, "y", str(i), "{}", 0.0, {"text": "/help"})),
                store.delete_pending("inbound:y:%d" % i)),
            "seen(pending)+clear": lambda i: (
                store.mark_seen("line3", "ev%d" % i, 3600, pending='{"text":"/help"}'),
                store.clear_pending("line3", "ev%d" % i)),
        }
        print("%-20s %10s %10s" % ("operation", "median_us", "p99_us"))
        for name, fn in rows.items():
            med, p99 = timed(fn, n)
            print("%-20s %10.1f %10.1f" % (name, med, p99))
        store.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("n", type=int, nargs="?", default=5000, help="calls per operation")
    main(p.parse_args().n)
