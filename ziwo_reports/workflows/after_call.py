"""What an `after_call` workflow sees: each call that completed since it last ran, once.

A workflow's cursor (`workflow_cursors`) is the ingest run id it has seen up to. `calls_since`
reads the completed calls of the runs after it that have finished (never those of a run still
`running`, nor of any run after one: they come in a later batch), as call details: the
call-details report itself, restricted to those calls, so a call's fields have one definition.
The caller delivers the batch (`deliver_report(batch.report, ...)`, the ledger records it), and
only then calls `advance`. A crash in between leaves the cursor where it was: the next run
selects the same calls again, under the same keys, and the targets dedup or upsert them.

`on_change`: `once` sees a call when it is first loaded; `again` also sees it each time an ingest
changes it later (a disposition set after the call), its key then carrying the version (the run
that changed it), so the change is a new event to a webhook receiver.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from ziwo_reports.report import check_instance, compute_report
from ziwo_reports.report_model import Report, after_call_origin, make_spec
from ziwo_reports.warehouse import Warehouse

OnChange = Literal["once", "again"]
ON_CHANGE = ("once", "again")


@dataclass(frozen=True)
class CallBatch:
    """The calls a workflow has not seen: `report` is their call details (one row per call, as
    the call-details report has them, with per-call keys), read from the runs after `after_run`
    up to `up_to_run`, which `advance` takes once they are delivered."""

    workflow: str
    on_change: OnChange
    after_run: int
    up_to_run: int
    report: Report
    versions: pa.Array  # per row of the table: the ingest run that last changed the call

    @property
    def table(self) -> pa.Table:
        return self.report.table

    def __len__(self) -> int:
        return self.report.table.num_rows


def _check(workflow: str, on_change: str) -> None:
    if not workflow or not workflow.strip():
        raise ValueError(f"workflow {workflow!r}: a workflow needs a name")
    if on_change not in ON_CHANGE:
        raise ValueError(f"on_change {on_change!r} is not one of {', '.join(ON_CHANGE)}")


def cursor_of(warehouse: Warehouse, workflow: str) -> int | None:
    """The ingest run id the workflow has seen up to; None for a workflow that never advanced."""
    row = warehouse.one("workflow_read_cursor", workflow=workflow)
    return row[0] if row else None


def finished_through(warehouse: Warehouse, instance: str | None) -> tuple[int, datetime | None]:
    """The newest run id up to which every ingest run (of the instance) has finished, and when it
    finished; (0, None) when none has."""
    row = warehouse.one("workflow_finished_through", instance=instance)
    return (int(row[0]), row[1]) if row else (0, None)


def call_keys(batch: CallBatch, on_change: OnChange) -> pa.Array:
    """Each call's delivery key: `<instance>:call:<call_id>`; with `again`, followed by `@<version>`
    (`acme:call:C1@7`), so a changed call is a new event while its call id stays in it."""
    _check(batch.workflow, on_change)
    table = batch.report.table
    if table.num_rows == 0:
        return pa.array([], pa.string())
    instance = table["instance"].combine_chunks().cast(pa.string())
    keys = pc.binary_join_element_wise(instance, "call", table["call_id"].combine_chunks(), ":")
    if on_change == "again":
        keys = pc.binary_join_element_wise(keys, batch.versions.cast(pa.string()), "@")
    return keys


def _batch_key(instance: str | None, workflow: str, on_change: str, after_run: int, up_to_run: int) -> str:
    """The batch's own key (a webhook in `report` or `chunks` mode sends the batch as one message)."""
    return f"{instance or 'all'}:after_call:{workflow}:{on_change}:runs:{after_run + 1}..{up_to_run}"


def calls_since(
    warehouse: Warehouse,
    workflow: str,
    *,
    on_change: OnChange,
    instance: str | None,
    timezone: str,
    since_run: int | None = None,
    ended_from: datetime | None = None,
    up_to_run: int | None = None,
    now: datetime | None = None,
    use_cursor: bool = True,
) -> CallBatch:
    """The completed calls the workflow has not seen (see the module's docstring), as call details
    in `timezone`. A workflow without a cursor starts at the newest finished run (it does not
    replay history: an empty batch, whose `advance` sets its cursor), or after `since_run`
    (0: every call held), or with every call that ended from `ended_from` on (a deployed
    workflow's first run: the calls since it was deployed). `up_to_run` caps the batch at that
    run (a delayed send takes the calls of its trigger, not those that came while it waited).
    `use_cursor=False` reads after `since_run` whatever the cursor says (`workflow test`'s sample of
    recent calls). Reads only; nothing moves until `advance`."""
    _check(workflow, on_change)
    check_instance(warehouse, instance)
    for name, value in (("since_run", since_run), ("up_to_run", up_to_run)):
        if value is not None and value < 0:
            raise ValueError(f"{name} {value} must be 0 or more")
    up_to, finished_at = finished_through(warehouse, instance)
    if up_to_run is not None and up_to_run < up_to:
        up_to, finished_at = up_to_run, None
    # the batch's "now" is when its last run finished: run again, it sends the same bytes
    now = now or finished_at
    cursor = cursor_of(warehouse, workflow) if use_cursor else None
    first_from = ended_from if cursor is None and since_run is None else None
    if cursor is not None:
        after = cursor
    elif since_run is not None:
        after = since_run
    else:
        after = 0 if first_from is not None else up_to
    selected = (
        warehouse.rows(
            "workflow_completed_calls",
            instance=instance,
            on_change=on_change,
            after_run=after,
            up_to_run=up_to,
            ended_from=first_from,
        )
        if up_to > after
        else []
    )
    report = _call_details(warehouse, selected, instance=instance, timezone=timezone, now=now)
    versions_by_call = {(inst, call_id): version for inst, call_id, version, _ in selected}
    table = report.table
    if table.num_rows:
        # the report reads legs by call id; the batch is (instance, call id): drop any namesake
        pairs = zip(table["instance"].to_pylist(), table["call_id"].to_pylist(), strict=True)
        table = table.filter(pa.array([pair in versions_by_call for pair in pairs], pa.bool_()))
    versions = pa.array(
        [
            versions_by_call[pair]
            for pair in zip(table["instance"].to_pylist(), table["call_id"].to_pylist(), strict=True)
        ],
        pa.int64(),
    )
    missing = len(selected) - table.num_rows
    if missing:  # one definition of a call: a selected call the report does not show is a bug, not a skip
        raise RuntimeError(f"after_call {workflow!r}: {missing} selected calls are missing from the call details")
    report.table = table
    batch = CallBatch(workflow, on_change, after, max(up_to, after), report, versions)
    report.key = _batch_key(instance, workflow, on_change, after, batch.up_to_run)
    report.origin = after_call_origin(workflow)
    report.keys = call_keys(batch, on_change)
    return batch


def _call_details(
    warehouse: Warehouse,
    selected: list[tuple],
    *,
    instance: str | None,
    timezone: str,
    now: datetime | None,
) -> Report:
    """The call-details report over the local days the selected calls started on, restricted to them."""
    zone = make_spec(report="call-details", timezone=timezone).zone  # a bad zone: the spec's one-line error
    if selected:
        days: list[date] = [zone.local(started).date() for *_, started in selected]
        start, end = min(days), max(days)
    else:  # an empty batch: the same columns, no rows
        start = end = zone.local(now or datetime.now(UTC)).date()
    spec = make_spec(
        report="call-details",
        instance=instance,
        timezone=timezone,
        rolling_date="custom",
        start=start,
        end=end,
        as_of=now,
    )
    only = sorted({call_id for _, call_id, *_ in selected})
    return compute_report(warehouse, spec, now, only_call_ids=only)


def advance(warehouse: Warehouse, workflow: str, up_to_run: int) -> None:
    """Move the workflow's cursor to `up_to_run` (never back), in a transaction of its own: call it
    only once the batch's deliveries are recorded in the ledger."""
    _check(workflow, "once")
    if up_to_run < 0:
        raise ValueError(f"up_to_run {up_to_run} must be 0 or more")
    with warehouse.transaction():
        warehouse.run("workflow_advance_cursor", workflow=workflow, up_to_run=up_to_run)
