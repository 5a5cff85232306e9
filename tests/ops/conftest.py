"""Fixtures for the operations tests (tests/ops): the identity fake and configs."""

from __future__ import annotations

import pytest

from openclaw_connector import config as configmod
from tests.ops import identity_fake as fakemod
from tests.harness import flatten
from tests.ops.identity_fake import RunningFake


@pytest.fixture
def identity_fake(io_loop):
    """The identity fake, listening on 127.0.0.1:<ephemeral>."""
    url, expect, server = fakemod.start()
    yield RunningFake(url, expect)
    expect.release.set()
    server.stop()


@pytest.fixture
def make_cfg():
    """Build a validated Config from a dict, as the CLI would from a YAML file."""
    def make(data: dict) -> configmod.Config:
        return configmod.load(None, env={}, overrides=flatten(data))
    return make
