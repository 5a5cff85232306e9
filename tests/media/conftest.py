"""Fixtures shared with the channel tests (the fake Discord on loopback)."""

from tests.channels.discord.conftest import fake_discord  # noqa: F401  (a fixture)
