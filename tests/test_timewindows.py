"""Rolling dates, time zones and intervals: boundaries worked out by hand, and properties."""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ziwo_reports.timewindows import Window, intervals, parse_timezone, period_lookup, rolling_window

ZONES = ("UTC-12:00", "UTC+14:00", "Asia/Kolkata", "America/New_York")

# Local calendar of each preset, as of noon on a day: (first day, last day included) or
# (first day, None) for windows that run to "now". The same in every zone: only offsets differ.
PRESETS = {
    date(2026, 3, 8): {  # a Sunday; New York springs forward at 02:00
        "today": (date(2026, 3, 8), None),
        "yesterday": (date(2026, 3, 7), date(2026, 3, 7)),
        "this_week": (date(2026, 3, 2), None),
        "last_week": (date(2026, 2, 23), date(2026, 3, 1)),
        "this_month": (date(2026, 3, 1), None),
        "last_month": (date(2026, 2, 1), date(2026, 2, 28)),
        "last_7_days": (date(2026, 3, 1), date(2026, 3, 7)),
        "last_30_days": (date(2026, 2, 6), date(2026, 3, 7)),
        "last_n_days:1": (date(2026, 3, 7), date(2026, 3, 7)),
    },
    date(2026, 11, 1): {  # a Sunday; New York falls back at 02:00
        "today": (date(2026, 11, 1), None),
        "yesterday": (date(2026, 10, 31), date(2026, 10, 31)),
        "this_week": (date(2026, 10, 26), None),
        "last_week": (date(2026, 10, 19), date(2026, 10, 25)),
        "this_month": (date(2026, 11, 1), None),
        "last_month": (date(2026, 10, 1), date(2026, 10, 31)),
        "last_7_days": (date(2026, 10, 25), date(2026, 10, 31)),
        "last_30_days": (date(2026, 10, 2), date(2026, 10, 31)),
        "last_n_days:1": (date(2026, 10, 31), date(2026, 10, 31)),
    },
}


def offset_at_midnight(zone: str, day: date) -> str:
    """By hand: fixed zones keep their offset; New York is on EDT from 2026-03-08 02:00 to 2026-11-01 02:00."""
    fixed = {"UTC-12:00": "-12:00", "UTC+14:00": "+14:00", "Asia/Kolkata": "+05:30"}
    if zone in fixed:
        return fixed[zone]
    return "-04:00" if date(2026, 3, 9) <= day <= date(2026, 11, 1) else "-05:00"


def noon(zone: str, day: date) -> datetime:
    return datetime.combine(day, datetime.min.time().replace(hour=12), parse_timezone(zone).tz)


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("as_of_day", sorted(PRESETS))
def test_every_preset_in_every_zone(zone, as_of_day):
    report_zone = parse_timezone(zone)
    now = noon(zone, as_of_day)
    for preset, (first, last) in PRESETS[as_of_day].items():
        window = rolling_window(preset, report_zone, now)
        assert report_zone.iso(window.start) == f"{first}T00:00:00{offset_at_midnight(zone, first)}", preset
        if last is None:
            assert window.end == now.astimezone(UTC), preset
        else:
            after = last + timedelta(days=1)
            assert report_zone.iso(window.end) == f"{after}T00:00:00{offset_at_midnight(zone, after)}", preset


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("America/New_York", date(2026, 3, 8), 23),
        ("America/New_York", date(2026, 11, 1), 25),
        ("Asia/Kolkata", date(2026, 11, 1), 24),
        ("UTC-12:00", date(2026, 3, 8), 24),
        ("UTC+14:00", date(2026, 11, 1), 24),
    ],
)
def test_a_local_day_lasts_23_24_or_25_hours(zone, day, hours):
    report_zone = parse_timezone(zone)
    window = rolling_window("custom", report_zone, noon(zone, day), start=day, end=day)
    assert window.end - window.start == timedelta(hours=hours)
    assert len(list(intervals(window, "hour", report_zone))) == hours
    assert len(list(intervals(window, "day", report_zone))) == 1


def test_the_repeated_hour_appears_twice_with_its_offsets():
    zone = parse_timezone("America/New_York")
    day = date(2026, 11, 1)
    labels = [
        zone.iso(i.start)
        for i in intervals(rolling_window("custom", zone, noon(zone.label, day), start=day, end=day), "hour", zone)
    ]
    assert labels[1:3] == ["2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00"]
    march = date(2026, 3, 8)
    window = rolling_window("custom", zone, noon(zone.label, march), start=march, end=march)
    spring = [zone.iso(i.start) for i in intervals(window, "hour", zone)]
    assert spring[1:3] == ["2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00"]


@pytest.mark.parametrize(
    ("text", "label", "offset"),
    [
        ("UTC-12:00", "UTC-12:00", -12),
        ("UTC+14:00", "UTC+14:00", 14),
        ("+04:00", "UTC+04:00", 4),
        ("GMT-3", "UTC-03:00", -3),
        ("UTC+05:30", "UTC+05:30", 5.5),
        ("utc", "UTC", 0),
        ("Etc/GMT+12", "Etc/GMT+12", -12),
        ("Etc/GMT-14", "Etc/GMT-14", 14),
    ],
)
def test_time_zones_as_users_write_them(text, label, offset):
    zone = parse_timezone(text)
    assert zone.label == label
    assert zone.tz.utcoffset(datetime(2026, 6, 1)) == timedelta(hours=offset)


@pytest.mark.parametrize("text", ["Mars/Olympus", "UTC+15:00", "UTC-13", "+04:75", ""])
def test_bad_time_zones_are_refused_by_name(text):
    with pytest.raises(ValueError, match="timezone"):
        parse_timezone(text)


@pytest.mark.parametrize(
    ("preset", "message"),
    [
        ("last_n_days:0", "N must be at least 1"),
        ("last_n_days:-3", "N must be at least 1"),
        ("fortnight", "is not one of"),
        ("last_n_days:N", "is not one of"),
    ],
)
def test_bad_rolling_dates(preset, message):
    with pytest.raises(ValueError, match=message):
        rolling_window(preset, parse_timezone("UTC"), datetime(2026, 11, 1, tzinfo=UTC))


def test_custom_needs_an_ordered_range_and_week_start_is_configurable():
    zone = parse_timezone("UTC")
    now = datetime(2026, 11, 4, 12, tzinfo=UTC)  # a Wednesday
    with pytest.raises(ValueError, match="custom end 2026-11-01 is before start 2026-11-05"):
        rolling_window("custom", zone, now, start=date(2026, 11, 5), end=date(2026, 11, 1))
    assert rolling_window("this_week", zone, now, week_start="sunday").start == datetime(2026, 11, 1, tzinfo=UTC)
    assert rolling_window("this_week", zone, now).start == datetime(2026, 11, 2, tzinfo=UTC)


zones = st.sampled_from([*ZONES, "UTC", "Asia/Dubai", "Australia/Lord_Howe", "America/Santiago", "Pacific/Chatham"])
instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC))


@settings(max_examples=200, deadline=None)
@given(zone=zones, now=instants, n=st.integers(1, 40))
def test_consecutive_days_neither_overlap_nor_leave_gaps(zone, now, n):
    report_zone = parse_timezone(zone)
    today = report_zone.local(now).date()
    previous = None
    for offset in range(n, 0, -1):
        day = today - timedelta(days=offset)
        window = rolling_window("custom", report_zone, now, start=day, end=day)
        assert window.start < window.end
        if previous is not None:
            assert previous.end == window.start
        previous = window
    assert previous.end == rolling_window("today", report_zone, now).start
    assert rolling_window("yesterday", report_zone, now) == previous
    assert rolling_window(f"last_n_days:{n}", report_zone, now).end == previous.end


@settings(max_examples=200, deadline=None)
@given(
    zone=zones,
    now=instants,
    preset=st.sampled_from(["today", "this_week", "last_week", "this_month", "last_month", "last_30_days"]),
    interval=st.sampled_from(["15m", "30m", "hour", "day", "week", "month", "none"]),
    week_start=st.sampled_from(["monday", "sunday", "saturday"]),
)
def test_intervals_tile_the_window(zone, now, preset, interval, week_start):
    report_zone = parse_timezone(zone)
    window = rolling_window(preset, report_zone, now, week_start=week_start)
    spans = list(intervals(window, interval, report_zone, week_start=week_start))
    if window.end == window.start:
        assert spans == []
        return
    assert spans[0].start == window.start and spans[-1].end == window.end
    assert all(a.end == b.start for a, b in pairwise(spans))
    assert all(isinstance(s, Window) and s.start < s.end for s in spans)
    if interval in ("day", "week", "month"):
        # Calendar intervals start at the first instant of a local day (01:00 where midnight is skipped).
        assert all(report_zone.midnight(report_zone.local(s.start).date()) == s.start for s in spans)


def lookup_period(lookup, instant: datetime) -> int:
    """What the report SQL computes per leg (`sql/metrics/report_legs.sql`), in Python."""
    at = round((instant - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))
    bucket = (at - lookup.origin_us) // lookup.bucket_us
    return lookup.periods[bucket] + (at >= lookup.splits[bucket])


@settings(max_examples=300, deadline=None)
@given(
    zone=zones,
    now=instants,
    preset=st.sampled_from(["today", "this_week", "last_month", "last_30_days", "last_n_days:400"]),
    interval=st.sampled_from(["15m", "hour", "day", "week", "month", "none"]),
    week_start=st.sampled_from(["monday", "sunday"]),
    fractions=st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=30),
)
def test_period_lookup_finds_the_interval_holding_an_instant(zone, now, preset, interval, week_start, fractions):
    report_zone = parse_timezone(zone)
    window = rolling_window(preset, report_zone, now, week_start=week_start)
    spans = list(intervals(window, interval, report_zone, week_start=week_start))
    if not spans:
        return
    lookup = period_lookup(spans)
    # the instants to place: random ones, and the first and last microsecond of periods
    last = window.end - timedelta(microseconds=1)
    instants = [min(window.start + (window.end - window.start) * f, last) for f in fractions]
    edges = spans[:: max(1, len(spans) // 100)] + spans[-3:]
    instants += [s.start for s in edges] + [s.end - timedelta(microseconds=1) for s in edges]
    starts = [s.start for s in spans]
    for instant in instants:
        expected = bisect_right(starts, instant) - 1
        assert spans[expected].start <= instant < spans[expected].end
        assert lookup_period(lookup, instant) == expected, (instant, spans[expected])
    assert len(lookup.periods) <= max(len(spans) * 2, 2)  # a few entries per period, not one per leg's second
