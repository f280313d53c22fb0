"""A workflow's Prefect deployment, for `ziwo-reports workflow deploy|remove`: the seed's "save and
deploy". One deployment per workflow, `ziwo-workflow/<name>`, of the `ziwo-workflow` flow:

- `schedule`: a cron schedule in the workflow's zone;
- `after_call`: a trigger (Prefect's `DeploymentEventTrigger`) on every finished `ziwo-ingest` flow
  run, whichever deployment (or report) ran it: the workflow runs right after each ingest;
- `manual`: no schedule; runs from the Prefect UI's form or `prefect deployment run`.

A disabled workflow is deployed paused, its trigger off. The deployment lives in a work pool (the
one of prefect.yaml's deployments by default) with prefect.yaml's pull steps, so a worker runs it
where the other deployments run. Its `version` is a fingerprint of what was deployed: deploying an
unchanged workflow again finds the same fingerprint, schedules and trigger, and changes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

import orjson

from ziwo_reports.flows.deployments import pull_steps
from ziwo_reports.timewindows import duration_text
from ziwo_reports.workflows.model import Workflow

FLOW_NAME = "ziwo-workflow"
ENTRYPOINT = "ziwo_reports.flows.workflow.ziwo_workflow"
DEFAULT_POOL = "ziwo-reports"
#: The runs an after_call workflow follows: every ingest that finished, completed or failed (a
#: failed ingest still loads its verified days, whose calls the workflow then sees).
INGEST_FLOW = "ziwo-ingest"
INGEST_FINISHED = ("prefect.flow-run.Completed", "prefect.flow-run.Failed")


@dataclass(frozen=True)
class Deployed:
    """What `deploy` did to a workflow's deployment."""

    name: str  # ziwo-workflow/<workflow>
    action: Literal["created", "updated", "unchanged"]
    deployment_id: UUID
    runs: str  # when it runs, for a person


def deployment_name(workflow: Workflow | str) -> str:
    return f"{FLOW_NAME}/{workflow if isinstance(workflow, str) else workflow.name}"


def _trigger(workflow: Workflow):
    from prefect.events import DeploymentEventTrigger

    return DeploymentEventTrigger(
        name=f"{workflow.name}: after each ingest",
        description="Runs the workflow when a ziwo-ingest flow run finishes.",
        expect=set(INGEST_FINISHED),
        match_related={"prefect.resource.role": "flow", "prefect.resource.name": INGEST_FLOW},
        enabled=workflow.enabled,
    )


def _trigger_spec(workflow: Workflow) -> dict[str, Any]:
    """The trigger as data, its sets sorted: a set's order changes from one process to the next."""
    spec = _trigger(workflow).model_dump(mode="json")
    return {key: sorted(value) if key in ("expect", "after", "for_each") else value for key, value in spec.items()}


def _schedules(workflow: Workflow) -> list[dict[str, Any]]:
    if workflow.trigger.kind != "schedule":
        return []
    schedule = workflow.trigger.schedule
    return [{"cron": schedule.cron, "timezone": schedule.timezone, "active": workflow.enabled}]


def runs_text(workflow: Workflow) -> str:
    """When the deployment runs, for a person."""
    if workflow.trigger.kind == "schedule":
        when = f"cron {workflow.trigger.schedule.cron!r} in {workflow.trigger.schedule.timezone}"
    elif workflow.trigger.kind == "after_call":
        when = f"after each {INGEST_FLOW} run ({' or '.join(e.rsplit('.', 1)[1] for e in INGEST_FINISHED)})"
    else:
        when = "by hand (Prefect UI or `prefect deployment run`)"
    return f"{when}, sending {duration_text(workflow.delay)} later" if workflow.delay is not None else when


def desired(workflow: Workflow, *, work_pool: str) -> dict[str, Any]:
    """The deployment as the workflow wants it, without what deploy stamps once (`calls_from`)."""
    from ziwo_reports.flows.workflow import ziwo_workflow

    is_call = workflow.operation.kind == "call"
    return {
        "entrypoint": ENTRYPOINT,
        "work_pool_name": work_pool,
        "description": workflow.description or f"Workflow {workflow.name}",
        "tags": ["ziwo", "workflow", workflow.trigger.kind],
        "paused": not workflow.enabled,
        "parameters": {"workflow": workflow.model_dump(mode="json"), "ingest_first": not is_call},
        "schedules": _schedules(workflow),
        "triggers": [_trigger_spec(workflow)] if is_call else [],
        "pull_steps": pull_steps(),
        "parameter_openapi_schema": ziwo_workflow.parameters.model_dump(mode="json"),
    }


def fingerprint(spec: dict[str, Any]) -> str:
    return "wf-" + hashlib.sha256(orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def _schedule_objects(spec: dict[str, Any]):
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.schedules import CronSchedule

    return [
        DeploymentScheduleCreate(schedule=CronSchedule(cron=s["cron"], timezone=s["timezone"]), active=s["active"])
        for s in spec["schedules"]
    ]


def _same(client, existing, spec: dict[str, Any], version: str) -> bool:
    """Whether the server holds exactly this deployment: fingerprint, parameters, schedules, trigger."""
    if existing.version != version or existing.paused != spec["paused"]:
        return False
    parameters = {k: v for k, v in (existing.parameters or {}).items() if k != "calls_from"}
    if parameters != spec["parameters"] or existing.work_pool_name != spec["work_pool_name"]:
        return False
    held = sorted(
        (s.schedule.cron, s.schedule.timezone, s.active)
        for s in client.read_deployment_schedules(existing.id)
        if hasattr(s.schedule, "cron")
    )
    if held != sorted((s["cron"], s["timezone"], s["active"]) for s in spec["schedules"]):
        return False
    automations = client.read_resource_related_automations(f"prefect.deployment.{existing.id}")
    return len(automations) == len(spec["triggers"]) and all(a.enabled == (not spec["paused"]) for a in automations)


def _apply_triggers(client, deployment_id: UUID, workflow: Workflow) -> None:
    client.delete_resource_owned_automations(f"prefect.deployment.{deployment_id}")
    if workflow.operation.kind == "call":
        trigger = _trigger(workflow)
        trigger.set_deployment_id(deployment_id)
        client.create_automation(trigger.as_automation())


def deploy(workflow: Workflow, *, work_pool: str = DEFAULT_POOL, now: datetime | None = None) -> Deployed:
    """Create or update the workflow's deployment; an unchanged one is left as it is."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import DeploymentUpdate
    from prefect.exceptions import ObjectNotFound

    spec = desired(workflow, work_pool=work_pool)
    version = fingerprint(spec)
    name = deployment_name(workflow)
    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(work_pool)
        except ObjectNotFound:
            raise ValueError(
                f"--pool {work_pool!r}: no such work pool on the Prefect API; create it with "
                f"`prefect work-pool create {work_pool} --type process`"
            ) from None
        try:
            existing = client.read_deployment_by_name(name)
        except ObjectNotFound:
            existing = None
        if existing is not None and _same(client, existing, spec, version):
            return Deployed(name, "unchanged", existing.id, runs_text(workflow))
        parameters = dict(spec["parameters"])
        if workflow.operation.kind == "call":
            # An after_call workflow takes the calls that ended since it was first deployed; a
            # re-deploy keeps that moment, so its first run (if still to come) loses nothing.
            kept = (existing.parameters or {}).get("calls_from") if existing is not None else None
            parameters["calls_from"] = kept or (now or datetime.now(UTC)).isoformat()
        fields = {
            "version": version,
            "description": spec["description"],
            "tags": spec["tags"],
            "paused": spec["paused"],
            "parameters": parameters,
            "entrypoint": spec["entrypoint"],
            "work_pool_name": work_pool,
            "pull_steps": spec["pull_steps"],
            "parameter_openapi_schema": spec["parameter_openapi_schema"],
            "enforce_parameter_schema": True,
        }
        if existing is None:
            flow_id = client.create_flow_from_name(FLOW_NAME)
            deployment_id = client.create_deployment(
                flow_id=flow_id, name=workflow.name, schedules=_schedule_objects(spec), **fields
            )
            action: Literal["created", "updated"] = "created"
        else:
            deployment_id = existing.id
            client.update_deployment(deployment_id, DeploymentUpdate(**fields))
            for schedule in client.read_deployment_schedules(deployment_id):
                client.delete_deployment_schedule(deployment_id, schedule.id)
            if spec["schedules"]:
                client.create_deployment_schedules(deployment_id, _schedule_objects(spec))
            action = "updated"
        _apply_triggers(client, deployment_id, workflow)
    return Deployed(name, action, deployment_id, runs_text(workflow))


@dataclass(frozen=True)
class Removed:
    name: str
    found: bool
    scheduled_runs_deleted: int = 0


def remove(name: str) -> Removed:
    """Delete the workflow's deployment, its trigger and its runs still scheduled (delayed sends)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.exceptions import ObjectNotFound

    full = deployment_name(name)
    with get_client(sync_client=True) as client:
        try:
            existing = client.read_deployment_by_name(full)
        except ObjectNotFound:
            return Removed(full, False)
        pending = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[existing.id])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
            ),
        )
        client.delete_resource_owned_automations(f"prefect.deployment.{existing.id}")
        for run in pending:
            client.delete_flow_run(run.id)
        client.delete_deployment(existing.id)
    return Removed(full, True, len(pending))
