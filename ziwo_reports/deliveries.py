"""Deliveries of computed reports, and their ledger in the warehouse.

`deliver_report` runs the delivery contract (`connectors/delivery.py`) for one target: validate,
plan, record every item as planned (one transaction), send, record each result (one transaction
each). `replay` sends again what did not arrive: it computes the report again from the spec the
ledger kept, its "now" pinned so the window is the same, and delivers only those items.

The ledger is written through `open_ledger`, a function that opens the warehouse for writing
for a moment and closes it again: a report computed read-only, beside other readers, holds the
file only while it writes a ledger row.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from ziwo_reports.connectors.delivery import (
    DeliveryError,
    ItemResult,
    Plan,
    TargetOptions,
    delivery_for,
    parse_target,
)
from ziwo_reports.redaction import redact
from ziwo_reports.report_model import Report, ReportSpec, make_spec
from ziwo_reports.warehouse import Warehouse

#: Opens the warehouse to write the ledger, and closes it on leaving.
LedgerOpener = Callable[[], AbstractContextManager[Warehouse]]
#: Computes the report of a spec again (for replay).
Compute = Callable[[ReportSpec], Report]

STATUSES = ("planned", "sent", "failed", "gave_up")
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
        return [result for result in self.results if result.status != "sent"]

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
    """The report's spec with its "now" fixed, as JSON: computed again, the same window."""
    return orjson.dumps({**report.spec.model_dump(mode="json"), "as_of": report.as_of.isoformat()}).decode()


def _options_json(options: TargetOptions) -> str:
    return redact(options.model_dump_json())


def _record(open_ledger: LedgerOpener, delivery_id: int, result: ItemResult) -> None:
    with open_ledger() as warehouse, warehouse.transaction():
        warehouse.run(
            "record_delivery",
            delivery_id=delivery_id,
            status=result.status,
            last_error=redact(result.error) if result.error else None,
            target_ref=result.ref,
            payload_hash=None,
        )


def deliver_report(
    report: Report,
    target: TargetOptions | dict[str, Any],
    open_ledger: LedgerOpener,
    *,
    run_id: str,
    source: str,
) -> Delivered:
    """Deliver a report to one target, every item in the ledger before and after it is sent.
    Failed items do not raise here: see `Delivered.raise_for_failures`."""
    options = parse_target(target)
    delivery = delivery_for(options)
    plan = delivery.plan(report)
    delivered = Delivered(plan)
    spec, options_json = _pinned_spec(report), _options_json(options)
    with open_ledger() as warehouse, warehouse.transaction():
        for item in plan.items:
            (delivered.ids[item.key],) = warehouse.one(
                "plan_delivery",
                run_id=run_id,
                source=source,
                target_type=plan.target_type,
                target_name=plan.target_name,
                chunk_key=item.key,
                target=item.target,
                row_count=item.rows,
                row_keys=list(item.row_keys) or None,
                payload_hash=item.payload_hash,
                spec=spec,
                options=options_json,
            )
    for result in delivery.deliver(report):
        delivered.results.append(result)
        _record(open_ledger, delivered.ids[result.key], result)
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


def replay(rows: Iterable[LedgerRow], compute: Compute, open_ledger: LedgerOpener) -> Replayed:
    """Send again the items of these ledger rows: per original delivery (run, target, spec), the
    report is computed again with its "now" pinned and only those items are delivered; each new
    attempt is recorded on its row."""
    replayed = Replayed()
    groups: dict[tuple[str, str, str, str], list[LedgerRow]] = {}
    for row in rows:
        groups.setdefault((row.run_id, row.target_name, row.spec, row.options), []).append(row)
    for (_, _, spec, options), group in groups.items():
        report = compute(make_spec(**orjson.loads(spec)))
        delivery = delivery_for(orjson.loads(options))
        by_key = {row.chunk_key: row for row in group}
        for result in delivery.deliver(report, keys=set(by_key)):
            row = by_key.pop(result.key)
            replayed.results[row.delivery_id] = result
            _record(open_ledger, row.delivery_id, result)
        for row in by_key.values():  # the delivery made no such item this time (a name with a time in it?)
            problem = f"the {row.target_type} delivery no longer makes item {row.chunk_key!r}; nothing sent"
            replayed.missing[row.delivery_id] = problem
            _record(open_ledger, row.delivery_id, ItemResult(row.chunk_key, "failed", error=problem))
    return replayed
