"""The one base every fake server shares: a call the test did not script fails the test.

A fake answers what its platform documents and what the test scripted; anything else
(an unknown Bot API method, an unrouted REST path, an unknown gateway op) is recorded
with :meth:`ScriptedFake.unscripted` in ``fake.unexpected`` and answered like the real
service would (404/500).  The autouse fixture in ``tests/conftest.py`` calls
:func:`check_all` at every test's teardown, so such a call fails the test even when the
code under test shrugged the error off.  A test that provokes one on purpose asserts it
and takes it back with :meth:`ScriptedFake.take_unexpected`.
"""

from __future__ import annotations

import weakref

_LIVE: "weakref.WeakSet[ScriptedFake]" = weakref.WeakSet()


class ScriptedFake:
    """Mixin for the fakes: ``unexpected`` calls, reported once at teardown."""

    unexpected: list[str]

    def __init__(self) -> None:
        self.unexpected = []
        _LIVE.add(self)

    def unscripted(self, call: str) -> None:
        """Record a call nobody scripted (``"POST /v2/bot/foo"``, ``"getFoo"``, ...)."""
        self.unexpected.append(call)

    def take_unexpected(self) -> list[str]:
        """The unscripted calls so far, cleared (for tests that provoke them on purpose)."""
        taken = list(self.unexpected)
        self.unexpected.clear()
        return taken


def check_all() -> None:
    """Fail if any live fake recorded an unscripted call (each is reported once)."""
    problems = []
    for fake in list(_LIVE):
        calls = fake.take_unexpected()
        if calls:
            problems.append("%s: %s" % (type(fake).__name__, ", ".join(calls)))
    if problems:
        raise AssertionError("unscripted calls reached the fakes: " + "; ".join(problems))
