"""One reading of a server's "wait before retrying": the JSON field first, else the
``Retry-After`` header; nothing usable gives None (the caller's backoff decides)."""

from __future__ import annotations

from tornado.httputil import HTTPHeaders

from openclaw_connector.net.retry import retry_after


def test_the_body_field_wins_over_the_header():
    headers = HTTPHeaders({"Retry-After": "5"})
    assert retry_after(headers, {"retry_after": 0.5}) == 0.5
    assert retry_after(headers, {"retry_after_sec": 2}, key="retry_after_sec") == 2.0
    assert retry_after(headers, {"other": 1}) == 5.0
    assert retry_after(headers, None) == 5.0


def test_unusable_values_give_none():
    assert retry_after(None, None) is None
    assert retry_after(HTTPHeaders({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), {}) is None
    assert retry_after({}, {"retry_after": -1}) is None
    assert retry_after({}, {"retry_after": True}) is None
    assert retry_after({}, {"retry_after": "nan"}) is None
    assert retry_after({"Retry-After": "0"}, "not a mapping") == 0.0
