"""What one ``--check`` probe found: a named OK/FAIL/WARN/SKIP line, and helpers to word it.

Neutral like messages.py: the OpenClaw client and each channel's probe return
:class:`ProbeResult`; ``check.py`` runs them and prints ``line()``. No line may
hold a secret, so URLs are worded as ``scheme://host`` (net.resolver.public_url)
by the probes, and check.py redacts every line again with the configured secrets.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProbeResult:
    """One check: ``status`` is OK, FAIL, WARN or SKIP; ``detail`` is what was found or the fix."""

    name: str
    status: str
    detail: str

    @property
    def passed(self) -> bool:
        return self.status != "FAIL"

    def line(self) -> str:
        return "%-4s %s: %s" % (self.status, self.name, self.detail)


def ok(name: str, detail: str) -> ProbeResult:
    return ProbeResult(name, "OK", detail)


def fail(name: str, detail: str) -> ProbeResult:
    return ProbeResult(name, "FAIL", detail)


def warn(name: str, detail: str) -> ProbeResult:
    return ProbeResult(name, "WARN", detail)


def skip(name: str, detail: str) -> ProbeResult:
    return ProbeResult(name, "SKIP", detail)
