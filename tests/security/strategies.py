"""Hypothesis building blocks shared by the security fuzz tests.

``budget(n)``: n examples, derandomized, for CI; ``SECURITY_FUZZ_EXAMPLES`` (a
test-only knob, tests/security/README.md) raises the count and randomizes.
``JSON`` is any JSON value; ``maybe(s)`` is ``s`` or junk of any JSON type in
its place; ``TEXTS`` are chat texts, commands and not.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("SECURITY_FUZZ_EXAMPLES", "0") or 0)


def budget(default: int) -> settings:
    return settings(max_examples=EXAMPLES or default, deadline=None, derandomize=not EXAMPLES,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) |
    st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=12)
COMMANDS = ["/help", "/status", "/jobs", "/history x", "/run portrait", "/stop", "/approvals",
            "/approve apr_1", "/schedules", "/HELP", "@bot /status", "/status@otherbot",
            "hello", "", " /status", "/"]
TEXTS = st.sampled_from(COMMANDS) | st.text(max_size=40)


def maybe(strategy):
    """The strategy, or junk of any JSON type in its place."""
    return st.one_of(strategy, JSON)
