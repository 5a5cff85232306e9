"""Suite-wide fixtures: every test fails at teardown if a fake saw an unscripted call."""

from __future__ import annotations

import pytest

from tests.fakes import scripted


@pytest.fixture(autouse=True)
def fakes_saw_only_scripted_calls():
    """Teardown: any ``fake.unexpected`` entry (tests/fakes/scripted.py) fails the test."""
    yield
    scripted.check_all()
