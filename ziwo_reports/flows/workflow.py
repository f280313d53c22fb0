"""The `ziwo-workflow` Prefect flow: one flow runs any workflow, its parameter the workflow itself
(a form in the Prefect UI). `ziwo-reports workflow deploy` makes a deployment of it per workflow.

A run checks the workflow, ingests first when asked (schedule and manual deployments do), runs it
(`run_workflow`: conditions, deliveries, the after_call cursor) and publishes artifacts: what the
conditions kept, what went where, and for anything not sent, how to send it again.

A delay is a scheduled flow run, so that it survives a restart of any process: the triggered run
pins what it is about (its "now"; for after_call, the last ingest run its batch goes up to) and
creates a run of its own deployment, scheduled `delay` later, with those pinned; that run sends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import deployment, flow_run

from ziwo_reports import redaction
from ziwo_reports.deliveries import new_run_id
from ziwo_reports.flows.ingest import artifact_key, ingest
from ziwo_reports.flows.parameters import DbPath, form, warehouse_path
from ziwo_reports.flows.report import ARTIFACT_ROWS
from ziwo_reports.flows.slots import warehouse_slot
from ziwo_reports.timewindows import duration_text
from ziwo_reports.warehouse import Warehouse, open_warehouse
from ziwo_reports.workflows.after_call import finished_through
from ziwo_reports.workflows.model import Workflow, WorkflowError, check_workflow
from ziwo_reports.workflows.run import WorkflowRun, run_workflow

FLOW_NAME = "ziwo-workflow"
STEP = {"retries": 0, "cache_policy": NO_CACHE}


def _opener(db_path: str):
    """Opens the warehouse inside its slot, so a workflow queues behind an ingest instead of failing."""

    @contextmanager
    def opened(read_only: bool) -> Iterator[Warehouse]:
        logger = get_run_logger()
        with warehouse_slot(db_path), open_warehouse(db_path, read_only=read_only, on_wait=logger.warning) as held:
            yield held

    return opened


def _scheduled_start() -> datetime:
    """When this run was meant to start: a schedule's 06:00 even when the run starts late."""
    start = flow_run.scheduled_start_time
    return datetime.fromisoformat(start.isoformat()) if start else datetime.now(UTC)


@task(name="schedule the delayed send", **STEP)
def schedule_send(
    workflow: Workflow, now: datetime, up_to_run: int | None, calls_from: datetime | None, db_path: str
) -> dict[str, Any]:
    """A run of this deployment, `delay` from `now`, with what it is about pinned; the same run
    scheduled again (a retry of this one) is the same run: its idempotency key is this run's id."""
    from prefect.client.orchestration import get_client
    from prefect.states import Scheduled

    deployment_id = deployment.id
    if not deployment_id:
        raise WorkflowError(
            f"workflow {workflow.name!r}: delay {duration_text(workflow.delay)} needs the workflow's deployment "
            "(`ziwo-reports workflow deploy`) to wait in; `ziwo-reports workflow run` sends at once"
        )
    if workflow.operation.kind == "call" and up_to_run is None:  # the calls of this trigger, not later ones
        with _opener(db_path)(True) as warehouse:
            up_to_run, _ = finished_through(warehouse, workflow.spec().instance)
    parameters = {
        "workflow": workflow.model_dump(mode="json"),
        "as_of": now.isoformat(),
        "calls_from": calls_from.isoformat() if calls_from else None,
        "up_to_run": up_to_run,
        "delayed": True,
        # the trigger's run ingests nothing: the data is read when the send runs, so it ingests then
        "ingest_first": bool((flow_run.parameters or {}).get("ingest_first", False)),
        "db_path": (flow_run.parameters or {}).get("db_path", ""),  # as given: the worker's environment decides
    }
    due = now + workflow.delay
    with get_client(sync_client=True) as client:
        scheduled = client.create_flow_run_from_deployment(
            deployment_id,
            parameters=parameters,
            state=Scheduled(scheduled_time=due),
            idempotency_key=f"{flow_run.get_id()}:delayed-send",
            tags=["delayed-send"],
        )
    get_run_logger().info("scheduled the send for %s as flow run %s", due.isoformat(), scheduled.name)
    return {"flow_run_id": str(scheduled.id), "flow_run_name": scheduled.name, "due": due.isoformat()}


@task(name="run the workflow", task_run_name="run {workflow.name}", **STEP)
def run_step(
    workflow: Workflow, db_path: str, now: datetime | None, calls_from: datetime | None, up_to_run: int | None
) -> WorkflowRun:
    run_id = str(flow_run.get_id() or new_run_id())
    return run_workflow(
        workflow,
        db_path,
        now=now,
        run_id=run_id,
        source=f"workflow:{workflow.name}",
        opener=_opener(db_path),
        calls_from=calls_from,
        up_to_run=up_to_run,
    )


def publish(workflow: Workflow, result: WorkflowRun, run_id: str) -> None:
    """A markdown summary (kept, delivered where, failures with how to send them again) and a table
    artifact of what the conditions kept."""
    key = artifact_key(FLOW_NAME, workflow.name)
    lines = [
        f"# Workflow `{workflow.name}`",
        "",
        workflow.description,
        "",
        f"Trigger: {workflow.trigger_text()}; operation: {workflow.operation.kind}; conditions: `{result.conditions}`.",
        "",
        f"**Kept {result.kept} of {result.seen} {result.unit}** (dropped {result.dropped}).",
        "",
        "| delivery | items | sent | not sent |",
        "|---|---:|---:|---:|",
        *(f"| {t.type} `{t.name}` | {t.items} | {t.sent} | {len(t.failed_ids)} |" for t in result.targets),
    ]
    if not result.targets:
        lines.append("| (none) | 0 | 0 | 0 |")
    if result.note:
        lines += ["", result.note]
    if result.advanced_to is not None:
        lines += ["", f"Cursor at ingest run {result.advanced_to}."]
    failed = [identifier for target in result.targets for identifier in target.failed_ids]
    if failed:
        again = (
            f"the next run sends them again under the same keys, or now: `ziwo-reports workflow run {workflow.name}`"
            if workflow.operation.kind == "call"
            else f"`ziwo-reports replay --run {run_id}` sends them again"
        )
        lines += ["", f"**{len(failed)} items not sent** (ledger ids {', '.join(map(str, failed[:20]))}): {again}."]
    create_markdown_artifact("\n".join(lines), key=f"{key}-summary", description=f"workflow {workflow.name}")
    table = result.kept_table
    if table is not None and table.num_rows:
        rows = orjson.loads(orjson.dumps(table.slice(0, ARTIFACT_ROWS).to_pylist()))
        shown = "" if table.num_rows <= ARTIFACT_ROWS else f", the first {ARTIFACT_ROWS} of {table.num_rows}"
        create_table_artifact(rows, key=key, description=f"what the conditions of {workflow.name} kept{shown}")


@flow(name=FLOW_NAME)
def ziwo_workflow(
    workflow: Annotated[
        Workflow,
        form(
            "Workflow",
            "The workflow: trigger, operation (report, export or the call), conditions, delay and deliveries. "
            "`ziwo-reports workflow deploy` fills it from the workflow's YAML file.",
        ),
    ],
    ingest_first: Annotated[
        bool,
        form(
            "Ingest first",
            "Bring the warehouse up to date from Ziwo first (schedule and manual deployments do); an after_call "
            "workflow never does: an ingest is what starts it.",
        ),
    ] = False,
    as_of: Annotated[
        datetime | None,
        form("As of", "'Now' for the report's period, with a UTC offset; None: when the run was scheduled to start."),
    ] = None,
    calls_from: Annotated[
        datetime | None,
        form(
            "Calls from",
            "after_call, on its first run only: the calls that ended from this moment on (deploy sets it to when "
            "the workflow was deployed); None: only calls of ingests from then on.",
        ),
    ] = None,
    up_to_run: Annotated[
        int | None,
        form("Up to ingest run", "after_call: the last ingest run this run's calls come from (a delayed send).", ge=0),
    ] = None,
    delayed: Annotated[
        bool, form("Delayed send", "This run is the send its trigger scheduled `delay` later: send now.")
    ] = False,
    db_path: DbPath = "",
) -> dict[str, Any]:
    """Run one workflow: ingest first when asked, then what its conditions keep to its deliveries,
    or schedule that `delay` later; artifacts of what was kept and sent."""
    redaction.install()
    logger = get_run_logger()
    db_path = warehouse_path(db_path)
    workflow = check_workflow(workflow, f"workflow {workflow.name}")
    if not workflow.enabled:
        logger.warning("workflow %s is disabled (enabled: false): nothing run, nothing sent", workflow.name)
        return {"workflow": workflow.name, "disabled": True}
    now = as_of or _scheduled_start()
    if workflow.delay is not None and not delayed:
        return {"workflow": workflow.name, "scheduled": schedule_send(workflow, now, up_to_run, calls_from, db_path)}
    is_call = workflow.operation.kind == "call"
    if ingest_first and not is_call:
        ingest(credentials_block=workflow.credentials_block, db_path=db_path)
    # An after_call batch has its own "now" (when its last ingest finished): it sends the same bytes again.
    result = run_step(workflow, db_path, None if is_call else now, calls_from, up_to_run)
    run_id = str(flow_run.get_id() or "")
    publish(workflow, result, run_id)
    logger.info("kept %d of %d %s (conditions: %s)", result.kept, result.seen, result.unit, result.conditions)
    for target in result.targets:
        logger.info("%s %s: %d of %d items sent", target.type, target.name, target.sent, target.items)
    if result.note:
        logger.info(result.note)
    for delivered in result.delivered:
        delivered.raise_for_failures()
    return {
        "workflow": workflow.name,
        "seen": result.seen,
        "kept": result.kept,
        "sent": {f"{t.type}:{t.name}": t.sent for t in result.targets},
        "cursor": result.advanced_to,
    }


if __name__ == "__main__":
    ziwo_workflow()
