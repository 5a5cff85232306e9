"""The resolver answers IP literals without getaddrinfo and still resolves names."""

import socket

import pytest

from openclaw_connector.net.resolver import LiteralFirstResolver


@pytest.mark.gen_test(timeout=10)
async def test_literals_and_names():
    resolver = LiteralFirstResolver()
    try:
        assert await resolver.resolve("127.0.0.1", 8188) == [(socket.AF_INET, ("127.0.0.1", 8188))]
        assert await resolver.resolve("[::1]", 80) == [(socket.AF_INET6, ("::1", 80, 0, 0))]
        named = await resolver.resolve("localhost", 80, socket.AF_INET)
        assert named and named[0][1] == ("127.0.0.1", 80)
    finally:
        resolver.close()
