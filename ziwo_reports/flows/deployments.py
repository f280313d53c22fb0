"""The deployments of prefect.yaml as Prefect runner deployments, for `ziwo-reports serve`: the
same flows, parameters and schedules that `prefect deploy --all` registers on a server, run by
this process instead of a work pool."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import yaml
from prefect.deployments.runner import RunnerDeployment
from prefect.flows import load_flow_from_entrypoint
from prefect.schedules import Cron

#: prefect.yaml ships inside the package, read through importlib.resources; its entrypoints are
#: module paths (ziwo_reports.flows.report.report), so they load from an installed wheel too.
PREFECT_YAML: Traversable = resources.files("ziwo_reports") / "prefect.yaml"


def declared(path: Traversable = PREFECT_YAML) -> list[dict[str, Any]]:
    """The deployments as prefect.yaml declares them."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))["deployments"]


def pull_steps(path: Traversable = PREFECT_YAML) -> list[dict[str, Any]]:
    """prefect.yaml's pull steps: where a worker runs the flows ($ZIWO_REPORTS_HOME)."""
    return yaml.safe_load(path.read_text(encoding="utf-8")).get("pull") or []


def _schedules(entry: dict[str, Any]) -> list[Cron]:
    schedules = []
    for schedule in entry.get("schedules") or []:
        if set(schedule) - {"cron", "timezone", "slug", "active", "day_or"}:
            raise ValueError(f"deployment {entry['name']!r}: only cron schedules are served, got {schedule}")
        schedules.append(
            Cron(
                schedule["cron"],
                timezone=schedule.get("timezone"),
                day_or=schedule.get("day_or", True),
                active=schedule.get("active", True),
                slug=schedule.get("slug"),
            )
        )
    return schedules


def runner_deployments(path: Traversable = PREFECT_YAML, names: list[str] | None = None) -> list[RunnerDeployment]:
    """Each deployment of prefect.yaml (or those named) with its flow loaded from its entrypoint."""
    entries = [entry for entry in declared(path) if not names or entry["name"] in names]
    unknown = set(names or ()) - {entry["name"] for entry in entries}
    if unknown:
        raise ValueError(f"no deployment named {', '.join(sorted(unknown))} in {path}")
    deployments = []
    for entry in entries:
        flow = load_flow_from_entrypoint(entry["entrypoint"])
        deployments.append(
            flow.to_deployment(
                name=entry["name"],
                description=entry.get("description"),
                tags=entry.get("tags"),
                parameters=entry.get("parameters") or {},
                schedules=_schedules(entry),
            )
        )
    return deployments


def work_pool_deployments(deployments: list[RunnerDeployment]) -> dict[str, list[str]]:
    """Those of `deployments` that the Prefect API holds in a work pool: pool -> ['flow/name']."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    held: dict[str, list[str]] = {}
    with get_client(sync_client=True) as client:
        for deployment in deployments:
            name = f"{deployment.flow_name}/{deployment.name}"
            try:
                existing = client.read_deployment_by_name(name)
            except ObjectNotFound:
                continue
            if existing.work_pool_name:
                held.setdefault(existing.work_pool_name, []).append(name)
    return held
