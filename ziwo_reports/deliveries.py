"""Deliveries of computed reports, and their ledger in the warehouse.

`deliver_report` runs the delivery contract (`connectors/delivery.py`) for one target: validate,
plan, record every item as planned (one transaction), send, record the results (in batches, a
transaction each). `replay` sends again what did not arrive: it computes the report again from the spec the
ledger kept, its "now" pinned so the window is the same, and delivers only those items.

The ledger is written through `open_ledger`, a function that opens the warehouse for writing
for a moment and closes it again: a report computed read-only, beside other readers, holds the
file only while it writes a ledger row.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from ziwo_reports.connectors.delivery import (
    DeliveryConfigError,
    DeliveryError,
    ItemResult,
    Plan,
    TargetOptions,
    delivery_for,
    parse_target,
)
from ziwo_reports.redaction import redact
from ziwo_reports.report_model import Report, ReportSpec, after_call_workflow, make_spec
from ziwo_reports.warehouse import Warehouse

#: Opens the warehouse to write the ledger, and closes it on leaving.
LedgerOpener = Callable[[], AbstractContextManager[Warehouse]]
#: Computes the report of a spec again (for replay).
Compute = Callable[[ReportSpec], Report]

STATUSES = ("planned", "sent", "failed", "gave_up", "gone", "held")
COLUMNS = (
    "delivery_id", "run_id", "source", "target_type", "target_name", "chunk_key", "target", "row_count",
    "row_keys", "payload_hash", "status", "attempts", "last_error", "target_ref", "spec", "options",
    "planned_at", "updated_at",
)  # fmt: skip


def new_run_id() -> str:
    """A run id for a delivery that no Prefect flow run names."""
    return uuid.uuid4().hex


@dataclass
class Delivered:
    """What one target's delivery did: its plan and the result of each item, with ledger ids."""

    plan: Plan
    results: list[ItemResult] = field(default_factory=list)
    ids: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> list[ItemResult]:
        return [result for result in self.results if result.status not in ("sent", "held")]

    @property
    def held(self) -> list[ItemResult]:
        """Items not sent yet by design (an e-mail digest's calls waiting for its next window)."""
        return [result for result in self.results if result.status == "held"]

    @property
    def already_sent(self) -> list[ItemResult]:
        """Items not sent again: the ledger shows them sent before (`once` deliveries, not forced)."""
        return [result for result in self.results if "already_sent" in result.info]

    def raise_for_failures(self) -> None:
        if self.failed:
            errors = "; ".join(f"{r.key}: {r.error}" for r in self.failed[:3])
            more = f" (and {len(self.failed) - 3} more)" if len(self.failed) > 3 else ""
            ids = ", ".join(str(self.ids[r.key]) for r in self.failed if r.key in self.ids)
            raise DeliveryError(
                f"{self.plan.target_type} delivery {self.plan.target_name!r}: {len(self.failed)} of "
                f"{len(self.plan.items)} items failed: {errors}{more}; recorded in the ledger as {ids}: "
                f"`ziwo-reports replay --id ...` sends them again"
            )


def _pinned_spec(report: Report) -> str:
    """The report's spec with its "now" fixed, as JSON: computed again, the same window; with what
    kept only some of its rows (`kept_by`) and what made it when a spec alone did not (`origin`)."""
    pinned = {**report.spec.model_dump(mode="json"), "as_of": report.as_of.isoformat()}
    if report.kept_by is not None:
        pinned["kept_by"] = report.kept_by
    if report.origin is not None:
        pinned["origin"] = report.origin
    return orjson.dumps(pinned).decode()


def _options_json(options: TargetOptions) -> str:
    return redact(options.model_dump_json())


def _results_table(recorded: list[tuple[int, ItemResult]]) -> pa.Table:
    return pa.table(
        {
            "delivery_id": pa.array([delivery_id for delivery_id, _ in recorded], pa.int64()),
            "status": [result.status for _, result in recorded],
            "last_error": [redact(result.error) if result.error else None for _, result in recorded],
            "target_ref": pa.array([result.ref for _, result in recorded], pa.string()),
        }
    )


def _record(open_ledger: LedgerOpener, recorded: list[tuple[int, ItemResult]]) -> None:
    """The results of items (delivery id, result), in one transaction."""
    if not recorded:
        return
    with (
        open_ledger() as warehouse,
        warehouse.transaction(),
        warehouse.staged("item_results", _results_table(recorded)),
    ):
        warehouse.run("record_deliveries")


class _Recorder:
    """Results written to the ledger in batches: every `every` results or `seconds`, and at the
    end. An item sent but not yet recorded when the process dies stays `planned`, and `replay`
    sends it again, under the same key (the target upserts, a webhook receiver dedups its id)."""

    def __init__(self, open_ledger: LedgerOpener, every: int, seconds: float) -> None:
        self.open_ledger, self.every, self.seconds = open_ledger, every, seconds
        self.pending: list[tuple[int, ItemResult]] = []
        self.since = time.monotonic()

    def add(self, delivery_id: int, result: ItemResult) -> None:
        self.pending.append((delivery_id, result))
        if len(self.pending) >= self.every or time.monotonic() - self.since >= self.seconds:
            self.flush()

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        self.since = time.monotonic()
        _record(self.open_ledger, pending)


def _plan_items(warehouse: Warehouse, plan: Plan, **values: Any) -> dict[str, int]:
    """Every item of the plan in the ledger as `planned`, in one statement; their ids by key."""
    items = plan.items
    table = pa.table(
        {
            "position": pa.array(range(len(items)), pa.int64()),
            "chunk_key": pa.array([item.key for item in items], pa.string()),
            "target": pa.array([item.target for item in items], pa.string()),
            "row_count": pa.array([item.rows for item in items], pa.int32()),
            "row_keys": pa.array([list(item.row_keys) or None for item in items], pa.list_(pa.string())),
            "payload_hash": pa.array([item.payload_hash for item in items], pa.string()),
        }
    )
    with warehouse.staged("planned_items", table):
        rows = warehouse.run("plan_deliveries", target_type=plan.target_type, target_name=plan.target_name, **values)
    return {chunk_key: delivery_id for delivery_id, chunk_key in rows}


def _gone(warehouse: Warehouse, plan: Plan) -> dict[str, tuple[int, datetime]]:
    """The plan's targets whose last word was 410 Gone, with that item's id and time."""
    targets = sorted({item.target for item in plan.items})
    rows = warehouse.rows("gone_targets", target_type=plan.target_type, targets=targets) if targets else []
    return {target: (delivery_id, at) for target, delivery_id, at in rows}


def _not_sent_to_gone(item_key: str, target: str, gone: tuple[int, datetime]) -> ItemResult:
    delivery_id, at = gone
    return ItemResult(
        item_key,
        "failed",
        error=(
            f"not sent: {target} answered 410 Gone at {at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC (delivery "
            f"{delivery_id}) and has taken nothing since; once it takes deliveries again, `ziwo-reports replay "
            f"--id {delivery_id}` sends that item and reopens it, then replay these"
        ),
    )


@dataclass(frozen=True)
class SentBefore:
    """An item of the target the ledger shows as sent: by which delivery, its ref, its rows."""

    delivery_id: int
    ref: str | None
    row_keys: frozenset[str]


def _sent_before(warehouse: Warehouse, plan: Plan) -> dict[str, SentBefore]:
    keys = [item.key for item in plan.items]
    if not keys:
        return {}
    rows = warehouse.rows("sent_items", target_type=plan.target_type, target_name=plan.target_name, chunk_keys=keys)
    return {key: SentBefore(delivery_id, ref, frozenset(row_keys or ())) for key, delivery_id, ref, row_keys in rows}


def _not_again(report: Report, plan: Plan, sent: dict[str, SentBefore]) -> list[ItemResult]:
    """What becomes of the plan's items sent before, without sending them: recorded as sent under
    the earlier ref; but an after_call item that now carries calls the earlier one did not (a
    digest window whose message went before these calls came) is held: its calls stay after the
    workflow's cursor and go with the next window's message."""
    results = []
    for item in plan.items:
        earlier = sent.get(item.key)
        if earlier is None:
            continue
        new_rows = set(item.row_keys) - earlier.row_keys
        if new_rows and after_call_workflow(report.origin) is not None:
            error = (
                f"held: {len(new_rows)} calls came after this window's message (delivery {earlier.delivery_id}); "
                "they go with the next window's"
            )
            results.append(ItemResult(item.key, "held", error=error, info={"held_rows": len(new_rows)}))
        else:
            info = {"already_sent": earlier.delivery_id}
            results.append(ItemResult(item.key, "sent", ref=earlier.ref, info=info))
    return results


def deliver_report(
    report: Report,
    target: TargetOptions | dict[str, Any],
    open_ledger: LedgerOpener,
    *,
    run_id: str,
    source: str,
    force: bool = False,
    record_every: int = 500,
    record_seconds: float = 2.0,
) -> Delivered:
    """Deliver a report to one target, every item in the ledger before it is sent (one
    transaction) and after (in batches, see _Recorder). A target that answered 410 Gone before
    gets nothing: its items are recorded as failed, for `replay` once it is back. A delivery that
    cannot take back what it sends (`once`, an e-mail) does not send an item the ledger shows as
    sent to this target before (see `_not_again`), unless `force`. Failed items do not raise
    here: see `Delivered.raise_for_failures`."""
    options = parse_target(target)
    delivery = delivery_for(options)
    plan = delivery.plan(report)
    delivered = Delivered(plan)
    once = getattr(type(delivery), "once", False) and not force
    with open_ledger() as warehouse, warehouse.transaction():
        sent = _sent_before(warehouse, plan) if once else {}
        delivered.ids = _plan_items(
            warehouse, plan, run_id=run_id, source=source, spec=_pinned_spec(report), options=_options_json(options)
        )
        gone = _gone(warehouse, plan)
    recorder = _Recorder(open_ledger, record_every, record_seconds)
    try:
        if sent:
            for result in _not_again(report, plan, sent):
                delivered.results.append(result)
                recorder.add(delivered.ids[result.key], result)
            if len(sent) == len(plan.items):
                return delivered
        if gone:
            results = (
                _not_sent_to_gone(item.key, item.target, gone[item.target])
                if item.target in gone
                else ItemResult(item.key, "failed", error=f"not sent: the target is gone ({next(iter(gone))})")
                for item in plan.items
                if item.key not in sent
            )
        else:
            results = delivery.deliver(report, keys=[i.key for i in plan.items if i.key not in sent] if sent else None)
        for result in results:
            delivered.results.append(result)
            recorder.add(delivered.ids[result.key], result)
    finally:
        recorder.flush()
    return delivered


@dataclass(frozen=True)
class LedgerRow:
    delivery_id: int
    run_id: str
    source: str
    target_type: str
    target_name: str
    chunk_key: str
    target: str
    row_count: int
    row_keys: list[str] | None
    payload_hash: str
    status: str
    attempts: int
    last_error: str | None
    target_ref: str | None
    spec: str
    options: str
    planned_at: datetime
    updated_at: datetime


def list_deliveries(
    warehouse: Warehouse,
    *,
    status: str | None = None,
    target: str | None = None,
    run_id: str | None = None,
    since: datetime | None = None,
    ids: Collection[int] | None = None,
    unsent: bool = False,
    limit: int = 50,
) -> list[LedgerRow]:
    """Deliveries, newest first; each filter applies only when given."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    rows = warehouse.rows(
        "list_deliveries",
        status=status,
        target=target,
        run_id=run_id,
        since=since,
        ids=list(ids) if ids else None,
        unsent=unsent or None,
        limit=limit,
    )
    return [LedgerRow(*row) for row in rows]


@dataclass
class Replayed:
    """What a replay sent again, per original ledger row."""

    results: dict[int, ItemResult] = field(default_factory=dict)
    missing: dict[int, str] = field(default_factory=dict)  # rows whose item the target no longer makes

    @property
    def failed(self) -> dict[int, str]:
        failed = {i: r.error or r.status for i, r in self.results.items() if r.status != "sent"}
        return failed | self.missing


def _leave_to_the_workflow(rows: list[LedgerRow], workflow: str, replayed: Replayed, open_ledger: LedgerOpener) -> None:
    """An after_call batch is not computed from a spec: the calls that failed are still after the
    workflow's cursor (it moves only once every target took them), so its next run sends them
    again under the same keys. Say so on each row instead of sending something else."""
    problem = (
        f"an after_call delivery of workflow {workflow!r}: its cursor did not move, so its next run sends "
        f"this call again under the same key; to send now: `ziwo-reports workflow run {workflow}`"
    )
    recorder = _Recorder(open_ledger, 500, 2.0)
    try:
        for row in rows:
            replayed.missing[row.delivery_id] = problem
            recorder.add(row.delivery_id, ItemResult(row.chunk_key, "failed", error=problem))
    finally:
        recorder.flush()


def replay(rows: Iterable[LedgerRow], compute: Compute, open_ledger: LedgerOpener) -> Replayed:
    """Send again the items of these ledger rows: per original delivery (run, target, spec), the
    report is computed again with its "now" pinned and only those items are delivered; each new
    attempt is recorded on its row."""
    replayed = Replayed()
    groups: dict[tuple[str, str, str, str], list[LedgerRow]] = {}
    for row in rows:
        groups.setdefault((row.run_id, row.target_name, row.spec, row.options), []).append(row)
    for (_, _, spec, options), group in groups.items():
        pinned = orjson.loads(spec)
        kept_by, origin = pinned.pop("kept_by", None), pinned.pop("origin", None)
        workflow = after_call_workflow(origin)
        if workflow is not None:
            _leave_to_the_workflow(group, workflow, replayed, open_ledger)
            continue
        report = compute(make_spec(**pinned))
        if kept_by is not None:  # a workflow's conditions kept some rows: the same rows again
            from ziwo_reports.workflows.kept_rows import keep_again

            report = keep_again(report, kept_by)
        delivery = delivery_for(orjson.loads(options))
        by_key = {row.chunk_key: row for row in group}
        recorder = _Recorder(open_ledger, 500, 2.0)
        try:
            for result in delivery.deliver(report, keys=set(by_key)):
                row = by_key.pop(result.key)
                replayed.results[row.delivery_id] = result
                recorder.add(row.delivery_id, result)
            for row in by_key.values():  # the delivery made no such item this time (a name with a time in it?)
                problem = f"the {row.target_type} delivery no longer makes item {row.chunk_key!r}; nothing sent"
                replayed.missing[row.delivery_id] = problem
                recorder.add(row.delivery_id, ItemResult(row.chunk_key, "failed", error=problem))
        finally:
            recorder.flush()
    return replayed


def read_targets(path: Path) -> list[TargetOptions]:
    """The delivery targets of a YAML file: a list of targets, or a mapping with a `deliveries`
    list; each validated (DeliveryConfigError naming the item, field and value). No I/O beyond
    reading the file: credentials are loaded when delivering."""
    import yaml

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as problem:
        raise DeliveryConfigError(f"cannot read it: {problem.strerror or problem}") from None
    except yaml.YAMLError as problem:
        where = getattr(problem, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise DeliveryConfigError(f"not YAML{line}: {getattr(problem, 'problem', None) or problem}") from None
    if isinstance(document, dict) and set(document) == {"deliveries"}:
        document = document["deliveries"]
    if not isinstance(document, list) or not document:
        raise DeliveryConfigError("needs a list of deliveries (or `deliveries:` and a list), each with a `type`")
    targets = []
    for number, entry in enumerate(document, 1):
        if not isinstance(entry, dict):
            raise DeliveryConfigError(f"delivery {number}: {entry!r} is not a mapping of options with a `type`")
        try:
            target = parse_target(entry)
            delivery_for(target)  # validate(): the type's own static checks
        except DeliveryConfigError as problem:
            raise DeliveryConfigError(f"delivery {number}: {problem}") from None
        targets.append(target)
    names = [target.target_name for target in targets]
    doubled = sorted({name for name in names if names.count(name) > 1})
    if doubled:
        raise DeliveryConfigError(
            f"delivery name {doubled[0]!r} is given twice: the ledger tells targets apart by name (set `name`)"
        )
    return targets
