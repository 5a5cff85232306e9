"""The one duration and timestamp formatter every reply uses."""

from __future__ import annotations

from openclaw_connector.timetext import duration, iso_stamp, parse_iso, stamp


def test_durations_read_at_a_glance_from_seconds_to_days():
    assert duration(2) == "2.0 s" and duration(12.44) == "12.4 s"
    assert duration(75) == "1 min 15 s"
    assert duration(2 * 3600 + 600) == "2 h 10 min"
    assert duration(3 * 86400 + 5) == "3 days"
    assert duration(-1) == "0.0 s"
    assert duration(None) == "?" and duration(None, unknown="") == ""


def test_timestamps_are_utc_in_the_seed_format():
    assert stamp(0) == "1970-01-01T00:00:00Z" and stamp(None) == "?"
    assert iso_stamp("2026-02-07T13:00:00.123+01:00") == "2026-02-07T12:00:00Z"
    assert iso_stamp("2026-02-07T12:00:00") == "2026-02-07T12:00:00Z"   # no zone: UTC
    assert iso_stamp("soon") == "soon" and iso_stamp("") == "?"
    assert parse_iso("2026-02-07T12:00:00Z").timestamp() == 1770465600.0
    assert parse_iso("not a time") is None
