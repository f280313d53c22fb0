"""Running a workflow once: compute what its operation yields, keep what its conditions keep, and
deliver that to every target, each item in the ledger.

A report or export computes its report on a read-only warehouse; its conditions see each row and
the headline totals (`totals.<name>`, as a repeated column, dropped again before delivery). An
`after_call` workflow takes the calls it has not seen (`calls_since`), delivers those its
conditions keep, and only once every target took them moves its cursor (`advance`): a target with
failed items leaves the cursor, so the next run sends the same calls again under the same keys.
A delay is not this module's: the `ziwo-workflow` flow waits it out as a scheduled flow run, and
runs this then; run from the command line, a workflow sends at once.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from ziwo_reports.deliveries import Delivered, deliver_report
from ziwo_reports.report import compute_report
from ziwo_reports.report_model import Report
from ziwo_reports.warehouse import Warehouse, open_warehouse
from ziwo_reports.workflows.after_call import CallBatch, advance, calls_since
from ziwo_reports.workflows.conditions import to_text
from ziwo_reports.workflows.kept_rows import keep_rows
from ziwo_reports.workflows.model import Workflow, WorkflowError


@dataclass
class TargetRun:
    """What one target got: items planned and sent, and the ledger ids of those not sent."""

    type: str
    name: str
    items: int
    sent: int
    failed_ids: list[int] = field(default_factory=list)
    held: int = 0  # items an e-mail digest holds for its next window
    already_sent: int = 0  # items the ledger shows sent before: not sent again (e-mail), unless forced


@dataclass
class WorkflowRun:
    """What a run did: what it saw and kept, per target what went out, and why anything did not."""

    workflow: str
    unit: str  # rows (a report or an export) or calls (after_call)
    conditions: str  # their text, or "none"
    seen: int
    kept: int
    targets: list[TargetRun] = field(default_factory=list)
    delivered: list[Delivered] = field(default_factory=list)
    advanced_to: int | None = None  # after_call: the cursor's new place; None: not moved
    note: str = ""  # nothing sent, or the cursor not moved, and why
    kept_table: pa.Table | None = None  # what the conditions kept, as delivered

    @property
    def dropped(self) -> int:
        return self.seen - self.kept

    @property
    def failed(self) -> list[Delivered]:
        return [delivered for delivered in self.delivered if delivered.failed]

    @property
    def held(self) -> list[Delivered]:
        return [delivered for delivered in self.delivered if delivered.held]


#: Opens the warehouse: read-only (True) to compute, writable (False) for a moment per ledger write.
Opener = Callable[[bool], AbstractContextManager[Warehouse]]


def _refuse(workflow: Workflow) -> None:
    if not workflow.enabled:
        raise WorkflowError(f"workflow {workflow.name!r} is disabled (enabled: false): nothing run, nothing sent")


def next_calls(
    warehouse: Warehouse, workflow: Workflow, *, now: datetime | None, since_run: int | None = None, **options: Any
) -> CallBatch:
    """The calls an after_call workflow's next run sees (`calls_since` and its `options`; reads only,
    the cursor stays)."""
    spec = workflow.spec()
    return calls_since(
        warehouse,
        workflow.name,
        on_change=workflow.trigger.after_call.on_change,
        instance=spec.instance,
        timezone=spec.timezone,
        since_run=since_run,
        now=now,
        **options,
    )


def _deliver(
    report: Report,
    workflow: Workflow,
    ledger: Callable[[], AbstractContextManager[Warehouse]],
    *,
    run_id: str,
    source: str,
    force: bool = False,
) -> tuple[list[TargetRun], list[Delivered]]:
    runs, every = [], []
    for target in workflow.targets():
        delivered = deliver_report(report, target, ledger, run_id=run_id, source=source, force=force)
        failed = [delivered.ids[result.key] for result in delivered.failed if result.key in delivered.ids]
        sent = len(delivered.results) - len(delivered.failed) - len(delivered.held)
        plan = delivered.plan
        runs.append(
            TargetRun(
                plan.target_type,
                plan.target_name,
                len(plan.items),
                sent,
                failed,
                held=len(delivered.held),
                already_sent=len(delivered.already_sent),
            )
        )
        every.append(delivered)
    return runs, every


def run_workflow(
    workflow: Workflow,
    warehouse_path: Path | str,
    *,
    now: datetime | None = None,
    run_id: str,
    source: str,
    wait: float | None = None,
    on_wait: Callable[[str], None] | None = None,
    opener: Opener | None = None,
    calls_from: datetime | None = None,
    up_to_run: int | None = None,
    force: bool = False,
) -> WorkflowRun:
    """Run the workflow once (see the module's docstring); failed items do not raise: see `WorkflowRun.failed`.

    `opener` opens the warehouse (a flow queues on its slot first); `calls_from` and `up_to_run` are
    `calls_since`'s `ended_from` and `up_to_run` for an after_call workflow. `force` sends again what
    the ledger shows as sent to a target that never sends an item twice (e-mail).
    """
    _refuse(workflow)
    path = Path(warehouse_path)
    if not path.exists():
        raise ValueError(f"warehouse {str(path)!r}: no warehouse there; run `ziwo-reports ingest` first")
    if opener is None:

        def opener(read_only: bool) -> AbstractContextManager[Warehouse]:
            return open_warehouse(path, read_only=read_only, wait=wait, on_wait=on_wait)

    def ledger() -> AbstractContextManager[Warehouse]:  # writable for a moment per write: reports run beside it
        return opener(False)

    text = to_text(workflow.conditions) if workflow.conditions is not None else "none"
    if workflow.operation.kind == "call":
        return _after_call(
            workflow,
            ledger,
            text,
            now=now,
            run_id=run_id,
            source=source,
            calls_from=calls_from,
            up_to_run=up_to_run,
            force=force,
        )
    with opener(True) as warehouse:
        report = compute_report(warehouse, workflow.spec(), now)
    kept = keep_rows(report, workflow.conditions, with_totals=True)
    result = WorkflowRun(workflow.name, "rows", text, report.table.num_rows, kept.table.num_rows)
    result.kept_table = kept.table
    if not kept.table.num_rows:
        result.note = "nothing sent: the conditions kept no rows" if report.table.num_rows else "nothing sent: no rows"
        return result
    result.targets, result.delivered = _deliver(kept, workflow, ledger, run_id=run_id, source=source, force=force)
    return result


def _after_call(
    workflow: Workflow,
    ledger: Callable[[], AbstractContextManager[Warehouse]],
    text: str,
    *,
    now,
    run_id: str,
    source: str,
    calls_from: datetime | None,
    up_to_run: int | None,
    force: bool,
) -> WorkflowRun:
    with ledger() as warehouse:  # reads only; the cursor moves in `advance`, after the deliveries
        batch = next_calls(warehouse, workflow, now=now, ended_from=calls_from, up_to_run=up_to_run)
    kept = keep_rows(batch.report, workflow.conditions, with_totals=False)
    result = WorkflowRun(workflow.name, "calls", text, len(batch), kept.table.num_rows)
    result.kept_table = kept.table
    if kept.table.num_rows:
        result.targets, result.delivered = _deliver(kept, workflow, ledger, run_id=run_id, source=source, force=force)
    if result.failed:
        result.note = (
            "cursor not moved: a target did not take every call; the next run sends them again under the same keys"
        )
        return result
    if result.held:
        # An e-mail digest sent its window's message before these calls came: they stay after the
        # cursor and go with the next window's message (the other targets dedup or upsert them).
        names = ", ".join(repr(d.plan.target_name) for d in result.held)
        result.note = f"cursor not moved: e-mail digest {names} holds these calls for its next window"
        return result
    with ledger() as warehouse:  # every delivery is in the ledger: the calls were seen
        advance(warehouse, workflow.name, batch.up_to_run)
    result.advanced_to = batch.up_to_run
    if not kept.table.num_rows:
        result.note = "nothing sent: the conditions kept no calls" if len(batch) else "nothing sent: no new calls"
    return result
