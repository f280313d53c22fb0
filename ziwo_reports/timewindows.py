"""The one time-window module: report time zones, rolling dates and intervals.

Windows are half-open `[start, end)` instants. Day, week and month boundaries fall on local
midnight of the report zone, so a local day lasts 23 or 25 hours on DST change days; 15-minute,
30-minute and hourly intervals are absolute durations, labelled in local time (on a 25-hour day
the repeated hour appears twice, with different offsets).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PRESETS = (
    "today",
    "yesterday",
    "this_week",
    "last_week",
    "this_month",
    "last_month",
    "last_7_days",
    "last_30_days",
    "last_n_days:N",
    "custom",
)
INTERVALS = ("none", "15m", "30m", "hour", "day", "week", "month")
INTERVAL_SECONDS = {"15m": 900, "30m": 1800, "hour": 3600}  # absolute lengths; the others follow the calendar
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

#: The days users may give (custom windows, --as-of, ingest and pull ranges, the simulator's now):
#: no Ziwo call predates 2000 and no run looks past 2100. The bounds keep every date sum in the
#: pipeline (ten years back, a window's edges plus two days, a zone's 14 hours) far from the
#: ends of Python's calendar (years 1 to 9999), where they would overflow.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
#: The most days a window reaches back (last_n_days:N) or a first ingest reads: ten years, beyond
#: any contact center's reporting and inside the date bounds from any day in them.
MAX_DAYS = 3660
#: The longest duration accepted (ingest lookback, FCR window, seconds settings and filters): a leap
#: year. Re-reading more is a backfill (--from/--to), a longer FCR window is not first-call resolution.
MAX_DURATION = timedelta(days=366)

#: The most periods a report may have: a year of 15-minute intervals (366 x 96). Each period costs
#: lookup buckets and a row per group; `last_n_days:99999 --interval 15m` would need 9.6 million
#: periods and gigabytes before the first leg is read.
MAX_INTERVALS = 366 * 96

_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
_LAST_N = re.compile(r"^last_n_days:(-?\d+)$")

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms])")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> timedelta:
    """`48h`, `2d`, `90m`, `1h30m` or plain hours (`36`), up to MAX_DURATION (366 days)."""
    cleaned = text.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", cleaned):
        seconds = float(cleaned) * 3600
    elif not cleaned or _DURATION.sub("", cleaned):
        raise ValueError(f"{text!r} is not a duration such as 48h, 2d, 90m or 1h30m")
    else:
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _DURATION.findall(cleaned))
    if seconds > MAX_DURATION.total_seconds():  # checked before timedelta(), which overflows on huge numbers
        raise ValueError(f"{text!r} is longer than {MAX_DURATION.days} days, the longest duration accepted")
    return timedelta(seconds=seconds)


#: The durations `parse_duration` reads: 24h, 2d, 90m, 1h30m, or a number of hours.
DURATION_PATTERN = r"^\s*(?:\d+(?:\.\d+)?\s*[dhmsDHMS]\s*)+$|^\s*\d+(?:\.\d+)?\s*$"


def duration_text(value: timedelta) -> str:
    """A duration as `parse_duration` reads it: whole days from two days on (2d), else hours,
    minutes and seconds (24h, 1h30m, 45s)."""
    seconds = value.total_seconds()
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    if seconds and seconds % 86400 == 0 and seconds >= 2 * 86400:
        return f"{sign}{int(seconds // 86400)}d"
    whole, fraction = divmod(seconds, 1)
    hours, rest = divmod(int(whole), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m")) if n]
    if secs or fraction or not parts:
        parts.append(f"{secs + fraction:g}s" if fraction else f"{secs}s")
    return sign + "".join(parts)


def check_day(value: date, name: str) -> date:
    """`value`, if it lies in FIRST_DAY..LAST_DAY; else a ValueError naming `name` and the bounds."""
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"{name} {value} is outside the years {FIRST_DAY.year} to {LAST_DAY.year} that dates may take")
    return value


def check_instant(value: datetime, name: str) -> datetime:
    """`value`, if its date (as written) lies in FIRST_DAY..LAST_DAY."""
    if not FIRST_DAY <= value.date() <= LAST_DAY:
        raise ValueError(
            f"{name} {value.isoformat()} is outside the years {FIRST_DAY.year} to {LAST_DAY.year} that dates may take"
        )
    return value


def check_days(value: int, name: str) -> int:
    """A number of days: 1 to MAX_DAYS."""
    if not 1 <= value <= MAX_DAYS:
        raise ValueError(f"{name} {value} is not between 1 and {MAX_DAYS} days (ten years)")
    return value


@dataclass(frozen=True)
class ReportZone:
    """A report time zone: an IANA zone or a fixed UTC offset, with the label users wrote."""

    label: str
    tz: tzinfo

    def local(self, instant: datetime) -> datetime:
        return instant.astimezone(self.tz)

    def midnight(self, day: date) -> datetime:
        """The first instant of a local day, in UTC (round-tripped, so a midnight that does not
        exist on a DST day moves to the first time that does)."""
        return datetime.combine(day, time(), self.tz).astimezone(UTC).astimezone(self.tz).astimezone(UTC)

    def iso(self, instant: datetime) -> str:
        """ISO 8601 in local time with the offset, e.g. 2026-11-01T01:00:00-05:00."""
        return instant.astimezone(self.tz).isoformat()

    @property
    def arrow_name(self) -> str:
        """The zone as Arrow names it: the IANA key, or an offset such as +04:00."""
        return getattr(self.tz, "key", None) or self.label.replace("UTC", "") or "+00:00"


def parse_timezone(text: str) -> ReportZone:
    """IANA names (`Asia/Dubai`, `Etc/GMT+12` meaning UTC-12) and offsets as users write them:
    `UTC-12:00`, `UTC+05:30`, `+04:00`, `GMT-3`, `UTC`."""
    cleaned = (text or "").strip()
    if cleaned.upper() in ("UTC", "GMT", "Z"):
        return ReportZone("UTC", UTC)
    match = _OFFSET.match(cleaned)
    if match:
        sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
        offset = timedelta(hours=hours, minutes=minutes)
        if minutes >= 60 or offset > timedelta(hours=14) or (sign == "-" and offset > timedelta(hours=12)):
            raise ValueError(f"timezone {text!r} is not a UTC offset between -12:00 and +14:00")
        signed = offset if sign == "+" else -offset
        label = "UTC" if not offset else f"UTC{sign}{hours:02d}:{minutes:02d}"
        return ReportZone(label, timezone(signed) if offset else UTC)
    try:
        return ReportZone(cleaned, ZoneInfo(cleaned))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"timezone {text!r} is neither an IANA time zone (Asia/Dubai) nor a UTC offset (UTC-12:00, +04:00)"
        ) from None


@dataclass(frozen=True)
class Window:
    start: datetime  # UTC, included
    end: datetime  # UTC, excluded

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"window end {self.end} is before its start {self.start}")


def week_start_index(name: str) -> int:
    try:
        return WEEKDAYS.index(name.lower())
    except ValueError:
        raise ValueError(f"week_start {name!r} is not a weekday name (monday ... sunday)") from None


def check_rolling_date(text: str) -> str:
    """The rolling date, checked: one of PRESETS, with 1 <= N <= MAX_DAYS for last_n_days:N."""
    value = (text or "").strip().lower()
    match = _LAST_N.match(value)
    if match:
        negative, digits = match.group(1).startswith("-"), match.group(1).lstrip("-").lstrip("0")
        if negative or not digits:
            raise ValueError(f"rolling_date {text!r}: N must be at least 1")
        if len(digits) > len(str(MAX_DAYS)) or int(digits) > MAX_DAYS:  # no int() of a 5,000-digit number
            raise ValueError(f"rolling_date {text!r}: N must be at most {MAX_DAYS} (ten years)")
        return value
    if value not in PRESETS or value == "last_n_days:N".lower():
        raise ValueError(f"rolling_date {text!r} is not one of {', '.join(PRESETS)}")
    return value


def rolling_window(
    rolling_date: str,
    zone: ReportZone,
    now: datetime,
    *,
    start: date | None = None,
    end: date | None = None,
    week_start: str = "monday",
) -> Window:
    """The window of a rolling date at `now`. `today` and `this_*` run to now; `last_*_days` are
    the full days before today; `custom` runs from local midnight of `start` to the midnight after `end`."""
    preset = check_rolling_date(rolling_date)
    today = zone.local(now).date()
    first_weekday = week_start_index(week_start)
    this_week = today - timedelta(days=(today.weekday() - first_weekday) % 7)
    this_month = today.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    midnight = zone.midnight
    if preset == "custom":
        if start is None or end is None:
            raise ValueError("rolling_date 'custom' needs a start and an end date")
        if end < start:
            raise ValueError(f"custom end {end} is before start {start}")
        return Window(midnight(start), midnight(end + timedelta(days=1)))
    if preset.startswith("last_n_days:") or preset in ("last_7_days", "last_30_days"):
        n = 7 if preset == "last_7_days" else 30 if preset == "last_30_days" else int(preset.split(":")[1])
        return Window(midnight(today - timedelta(days=n)), midnight(today))
    now_utc = now.astimezone(UTC)
    windows = {
        "today": (midnight(today), now_utc),
        "yesterday": (midnight(today - timedelta(days=1)), midnight(today)),
        "this_week": (midnight(this_week), now_utc),
        "last_week": (midnight(this_week - timedelta(days=7)), midnight(this_week)),
        "this_month": (midnight(this_month), now_utc),
        "last_month": (midnight(last_month), midnight(this_month)),
    }
    return Window(*windows[preset])


def _next_boundary(zone: ReportZone, local_day: date, interval: str, first_weekday: int) -> date:
    if interval == "day":
        return local_day + timedelta(days=1)
    if interval == "week":
        return local_day + timedelta(days=7 - (local_day.weekday() - first_weekday) % 7)
    return (local_day.replace(day=28) + timedelta(days=4)).replace(day=1)  # month


def intervals(window: Window, interval: str, zone: ReportZone, *, week_start: str = "monday") -> Iterator[Window]:
    """Consecutive intervals covering the window exactly, clipped to it."""
    if interval not in INTERVALS:
        raise ValueError(f"interval {interval!r} is not one of {', '.join(INTERVALS)}")
    if window.end <= window.start:
        return
    if interval == "none":
        yield window
        return
    if interval in ("15m", "30m", "hour"):
        step = timedelta(seconds=INTERVAL_SECONDS[interval])
        start = window.start
        while start < window.end:
            yield Window(start, min(start + step, window.end))
            start += step
        return
    first_weekday = week_start_index(week_start)
    start = window.start
    local_day = zone.local(start).date()
    while start < window.end:
        local_day = _next_boundary(zone, local_day, interval, first_weekday)
        end = min(zone.midnight(local_day), window.end)
        yield Window(start, end)
        start = end


def interval_count(window: Window, interval: str, zone: ReportZone, *, week_start: str = "monday") -> int:
    """How many intervals `intervals` yields for the window, worked out without making them."""
    if interval not in INTERVALS:
        raise ValueError(f"interval {interval!r} is not one of {', '.join(INTERVALS)}")
    if window.end <= window.start:
        return 0
    if interval == "none":
        return 1
    if interval in INTERVAL_SECONDS:
        return -(-(window.end - window.start) // timedelta(seconds=INTERVAL_SECONDS[interval]))  # rounded up
    first = zone.local(window.start).date()
    last = zone.local(window.end - timedelta(microseconds=1)).date()  # the last local day inside
    if interval == "day":
        return (last - first).days + 1
    if interval == "week":
        boundary = _next_boundary(zone, first, "week", week_start_index(week_start))
        return 1 if boundary > last else 2 + (last - boundary).days // 7
    return (last.year - first.year) * 12 + last.month - first.month + 1  # month


def check_interval_count(window: Window, interval: str, zone: ReportZone, *, week_start: str = "monday") -> int:
    """The number of intervals, refused beyond MAX_INTERVALS before any is made."""
    count = interval_count(window, interval, zone, week_start=week_start)
    if count > MAX_INTERVALS:
        days = (window.end - window.start) / timedelta(days=1)
        raise ValueError(
            f"interval {interval!r} over a window of {days:,.0f} days makes {count:,} periods, more than the "
            f"{MAX_INTERVALS:,} a report may have (a year of 15-minute intervals): choose a longer interval "
            "or a shorter window"
        )
    return count


_NO_SPLIT = 2**63 - 1  # a bucket with no period start inside it


@dataclass(frozen=True)
class PeriodLookup:
    """Which of consecutive periods an instant falls in, found without time zone arithmetic.

    From `origin` the time line is cut into buckets of `bucket_us` microseconds, no longer than
    the shortest period between two period starts, so a bucket holds at most one period start
    inside it. An instant in bucket b (from 0) is in period `periods[b]`, or the next one from
    `splits[b]` (epoch microseconds; 2**63-1 when no period starts inside the bucket). This is
    what the report SQL evaluates per leg, instead of converting every leg to local time."""

    origin_us: int
    bucket_us: int
    periods: list[int]
    splits: list[int]


def _epoch_us(instant: datetime) -> int:
    delta = instant - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def period_lookup(spans: list[Window]) -> PeriodLookup:
    """The lookup of consecutive `spans`, as `intervals` yields them."""
    if not spans:
        return PeriodLookup(0, 1, [], [])
    starts = [_epoch_us(span.start) for span in spans]
    end = _epoch_us(spans[-1].end)
    inner = starts[1:]  # the period starts an instant can fall on either side of
    gaps = [b - a for a, b in pairwise(inner)]
    bucket = min(gaps) if gaps else end - starts[0]
    periods: list[int] = []
    splits: list[int] = []
    period = 0
    for bucket_start in range(starts[0], end, bucket):
        while period + 1 < len(starts) and starts[period + 1] <= bucket_start:
            period += 1
        periods.append(period)
        following = starts[period + 1] if period + 1 < len(starts) else None
        splits.append(following if following is not None and following < bucket_start + bucket else _NO_SPLIT)
    return PeriodLookup(starts[0], bucket, periods, splits)
