"""What a report is: its specification (one model, used by the command line, the flows and the
connectors) and, once computed, the report itself as the pipeline hands it to a delivery. No
warehouse here: connectors import this module, the pipeline computes reports with `report.py`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from ziwo_reports.timewindows import (
    DURATION_PATTERN,
    INTERVALS,
    MAX_DURATION,
    PRESETS,
    WEEKDAYS,
    ReportZone,
    Window,
    check_day,
    check_instant,
    check_interval_count,
    check_rolling_date,
    duration_text,
    parse_duration,
    parse_timezone,
    rolling_window,
)

if TYPE_CHECKING:  # pyarrow loads with the first report: the models alone (a form, --help) need none of it
    import pyarrow as pa

ReportName = Literal["agent-performance", "queue-performance", "call-details"]
GroupBy = Literal["agent", "team", "queue", "none"]
Interval = Literal["none", "15m", "30m", "hour", "day", "week", "month"]
Outcome = Literal["answered", "successful", "missed", "abandoned", "transferred"]
Direction = Literal["inbound", "outbound", "internal", "service"]
# A dropdown in the Prefect UI's form, or a last_n_days:N text.
RollingDate = Literal[
    "today", "yesterday", "this_week", "last_week", "this_month", "last_month", "last_7_days", "last_30_days", "custom"
]
LastNDays = Annotated[str, Field(pattern=r"^last_n_days:\d+$", title="last_n_days:N")]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

#: Ziwo ids are positive 64-bit integers (BIGINT in the warehouse): larger ones cannot be compared there.
MAX_ID = 2**63 - 1
ZiwoId = Annotated[int, Field(ge=1, le=MAX_ID)]
#: Seconds settings and filters, up to MAX_DURATION (366 days): beyond it a setting means nothing,
#: and the SQL's microsecond arithmetic stays far inside 64 bits.
MAX_SECONDS = int(MAX_DURATION.total_seconds())
Seconds = Annotated[int, Field(ge=0, le=MAX_SECONDS)]


assert set(Interval.__args__) == set(INTERVALS) and set(Weekday.__args__) == set(WEEKDAYS)  # type: ignore[attr-defined]
assert {*RollingDate.__args__, "last_n_days:N"} == set(PRESETS)  # type: ignore[attr-defined]


class ReportFilters(BaseModel):
    """Which legs a report counts. Each filter left empty lets everything through."""

    model_config = ConfigDict(extra="forbid")

    agent_ids: list[ZiwoId] | None = Field(
        default=None, title="Agent ids", description="Only these agents; None: every agent."
    )
    team_ids: list[ZiwoId] | None = Field(
        default=None, title="Team ids", description="Only agents of these teams; None: every team."
    )
    queue_ids: list[ZiwoId] | None = Field(
        default=None, title="Queue ids", description="Only these queues; None: every queue."
    )
    outcomes: list[Outcome] | None = Field(
        default=None,
        title="Outcomes",
        description="Only legs with one of these outcomes ('successful' means answered); None: every outcome.",
    )
    directions: list[Direction] | None = Field(
        default=None, title="Directions", description="Only these directions; None: every direction."
    )
    tags: list[str] | None = Field(
        default=None, title="Tags", description="Only legs with any of these tags; None: with or without tags."
    )
    min_duration_s: Seconds | None = Field(
        default=None,
        title="Minimum duration (s)",
        description="Only legs lasting at least this many seconds; None: any duration.",
    )

    @field_validator("agent_ids", "team_ids", "queue_ids", "directions", "tags")
    @classmethod
    def _empty_means_every(cls, value: list | None) -> list | None:
        # A list switched on in the form and left empty lets everything through, as None does;
        # the SQL would read it as "none of these".
        return value or None

    @field_validator("outcomes")
    @classmethod
    def _successful_means_answered(cls, value: list[str] | None) -> list[str] | None:
        return sorted({"answered" if v == "successful" else v for v in value}) if value else None


class MetricSettings(BaseModel):
    """The choices every contact center makes differently; the defaults are ours (docs/metrics.md)."""

    model_config = ConfigDict(extra="forbid")

    attribute_by: Literal["start", "end"] = Field(
        default="start",
        title="Attribute legs by",
        description="A leg belongs to the window holding its start (or its end).",
    )
    week_start: Weekday = Field(default="monday", title="Week starts on", description="First day of a week.")
    hold_average: Literal["held", "handled"] = Field(
        default="held",
        title="Average hold over",
        description="avg_hold_time_s over legs put on hold, or over handled legs.",
    )
    fcr_window: Annotated[
        timedelta,
        PlainSerializer(duration_text, return_type=str, when_used="json"),
        # pydantic writes a schema's default without the serializer: the text is given here
        WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN}),
    ] = Field(
        default=timedelta(hours=24),
        title="FCR window",
        description="A repeat call within this time after a contact ends unresolves it: 24h, 2d, 90m, 1h30m.",
        json_schema_extra={"default": "24h"},
    )
    fcr_source: Literal["repeat", "disposition", "both"] = Field(
        default="repeat",
        title="FCR source",
        description="What resolves a contact: no repeat call, a resolving disposition, or both.",
    )
    fcr_repeat: Literal["any", "queue", "agent"] = Field(
        default="queue",
        title="FCR repeat",
        description="Which call back unresolves a contact: any inbound call (an IVR hang-up too), one that "
        "reached a queue, or one an agent answered.",
    )
    resolved_dispositions: list[str] = Field(
        default=["Resolved", "Information provided"],
        title="Resolved dispositions",
        description="Dispositions that mean resolved.",
    )
    csat_credit: Literal["last", "first"] = Field(
        default="last",
        title="CSAT credit",
        description="CSAT goes to the last (or first) agent who handled the contact.",
    )
    wrap_up_fallback: Literal["configured", "none"] = Field(
        default="configured",
        title="Wrap-up without a record",
        description="A handled leg without a recorded wrap-up takes the agent's configured wrap-up time "
        "(configured), or none (0 s); wrap_up_estimated_legs counts the legs that took it.",
    )
    short_abandon_s: Seconds = Field(
        default=10,
        title="Short abandon (s)",
        description="Abandons sooner than this are short abandons.",
    )
    service_level_s: Seconds = Field(
        default=20,
        title="Service level (s)",
        description="Answered within this many seconds counts as in SL.",
    )

    @field_validator("fcr_window", mode="before")
    @classmethod
    def _duration_text(cls, value: Any) -> Any:
        # The command line's durations; ISO 8601 (P1D) and numbers of seconds go on to pydantic.
        if isinstance(value, str) and not value.strip().upper().startswith(("P", "-P")):
            try:
                return parse_duration(value)
            except ValueError as problem:
                raise ValueError(f"fcr_window {problem}") from None
        return value

    @field_validator("fcr_window")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError(f"fcr_window {duration_text(value)} must be longer than zero")
        if value > MAX_DURATION:
            raise ValueError(f"fcr_window {duration_text(value)} is longer than {MAX_DURATION.days} days")
        return value


class ReportSpec(BaseModel):
    """What to report on, over which window, in which time zone, grouped and filtered how."""

    model_config = ConfigDict(extra="forbid")

    report: ReportName = Field(default="agent-performance", description="The report.")
    instance: str | None = Field(default=None, description="The Ziwo instance; all instances when empty.")
    rolling_date: RollingDate | LastNDays = Field(
        default="yesterday",
        description="A preset (custom: with start and end), or last_n_days:N for the N full days before today.",
    )
    start: date | None = Field(default=None, description="custom: first day, included.")
    end: date | None = Field(default=None, description="custom: last day, included.")
    timezone: str = Field(default="UTC", description="IANA zone (Asia/Dubai) or offset (UTC-12:00, +04:00).")
    as_of: datetime | None = Field(default=None, description="'Now' for the window; default: the current time.")
    group_by: GroupBy | None = Field(
        default=None, description="agent (default), team, queue or none; queue-performance: queue or none."
    )
    interval: Interval = Field(default="none", description="Rows per interval, or one per group (none).")
    filters: ReportFilters = Field(default_factory=ReportFilters)
    settings: MetricSettings = Field(default_factory=MetricSettings)

    @field_validator("rolling_date", mode="before")
    @classmethod
    def _rolling_date(cls, value: Any) -> Any:
        return check_rolling_date(value) if isinstance(value, str) else value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        parse_timezone(value)
        return value

    @field_validator("as_of")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError(f"as_of {value.isoformat()!r} needs a UTC offset")
        return value if value is None else check_instant(value, "as_of")

    @field_validator("start", "end")
    @classmethod
    def _in_range(cls, value: date | None, info: ValidationInfo) -> date | None:
        return value if value is None else check_day(value, str(info.field_name))

    @model_validator(mode="after")
    def _consistent(self) -> ReportSpec:
        if self.rolling_date == "custom":
            if self.start is None or self.end is None:
                raise ValueError("rolling_date 'custom' needs start and end")
            if self.end < self.start:
                raise ValueError(f"end {self.end} is before start {self.start}")
        elif self.start is not None or self.end is not None:  # else they would be ignored, silently
            pairs = (("start", self.start), ("end", self.end))
            given = " and ".join(f"{name} {value}" for name, value in pairs if value is not None)
            raise ValueError(f"{given}: only with rolling_date 'custom', not with rolling_date {self.rolling_date!r}")
        if self.group_by is None:
            self.group_by = "queue" if self.report == "queue-performance" else "agent"
        if self.report == "queue-performance" and self.group_by not in ("queue", "none"):
            raise ValueError(f"group_by {self.group_by!r}: queue-performance groups by queue or none")
        return self

    @property
    def zone(self) -> ReportZone:
        return parse_timezone(self.timezone)


class ReportSpecError(ValueError):
    """A spec that does not validate, with one line per problem naming the field and value."""


def make_spec(**values: Any) -> ReportSpec:
    """ReportSpec(**values), with validation errors as one readable ReportSpecError."""
    try:
        return ReportSpec(**values)
    except ValidationError as problems:
        lines = []
        for error in problems.errors():
            field = ".".join(str(part) for part in error["loc"] if not isinstance(part, int))
            message = re.sub(r"^Value error, ", "", error["msg"])
            given = error.get("input")
            if not field or message.startswith(field.split(".")[-1]):
                lines.append(message)  # our validators name the field and the value already
            elif isinstance(given, dict):
                lines.append(f"{field}: {message}")
            else:
                lines.append(f"{field} {given!r}: {message}")
        raise ReportSpecError("; ".join(lines)) from None


def report_window(spec: ReportSpec, now: datetime | None = None) -> tuple[datetime, Window]:
    """The spec's "now" (UTC) and window, refused up front when its interval count would pass
    MAX_INTERVALS: counted, not made. Needs no warehouse, so a command checks it first."""
    as_of = (spec.as_of or now or datetime.now(UTC)).astimezone(UTC)
    window = rolling_window(
        spec.rolling_date, spec.zone, as_of, start=spec.start, end=spec.end, week_start=spec.settings.week_start
    )
    try:
        check_interval_count(window, spec.interval, spec.zone, week_start=spec.settings.week_start)
    except ValueError as problem:
        raise ReportSpecError(str(problem)) from None
    return as_of, window


#: The origin of an after_call workflow's batch of calls: `after_call:<workflow>`.
AFTER_CALL = "after_call:"


def after_call_origin(workflow: str) -> str:
    """The origin a workflow's batch of calls carries (the ledger keeps it: a replay leaves those
    calls to the workflow's next run)."""
    return AFTER_CALL + workflow


def after_call_workflow(origin: str | None) -> str | None:
    """The workflow whose after_call batch this origin names, or None."""
    return origin.removeprefix(AFTER_CALL) if origin is not None and origin.startswith(AFTER_CALL) else None


@dataclass
class Report:
    spec: ReportSpec
    zone: ReportZone
    window: Window
    as_of: datetime
    horizon: datetime  # the data the warehouse holds: FCR windows reaching past it are pending
    table: pa.Table
    # Keys set by what made the report when a spec's period does not identify it (an after_call
    # workflow's batch of calls): the report's key, and one key per row of `table`.
    key: str | None = None
    keys: pa.Array | None = None
    # What kept only some rows (a workflow's conditions, as data): pinned in the ledger with the
    # spec, so that a replay computes the report again and keeps the same rows.
    kept_by: dict[str, Any] | None = None
    # What made the report when not a spec alone (`after_call:<workflow>`): the ledger says so.
    origin: str | None = None

    @property
    def title(self) -> str:
        return (
            f"{self.spec.report} {self.zone.iso(self.window.start)} .. {self.zone.iso(self.window.end)} "
            f"({self.spec.rolling_date}, {self.zone.label}), by {self.spec.group_by}"
            + (f", per {self.spec.interval}" if self.spec.interval != "none" else "")
        )


def iso_times(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Timestamps as ISO 8601 text to the second, with the offset of their zone (UTC: +00:00)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # to whole seconds (safe=False truncates the microseconds a cast would refuse to drop)
    unit_s = pa.timestamp("s", tz=values.type.tz)
    text = pc.strftime(values.cast(unit_s, safe=False), format="%Y-%m-%dT%H:%M:%S" + ("%z" if values.type.tz else ""))
    return pc.replace_substring_regex(text, pattern=r"([+-]\d\d)(\d\d)$", replacement=r"\1:\2")


def row_keys(report: Report) -> pa.ChunkedArray | pa.Array:
    """Each row's key, stable across reruns of the same period, for targets that upsert: the
    instance, the report, the group, the interval and the period's start in UTC, e.g.
    `acme:agent-performance:agent=1001:day:2026-11-23T20:00:00Z`; a call-details row is its leg,
    `acme:call-details:<callID>`. Another zone's day is another period, so another key. A report
    that carries its own keys (an after_call batch: `acme:call:<callID>`) has those."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if report.keys is not None:
        return report.keys
    table, spec = report.table, report.spec
    if table.num_rows == 0:
        return pa.array([], pa.string())
    instance = pc.fill_null(table["instance"].cast(pa.string()), "all")
    if spec.report == "call-details":
        return pc.binary_join_element_wise(instance, "call-details", table["call_id"], ":")
    group = pc.fill_null(table["group_id"].cast(pa.string()), "all")
    starts = table["period_start"].cast(pa.timestamp("s", tz="UTC"), safe=False)
    period = pc.strftime(starts, format="%Y-%m-%dT%H:%M:%SZ")
    group = pc.binary_join_element_wise(f"{spec.group_by}", group, "=")
    return pc.binary_join_element_wise(instance, spec.report, group, spec.interval, period, ":")


def report_key(report: Report) -> str:
    """The report's key, stable across reruns of the same period: instance, report, grouping,
    interval, the window in UTC, and a short hash of what else makes it another report (zone,
    filters, settings), e.g. `acme:agent-performance:agent:day:2026-11-23T20:00:00Z..2026-11-24T20:00:00Z:3f2a9c1e`.
    A message that carries a whole report (a webhook) is identified by it; a report that carries
    its own key (an after_call batch) by that."""
    import hashlib

    if report.key is not None:
        return report.key

    spec = report.spec
    varies = spec.model_dump_json(include={"timezone", "filters", "settings"})
    digest = hashlib.sha256(varies.encode()).hexdigest()[:8]
    start, end = (t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in (report.window.start, report.window.end))
    return f"{spec.instance or 'all'}:{spec.report}:{spec.group_by}:{spec.interval}:{start}..{end}:{digest}"


def report_metadata(report: Report) -> dict[str, Any]:
    """What a message about the report says of it besides its rows (JSON-ready)."""
    spec = report.spec
    return {
        "report": spec.report,
        "key": report_key(report),
        "instance": spec.instance,
        "title": report.title,
        "period_start": report.zone.iso(report.window.start),
        "period_end": report.zone.iso(report.window.end),
        "timezone": report.zone.label,
        "rolling_date": spec.rolling_date,
        "group_by": spec.group_by,
        "interval": spec.interval,
        "as_of": report.as_of.astimezone(UTC).isoformat(),
        "horizon": report.horizon.astimezone(UTC).isoformat(),
        "filters": spec.filters.model_dump(mode="json", exclude_none=True),
        "row_count": report.table.num_rows,
    }
