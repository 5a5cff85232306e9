"""Old name of the test harness; kept importable for tests written before
``tests/harness.py`` (new tests import from ``tests.harness``)."""

from tests.harness import (CapturedOutput, ConsolePipe, make_config,  # noqa: F401
                           outbox_for, running_daemon)
