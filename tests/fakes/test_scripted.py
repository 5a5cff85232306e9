"""The fakes' shared scripted base: every fake flags a call nobody scripted, once."""

from __future__ import annotations

import pytest
from tornado.httpclient import AsyncHTTPClient

from tests.fakes import scripted
from tests.fakes.discord import FakeDiscord
from tests.fakes.line import FakeLine
from tests.fakes.openclaw import FakeOpenClaw
from tests.fakes.whatsapp import FakeWhatsApp


@pytest.mark.gen_test(timeout=10)
async def test_each_fake_flags_an_unscripted_path_and_the_teardown_check_reports_it():
    """An unrouted path gets the platform's 404/500 and lands in ``unexpected``;
    ``check_all`` (run at every test's teardown) names fake and call, then clears them."""
    http = AsyncHTTPClient(force_instance=True)
    try:
        async with FakeOpenClaw() as oc, FakeLine() as line, FakeWhatsApp() as wa, \
                FakeDiscord() as dc:
            for base in (oc.url, line.url, wa.url, dc.api_base):
                resp = await http.fetch(base + "/nowhere", raise_error=False)
                assert resp.code in (404, 500), (base, resp.code)
            known = await http.fetch(oc.url + "/system_stats", raise_error=False)
            assert known.code == 200 and oc.unexpected == ["GET /nowhere"]
            with pytest.raises(AssertionError) as failed:
                scripted.check_all()
            for name in ("FakeOpenClaw", "FakeLine", "FakeWhatsApp", "FakeDiscord"):
                assert name in str(failed.value)
            assert "/nowhere" in str(failed.value)
            assert [oc.unexpected, line.unexpected, wa.unexpected, dc.unexpected] == \
                [[], [], [], []]
            scripted.check_all()            # reported once: nothing left to fail on
    finally:
        http.close()
