"""Incremental, idempotent ingest of one Ziwo instance into the warehouse.

A run plans the days to read (the cursor minus a lookback window, a backfill range, or a full
refresh), refreshes agents, queues, numbers and teams, then for each day pulls the call legs,
checks them (the client's parse checks, then the data-quality suite) and loads them. Each load is
one transaction that also adds to the run's counts and moves the cursor, so a crash at any point
leaves the warehouse consistent, and the next run, reading the lookback again, neither loses nor
duplicates a call.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from ziwo_reports.connectors.ziwo import CallRecord, ListingCheck, Reject, ZiwoClient, ZiwoListingError, days
from ziwo_reports.connectors.ziwo.records import AGENT_COLUMNS, NUMBER_COLUMNS, QUEUE_COLUMNS, Column, parse_row
from ziwo_reports.contacts import ensure_contacts, refresh_contacts
from ziwo_reports.redaction import redact
from ziwo_reports.staging import (
    Loadable,
    QuarantineEntry,
    calls_table,
    quarantine_table,
    raw_json,
    record_hash,
    reference_table,
)
from ziwo_reports.timewindows import MAX_DURATION, check_day, check_days
from ziwo_reports.warehouse import Warehouse

if TYPE_CHECKING:
    from ziwo_reports.quality import CallChecks

Mode = Literal["incremental", "backfill", "full_refresh"]
CALLS = "calls"


@dataclass(frozen=True)
class IngestOptions:
    lookback: timedelta = timedelta(hours=48)  # re-read so late and changed calls are picked up
    first_day: date | None = None  # with last_day: a backfill of these instance days
    last_day: date | None = None
    full_refresh: bool = False  # re-read everything; remove legs Ziwo no longer lists
    initial_days: int = 30  # what a first run reads
    flush_rows: int = 20_000  # legs staged per load; bounds memory on big days
    validate: bool = True  # run the data-quality suite

    def __post_init__(self) -> None:
        if self.lookback < timedelta(0):
            raise ValueError(f"lookback must not be negative, got {self.lookback}")
        if self.lookback > MAX_DURATION:
            raise ValueError(f"lookback {self.lookback} is longer than {MAX_DURATION.days} days: backfill instead")
        check_days(self.initial_days, "initial_days")  # today minus it stays a date
        for name in ("first_day", "last_day"):
            if getattr(self, name) is not None:
                check_day(getattr(self, name), name)
        if self.first_day and self.last_day and self.last_day < self.first_day:
            raise ValueError(f"last day {self.last_day} is before first day {self.first_day}")


@dataclass(frozen=True)
class IngestPlan:
    instance: str
    mode: Mode
    first_day: date
    last_day: date
    again: tuple[date, ...] = ()  # days whose listing an earlier run could not verify

    @property
    def days(self) -> list[date]:
        return sorted({*days(self.first_day, self.last_day), *self.again})

    def describe(self) -> str:
        """`2026-11-18..2026-11-20`, and the days read again outside that range."""
        outside = [str(day) for day in self.again if not self.first_day <= day <= self.last_day]
        return f"{self.first_day}..{self.last_day}" + (f" and again {', '.join(outside)}" if outside else "")


def plan_ingest(
    warehouse: Warehouse, instance: str, timezone: str, options: IngestOptions, now: datetime | None = None
) -> IngestPlan:
    """Which instance days to read. Dates are the instance's calendar days, as Ziwo lists them.
    Besides its range, a run that is not a backfill reads again the days whose listing an earlier
    run could not verify."""
    today = (now or datetime.now(UTC)).astimezone(ZoneInfo(timezone)).date()
    mode: Mode = "full_refresh" if options.full_refresh else "incremental"
    if options.first_day or options.last_day:
        first = options.first_day or options.last_day
        last = options.last_day or today
        assert first is not None
        return IngestPlan(instance, "full_refresh" if options.full_refresh else "backfill", first, last)
    again = tuple(day for (day,) in warehouse.rows("unverified_days", instance=instance))
    first = today - timedelta(days=options.initial_days - 1)
    if options.full_refresh:
        (held_from,) = warehouse.one("first_held_day", instance=instance)
        return IngestPlan(instance, mode, min(first, held_from or first), today, again)
    row = warehouse.one("read_cursor", instance=instance, stream=CALLS)
    if row and row[0] is not None:
        first = min((row[0] - options.lookback).astimezone(ZoneInfo(timezone)).date(), today)
    return IngestPlan(instance, mode, first, today, again)


@dataclass
class Counts:
    pages: int = 0
    records: int = 0  # legs read from Ziwo, good and bad
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    quarantined: int = 0
    retries: int = 0
    relogins: int = 0

    def add(self, other: Counts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def summary(self) -> str:
        text = (
            f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.quarantined} quarantined, {self.retries} retries"
        )
        return text + (f", {self.removed} removed" if self.removed else "")


@dataclass
class _Pending:
    """What one day has read but not loaded yet."""

    legs: list[Loadable] = field(default_factory=list)  # new or changed
    rejects: list[Reject] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # callIDs held already, as they are

    def __len__(self) -> int:
        return len(self.legs) + len(self.rejects)


ProgressHook = Callable[[date, "Counts"], None]
CommitHook = Callable[[str], None]


class IngestRun:
    """One run over one instance. The steps are methods, called in order by `run()` or, as
    Prefect tasks, by the ingest flow: start, refresh_reference_data, ingest_day (each day), finish."""

    def __init__(
        self,
        warehouse: Warehouse,
        client: ZiwoClient,
        plan: IngestPlan,
        options: IngestOptions | None = None,
        *,
        on_progress: ProgressHook | None = None,
        before_commit: CommitHook | None = None,
    ) -> None:
        self.warehouse, self.client, self.plan = warehouse, client, plan
        self.options = options or IngestOptions()
        self.on_progress = on_progress
        self.before_commit = before_commit  # called inside each transaction, just before COMMIT
        self.instance = plan.instance
        self.country_code = client.settings.country_code
        self.run_id: int | None = None
        self.totals = Counts()
        self.by_day: dict[date, Counts] = {}
        self.checks: dict[date, ListingCheck] = {}  # how each day's listing was verified
        self.quarantine_reasons: Counter[str] = Counter()
        self.reference: dict[str, int] = {}
        self._checks: CallChecks | None = None
        self._known: tuple[set[int], set[int]] = (set(), set())
        self._seen_stats = (0, 0, 0)  # client pages, retries, re-logins already counted

    # --- steps ------------------------------------------------------------------------------

    def start(self) -> int:
        plan = self.plan
        with self.warehouse.transaction():
            (self.run_id,) = self.warehouse.one(
                "start_run", instance=self.instance, mode=plan.mode, first_day=plan.first_day, last_day=plan.last_day
            )
            if plan.mode == "full_refresh":
                self.warehouse.run("start_listing")
            ensure_contacts(self.warehouse, self.instance, self.country_code)
        return self.run_id

    def refresh_reference_data(self) -> dict[str, int]:
        """Agents (and teams), queues and numbers: all listed again on every run."""
        listings: dict[str, tuple[list, tuple[Column, ...]]] = {
            "agents": (self.client.agents(), AGENT_COLUMNS),
            "queues": (self.client.queues(), QUEUE_COLUMNS),
            "numbers": (self.client.numbers(), NUMBER_COLUMNS),
        }
        counts = Counts()
        with self.warehouse.transaction():
            for stream, (items, columns) in listings.items():
                rows, bad = [], []
                for item in items:
                    try:
                        rows.append(parse_row(item, columns))
                    except ValueError as problem:
                        bad.append(_quarantine_entry(item, None, "parse", "bad_value", str(problem), key_field="id"))
                self._register(f"staged_{stream}", reference_table(self.instance, rows, columns))
                self.warehouse.run(f"upsert_{stream}", instance=self.instance)
                self._unregister(f"staged_{stream}")
                self._quarantine(stream, bad)
                counts.quarantined += len(bad)
                self.reference[stream] = len(rows)
            self._add_client_stats(counts)
            self._add_counts(counts, days_done=0)
            self._commit_point("reference data")
        self.totals.add(counts)
        known = self.warehouse.rows("known_ids", instance=self.instance)
        self._known = ({i for kind, i in known if kind == "agent"}, {i for kind, i in known if kind == "queue"})
        self._checks = None  # rebuilt with the fresh agents and queues
        return dict(self.reference)

    def ingest_day(self, day: date) -> Counts:
        """Pull one instance day and load it, in loads of at most `flush_rows` legs. A day whose
        listing could not be verified is loaded as far as it was read, recorded as such, and
        raises ZiwoListingError; the next run reads it again."""
        held = dict(self.warehouse.rows("call_hashes_of_day", instance=self.instance, day=day))
        day_counts = Counts()
        pending = _Pending()
        check: ListingCheck | None = None
        unverified: ZiwoListingError | None = None
        try:
            for batch in self.client.iter_calls(day, day):
                check = batch.check or check
                self._stage(batch.records, held, pending)
                pending.rejects += batch.rejects
                if len(pending) >= self.options.flush_rows:
                    day_counts.add(self._load(day, pending, last=False))
                    pending = _Pending()
                if self.on_progress:
                    live = Counts(**day_counts.as_dict())
                    live.records += len(pending) + len(pending.unchanged)
                    self.on_progress(day, live)
        except ZiwoListingError as failure:
            unverified = failure
        assert check is not None, "every day's listing ends with its check"
        day_counts.add(self._load(day, pending, last=True, check=check))
        self.by_day[day] = day_counts
        self.checks[day] = check
        if self.on_progress:
            self.on_progress(day, day_counts)
        if unverified is not None:
            raise unverified
        return day_counts

    def _stage(self, records: list[CallRecord], held: dict[str, str], pending: _Pending) -> None:
        """New and changed records are loaded; unchanged ones only counted."""
        for record in records:
            text = raw_json(record.raw)
            digest = record_hash(text)
            if held.get(record.call_id) == digest:
                pending.unchanged.append(record.call_id)
            else:
                pending.legs.append(Loadable(record, text, digest))

    def unverified(self) -> ZiwoListingError | None:
        """The days of this run whose listing could not be verified, as one error; None if none."""
        failed = [check for _, check in sorted(self.checks.items()) if not check.verified]
        return ZiwoListingError(failed) if failed else None

    def finish(self, error: BaseException | None = None) -> Counts:
        """Close the run: a full refresh removes the legs Ziwo stopped listing (not on days whose
        listing was not verified), then the status: failed on an error or an unverified day."""
        if error is None and self.plan.mode == "full_refresh":
            with self.warehouse.transaction():
                (removed,) = self.warehouse.one(
                    "remove_unlisted_calls",
                    instance=self.instance,
                    first_day=self.plan.first_day,
                    last_day=self.plan.last_day,
                    run_id=self.run_id,
                )
                refresh_contacts(self.warehouse, self.country_code)
                self.warehouse.run("reset_cursor", instance=self.instance, run_id=self.run_id)
                self._add_counts(Counts(removed=removed), days_done=0)
            self.totals.removed += removed
        error = error if error is not None else self.unverified()
        status = "succeeded" if error is None else "failed"
        message = None if error is None else redact(f"{type(error).__name__}: {error}")[:2000]
        self.warehouse.run("finish_run", run_id=self.run_id, status=status, error=message)
        return self.totals

    def run(self) -> Counts:
        """All steps, in order. Days whose listing is not verified do not stop the others; the
        run then ends with a ZiwoListingError naming them."""
        self.start()
        try:
            self.refresh_reference_data()
            for day in self.plan.days:
                with contextlib.suppress(ZiwoListingError):  # recorded with the day; raised below
                    self.ingest_day(day)
        except BaseException as error:
            self.finish(error)
            raise
        totals = self.finish()
        unverified = self.unverified()
        if unverified is not None:
            raise unverified
        return totals

    # --- loading ----------------------------------------------------------------------------

    def _load(self, day: date, pending: _Pending, *, last: bool, check: ListingCheck | None = None) -> Counts:
        """Check and load what a day has pending, in one transaction with the counts, the cursor
        and, with its last records, how the day's listing was verified."""
        counts = Counts(records=len(pending) + len(pending.unchanged), unchanged=len(pending.unchanged))
        bad = [_quarantine_entry(r.raw, day, "parse", r.reason, r.detail) for r in pending.rejects]
        calls = calls_table(self.instance, day, pending.legs)
        calls, failed = self._validate(calls, day)
        bad += failed
        counts.quarantined = len(bad)
        self.quarantine_reasons.update(entry.reason for entry in bad)
        valid = pa.table({"call_id": pa.array([*pending.unchanged, *calls["call_id"].to_pylist()], pa.string())})
        with self.warehouse.transaction():
            if calls.num_rows:
                self._register("staged_calls", calls)
                counts.new, counts.updated = self.warehouse.one("load_calls", run_id=self.run_id)
                self._unregister("staged_calls")
                refresh_contacts(self.warehouse, self.country_code)
                latest = pc.max(calls["started_at"]).as_py()
                self.warehouse.run(
                    "save_cursor", instance=self.instance, stream=CALLS, cursor=latest, run_id=self.run_id
                )
            self._register("valid_calls", valid)
            self.warehouse.run("release_quarantine", instance=self.instance)
            self._unregister("valid_calls")
            if self.plan.mode == "full_refresh":
                # Ziwo still lists a call whose new version is bad: its held version stays.
                still_listed = pa.array([e.call_id for e in bad if e.call_id], pa.string())
                listed = pa.concat_tables([valid, pa.table({"call_id": still_listed})])
                self._register("listed_now", listed)
                self.warehouse.run("remember_listed_calls")
                self._unregister("listed_now")
            self._quarantine(CALLS, bad)
            if check is not None:
                self.warehouse.run(
                    "record_listing_check",
                    run_id=self.run_id,
                    instance=self.instance,
                    day=day,
                    records_read=check.records,
                    server_total=check.server_total,
                    passes=check.passes,
                    verified=check.verified,
                    problem=check.problem or None,
                )
            self._add_client_stats(counts)
            self._add_counts(counts, days_done=1 if last else 0)
            self._commit_point(f"calls of {day}")
        self.totals.add(counts)
        return counts

    def _validate(self, calls: pa.Table, day: date) -> tuple[pa.Table, list[QuarantineEntry]]:
        if not self.options.validate or calls.num_rows == 0:
            return calls, []
        if self._checks is None:
            from ziwo_reports.quality import CallChecks  # GX: imported only when a batch is checked

            self._checks = CallChecks(*self._known)
        failures = self._checks.failures(calls)
        if not failures:
            return calls, []
        by_row: dict[int, list] = {}
        for failure in failures:
            by_row.setdefault(failure.row, []).append(failure)
        raws, call_ids = calls["raw"].to_pylist(), calls["call_id"].to_pylist()
        bad = []
        for row, found in sorted(by_row.items()):
            detail = "; ".join(f.detail for f in found)
            bad.append(_quarantine_entry(None, day, "validate", found[0].reason, detail, raws[row], call_ids[row]))
        keep = pa.array([i not in by_row for i in range(calls.num_rows)])
        return calls.filter(keep), bad

    def _quarantine(self, stream: str, entries: list[QuarantineEntry]) -> None:
        if entries:
            self._register("staged_quarantine", quarantine_table(self.instance, stream, entries))
            self.warehouse.run("quarantine_records", run_id=self.run_id)
            self._unregister("staged_quarantine")

    def _add_client_stats(self, counts: Counts) -> None:
        stats = self.client.stats
        now = (stats.pages, stats.retries, stats.relogins)
        counts.pages, counts.retries, counts.relogins = (a - b for a, b in zip(now, self._seen_stats, strict=True))
        self._seen_stats = now

    def _add_counts(self, counts: Counts, *, days_done: int) -> None:
        values = counts.as_dict()
        self.warehouse.run("add_run_counts", run_id=self.run_id, days_done=days_done, **values)

    def _commit_point(self, what: str) -> None:
        if self.before_commit:
            self.before_commit(what)

    def _register(self, name: str, table: pa.Table) -> None:
        self.warehouse.con.register(name, table)

    def _unregister(self, name: str) -> None:
        self.warehouse.con.unregister(name)


def _quarantine_entry(
    raw: object,
    day: date | None,
    stage: str,
    reason: str,
    detail: str,
    text: str | None = None,
    call_id: str | None = None,
    key_field: str = "callID",
) -> QuarantineEntry:
    """A bad record keyed by its Ziwo id (callID for calls, id for agents, queues and numbers),
    or by a hash of its content when it has none."""
    text = text if text is not None else raw_json(raw)
    digest = record_hash(text)
    key = raw.get(key_field) if isinstance(raw, dict) else None
    if call_id is None and key_field == "callID" and isinstance(key, str) and key:
        call_id = key
    record_key = call_id or (str(key) if key not in (None, "") else f"md5:{digest}")
    return QuarantineEntry(record_key, call_id, day, stage, reason, detail, text, digest)


def ingest(
    warehouse: Warehouse,
    client: ZiwoClient,
    options: IngestOptions | None = None,
    *,
    now: datetime | None = None,
    on_progress: ProgressHook | None = None,
    before_commit: CommitHook | None = None,
) -> IngestRun:
    """Plan and run one ingest of the client's instance; returns the finished run."""
    options = options or IngestOptions()
    settings = client.settings
    plan = plan_ingest(warehouse, settings.instance, settings.timezone, options, now)
    run = IngestRun(warehouse, client, plan, options, on_progress=on_progress, before_commit=before_commit)
    run.run()
    return run


def summary_line(run: IngestRun) -> str:
    plan = run.plan
    return f"ingested {plan.instance} {plan.describe()} ({plan.mode}): {run.totals.summary()}; " + verification_summary(
        run.checks.values()
    )


def verification_summary(checks: Iterable[ListingCheck]) -> str:
    """`3 days verified (1409 records read, server totals 1409, 4 passes)`, then each day that was not."""
    checks = list(checks)
    verified = [check for check in checks if check.verified]
    days_text = f"{len(verified)} of {len(checks)}" if len(verified) < len(checks) else str(len(checks))
    text = f"{days_text} days verified"
    if verified:
        totals = [check.server_total for check in verified if check.server_total is not None]
        given = f"server totals {sum(totals)}" if totals else "no server totals"
        if totals and len(totals) < len(verified):
            given += f" on {len(totals)} days"
        passes = sum(check.passes for check in verified)
        text += f" ({sum(check.records for check in verified)} records read, {given}, {passes} passes)"
    return text + "".join(f"; NOT verified {check.describe()}" for check in checks if not check.verified)


def quarantine_lines(run: IngestRun) -> Iterable[str]:
    for reason, n in run.quarantine_reasons.most_common():
        yield f"  quarantined {n:>6}  {reason}"
