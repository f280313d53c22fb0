"""A workflow's dry run (`workflow test`, the seed's "test the connector and check the target"):
what its operation yields now, which rows or calls its conditions keep and drop, what each target
would be sent (its plan), and each target's read-only check. Nothing is sent and nothing is
written: the warehouse is opened read-only (no ledger row, no cursor move), and a plan writes no
file.

A disabled workflow is shown all the same (the test is how one checks it before enabling it), and
a delay is ignored; both are said in the notes. An `after_call` workflow shows the calls its next
run would see (`calls_since`, the cursor untouched). When that is none (no cursor yet: the first
run only sets it; or no call since the last run), the calls of the newest finished ingest run are
shown instead, marked as a sample, so the targets can still be tested with a real call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ziwo_reports.connectors.delivery import (
    CheckResult,
    DeliveryConfigError,
    DeliveryError,
    Plan,
    TargetOptions,
    delivery_for,
)
from ziwo_reports.redaction import redact
from ziwo_reports.report import compute_report
from ziwo_reports.report_model import Report, row_keys
from ziwo_reports.timewindows import duration_text
from ziwo_reports.warehouse import Warehouse, open_warehouse
from ziwo_reports.workflows.after_call import cursor_of, finished_through
from ziwo_reports.workflows.conditions import to_text
from ziwo_reports.workflows.kept_rows import split_report
from ziwo_reports.workflows.model import Workflow
from ziwo_reports.workflows.run import next_calls


@dataclass
class Selection:
    """What the operation yields now, split by the conditions; each row under its real key."""

    workflow: str
    unit: str  # rows (a report or an export) or calls (after_call)
    conditions: str  # their text, or "none"
    kept: Report
    dropped: Report
    notes: list[str] = field(default_factory=list)  # disabled, delay, the cursor, a sample
    sample: bool = False  # after_call: not what the next run sends, the newest ingest run's calls

    @property
    def seen(self) -> int:
        return self.kept.table.num_rows + self.dropped.table.num_rows

    @property
    def kept_count(self) -> int:
        return self.kept.table.num_rows

    @property
    def dropped_count(self) -> int:
        return self.dropped.table.num_rows


@dataclass
class TargetPreview:
    """One target in the dry run: its plan for the kept rows (None when nothing is kept, or it could
    not be made: `problem`), and its check's answer (None: not asked)."""

    target: TargetOptions
    plan: Plan | None = None
    problem: str | None = None
    check: CheckResult | None = None

    @property
    def title(self) -> str:
        return f"{self.target.type} {self.target.target_name}"


@dataclass
class Preview:
    selection: Selection
    targets: list[TargetPreview]

    def problems(self) -> list[str]:
        """One line per target whose plan could not be made or whose check failed."""
        found = [f"{t.title}: {t.problem}" for t in self.targets if t.problem]
        found += [f"{t.title}: check failed: {t.check.detail}" for t in self.targets if t.check and not t.check.ok]
        return found


def workflow_notes(workflow: Workflow) -> list[str]:
    """What a test does that a run would not: a disabled workflow is tested, a delay is not waited for."""
    notes = []
    if not workflow.enabled:
        notes.append(
            f"workflow {workflow.name!r} is disabled (enabled: false): `workflow run` and its deployment do "
            "nothing; the test shows what it would do once enabled"
        )
    if workflow.delay is not None:
        notes.append(
            f"delay {duration_text(workflow.delay)}: ignored by the test (a run sends that long after its trigger)"
        )
    return notes


def select(
    workflow: Workflow,
    warehouse_path: Path | str,
    *,
    now: datetime | None = None,
    wait: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Selection:
    """What the workflow's operation yields now (a report at `now`, or the next after_call batch),
    split by its conditions; read-only."""
    path = Path(warehouse_path)
    if not path.exists():
        raise ValueError(f"warehouse {str(path)!r}: no warehouse there; run `ziwo-reports ingest` first")
    text = to_text(workflow.conditions) if workflow.conditions is not None else "none"
    notes = workflow_notes(workflow)
    with open_warehouse(path, read_only=True, wait=wait, on_wait=on_wait) as warehouse:
        if workflow.operation.kind == "call":
            report, sample = _calls(warehouse, workflow, now, notes)
            kept, dropped = split_report(report, workflow.conditions, with_totals=False)
            return Selection(workflow.name, "calls", text, kept, dropped, notes, sample)
        report = compute_report(warehouse, workflow.spec(), now)
    kept, dropped = split_report(report, workflow.conditions, with_totals=True)
    return Selection(workflow.name, "rows", text, kept, dropped, notes)


def _calls(warehouse: Warehouse, workflow: Workflow, now: datetime | None, notes: list[str]) -> tuple[Report, bool]:
    """The after_call batch the next run would see, or when that is empty a sample: the calls of
    the newest finished ingest run (the cursor neither read for it nor moved)."""
    cursor = cursor_of(warehouse, workflow.name)
    batch = next_calls(warehouse, workflow, now=now)
    newest, _ = finished_through(warehouse, workflow.spec().instance)
    if cursor is None:
        notes.append(
            f"no cursor yet: run from the command line, the next run starts at ingest run {newest} (the newest "
            "finished one) and sends nothing; deployed, its first run sends the calls that ended since the deploy; "
            "each run after that sends the calls completed since"
        )
    elif len(batch):
        notes.append(
            f"the next run sees the calls of ingest runs {batch.after_run + 1} to {batch.up_to_run} "
            f"(cursor at {cursor}; a test does not move it)"
        )
    else:
        notes.append(f"no new calls since ingest run {cursor} (the cursor): the next run sends nothing")
    if len(batch) or newest == 0:
        return batch.report, False
    sample = next_calls(warehouse, workflow, now=now, since_run=newest - 1, use_cursor=False)
    notes.append(f"shown instead, as a sample: the calls of ingest run {newest}, the newest finished one")
    return sample.report, True


def preview_workflow(selection: Selection, targets: list[TargetOptions], *, check: bool = True) -> Preview:
    """Each target's plan for the kept rows (nothing sent), and with `check` its read-only probe."""
    previews = []
    for target in targets:
        preview = TargetPreview(target)
        delivery = delivery_for(target)  # validated with the workflow: the options are sound
        if selection.kept_count:
            try:
                preview.plan = delivery.plan(selection.kept)
            except (DeliveryConfigError, DeliveryError) as problem:  # a mapping that fits no column, credentials
                preview.problem = str(problem)
        if check:
            preview.check = _check(delivery)
        previews.append(preview)
    return Preview(selection, previews)


def _check(delivery: Any) -> CheckResult:
    """The target's check, its failure as the answer (a check never stops the others)."""
    try:
        return delivery.check()
    except Exception as problem:  # a probe that cannot even start (bad credentials) is the check's answer
        return CheckResult(False, redact(" ".join(f"{type(problem).__name__}: {problem}".split())))


def row_labels(report: Report) -> list[str]:
    """Each row as a person names it: a call by its id, a report row by its group (and period, by
    interval); the key when neither is there."""
    table, spec = report.table, report.spec
    if table.num_rows == 0:
        return []
    names = table.column_names
    if "call_id" in names:
        rows = table.select([n for n in ("call_id", "direction", "result", "duration_s") if n in names]).to_pylist()
        return [_call_label(row) for row in rows]
    if "group_id" in names:
        columns = [n for n in ("group_id", "group_name", "period_start") if n in names]
        rows = table.select(columns).to_pylist()
        return [_group_label(spec.group_by, spec.interval, row) for row in rows]
    return [str(key) for key in row_keys(report).to_pylist()]


def _call_label(row: dict[str, Any]) -> str:
    details = ", ".join(
        str(part)
        for part in (row.get("direction"), row.get("result"), _seconds(row.get("duration_s")))
        if part is not None
    )
    return f"call {row['call_id']}" + (f" ({details})" if details else "")


def _seconds(value: Any) -> str | None:
    return None if value is None else f"{value} s"


def _group_label(group_by: str, interval: str, row: dict[str, Any]) -> str:
    if group_by == "none" or row.get("group_id") is None:
        label = "all"
    else:
        name = row.get("group_name")
        label = f"{group_by} {row['group_id']}" + (f" {name}" if name and name != str(row["group_id"]) else "")
    if interval != "none" and row.get("period_start"):
        label += f", {interval} from {row['period_start']}"
    return label
