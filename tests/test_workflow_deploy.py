"""`ziwo-reports workflow deploy|remove` against a real Prefect API: a cron schedule in the workflow's
zone (its dates across a DST change), a trigger on finished ingests for after_call, nothing for
manual, a disabled workflow paused; deploying again changes nothing; remove deletes it all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from ziwo_reports.cli import main
from ziwo_reports.flows.workflow_deployments import deploy, remove
from ziwo_reports.workflows.model import parse_workflow

pytestmark = pytest.mark.usefixtures("work_pool")
EXAMPLES = Path(__file__).resolve().parent.parent / "workflows" / "examples"


def workflow_of(example: str, **changes):
    document = yaml.safe_load((EXAMPLES / f"{example}.yaml").read_text())
    return parse_workflow({**document, **changes})


def held(name: str):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(f"ziwo-workflow/{name}")
        schedules = client.read_deployment_schedules(deployment.id)
        automations = client.read_resource_related_automations(f"prefect.deployment.{deployment.id}")
    return deployment, schedules, automations


def run_dates(schedule, count: int, start: datetime) -> list[str]:
    """The next start times of a held schedule as UTC `MM-DD HH:MM`, by the Prefect server's own scheduler code."""
    import asyncio

    from prefect.server.schemas.schedules import CronSchedule

    cron = CronSchedule(cron=schedule.schedule.cron, timezone=schedule.schedule.timezone)
    dates = asyncio.run(cron.get_dates(count, start=start))
    return [d.astimezone(UTC).strftime("%m-%d %H:%M") for d in dates]


def gone(name: str) -> bool:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_deployment_by_name(f"ziwo-workflow/{name}")
        except ObjectNotFound:
            return True
    return False


def test_a_schedule_workflow_is_a_cron_deployment_in_its_zone_across_dst():
    workflow = workflow_of(
        "daily-agent-report",
        name="ny-agents",
        trigger={"schedule": {"cron": "0 6 * * *", "timezone": "America/New_York"}},
    )
    try:
        done = deploy(workflow)
        assert done.action == "created" and done.name == "ziwo-workflow/ny-agents"
        deployment, [schedule], automations = held("ny-agents")
        assert automations == [] and not deployment.paused and schedule.active
        assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 6 * * *", "America/New_York")
        assert deployment.entrypoint == "ziwo_reports.flows.workflow.ziwo_workflow"
        assert deployment.work_pool_name == "ziwo-reports" and deployment.pull_steps
        assert deployment.parameters["workflow"] == workflow.model_dump(mode="json")
        assert deployment.parameters["ingest_first"] is True and "calls_from" not in deployment.parameters
        # 06:00 New York is 10:00 UTC before the clocks go back on 2026-11-01 and 11:00 UTC after
        assert run_dates(schedule, 4, datetime(2026, 10, 30, 12, tzinfo=UTC)) == [
            "10-31 10:00", "11-01 11:00", "11-02 11:00", "11-03 11:00",
        ]  # fmt: skip
    finally:
        remove("ny-agents")


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("Asia/Dubai", ["03-28 02:00", "03-29 02:00", "03-30 02:00"]),  # no DST: 06:00 is always 02:00 UTC
        ("Europe/London", ["03-28 06:00", "03-29 05:00", "03-30 05:00"]),  # clocks go forward on 03-29
    ],
)
def test_schedules_keep_local_time_in_other_zones(zone, expected):
    name = "z-" + zone.split("/")[1].lower()
    workflow = workflow_of(
        "daily-agent-report", name=name, trigger={"schedule": {"cron": "0 6 * * *", "timezone": zone}}
    )
    try:
        deploy(workflow)
        _, [schedule], _ = held(name)
        assert run_dates(schedule, 3, datetime(2026, 3, 27, 23, tzinfo=UTC)) == expected
    finally:
        remove(name)


def test_an_after_call_workflow_is_triggered_by_finished_ingests():
    from prefect.events.schemas.automations import EventTrigger

    workflow = workflow_of("long-complaint-calls", name="complaints")
    deployed_at = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    try:
        done = deploy(workflow, now=deployed_at)
        deployment, schedules, [automation] = held("complaints")
        assert done.action == "created" and schedules == [] and not deployment.paused
        trigger = automation.trigger
        assert isinstance(trigger, EventTrigger) and automation.enabled
        assert trigger.expect == {"prefect.flow-run.Completed", "prefect.flow-run.Failed"}
        [related] = trigger.match_related if isinstance(trigger.match_related, list) else [trigger.match_related]
        assert dict(related.items()) == {"prefect.resource.role": ["flow"], "prefect.resource.name": ["ziwo-ingest"]}
        assert trigger.posture == "Reactive" and trigger.threshold == 1
        [action] = automation.actions
        assert action.type == "run-deployment" and action.deployment_id == deployment.id
        assert deployment.parameters["ingest_first"] is False
        assert deployment.parameters["calls_from"] == deployed_at.isoformat()

        # unchanged: nothing changes, not even the automation; the first-run moment is kept when it does change
        assert deploy(workflow, now=deployed_at + timedelta(days=1)).action == "unchanged"
        assert held("complaints")[2][0].id == automation.id
        changed = workflow.model_copy(update={"description": "Changed."})
        assert deploy(changed, now=deployed_at + timedelta(days=1)).action == "updated"
        deployment, _, [recreated] = held("complaints")
        assert deployment.description == "Changed." and deployment.parameters["calls_from"] == deployed_at.isoformat()
        assert recreated.trigger.expect == trigger.expect
    finally:
        remove("complaints")


def test_a_manual_workflow_has_no_schedule_and_no_trigger():
    workflow = workflow_of("daily-agent-report", name="by-hand", trigger={"manual": {}})
    try:
        deploy(workflow)
        deployment, schedules, automations = held("by-hand")
        assert schedules == [] and automations == [] and not deployment.paused
    finally:
        remove("by-hand")


def test_a_disabled_workflow_is_deployed_paused_with_its_trigger_off():
    try:
        deploy(workflow_of("long-complaint-calls", name="off-calls", enabled=False))
        deployment, _, [automation] = held("off-calls")
        assert deployment.paused and not automation.enabled
        deploy(workflow_of("daily-agent-report", name="off-daily", enabled=False))
        deployment, [schedule], _ = held("off-daily")
        assert deployment.paused and not schedule.active
        # enabling it again updates both
        assert deploy(workflow_of("long-complaint-calls", name="off-calls")).action == "updated"
        deployment, _, [automation] = held("off-calls")
        assert not deployment.paused and automation.enabled
    finally:
        remove("off-calls")
        remove("off-daily")


def test_a_changed_cron_replaces_the_schedule():
    workflow = workflow_of("daily-agent-report", name="recron")
    try:
        deploy(workflow)
        assert deploy(workflow).action == "unchanged"
        later = workflow_of(
            "daily-agent-report",
            name="recron",
            trigger={"schedule": {"cron": "30 7 * * 1-5", "timezone": "Asia/Dubai"}},
        )
        assert deploy(later).action == "updated"
        _, [schedule], _ = held("recron")
        assert schedule.schedule.cron == "30 7 * * 1-5"
    finally:
        remove("recron")


def test_remove_deletes_the_deployment_its_trigger_and_its_scheduled_runs():
    from prefect.client.orchestration import get_client
    from prefect.states import Scheduled

    done = deploy(workflow_of("long-complaint-calls", name="to-remove"))
    with get_client(sync_client=True) as client:
        pending = client.create_flow_run_from_deployment(
            done.deployment_id, state=Scheduled(scheduled_time=datetime.now(UTC) + timedelta(hours=1))
        )
        removed = remove("to-remove")
        assert removed.found and removed.scheduled_runs_deleted == 1 and gone("to-remove")
        assert client.read_resource_related_automations(f"prefect.deployment.{done.deployment_id}") == []
        from prefect.exceptions import ObjectNotFound

        with pytest.raises(ObjectNotFound):
            client.read_flow_run(pending.id)
    assert not remove("to-remove").found


def test_the_commands_print_what_they_did(tmp_path, capsys):
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "a.yaml").write_text((EXAMPLES / "service-level-alert.yaml").read_text())
    assert main(["workflow", "deploy", "service-level-alert", "--dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("created ziwo-workflow/service-level-alert on http://127.0.0.1:")
    assert "work pool ziwo-reports: runs cron '30 6 * * *' in Asia/Dubai" in out
    assert main(["workflow", "deploy", "service-level-alert", "--dir", str(folder)]) == 0
    assert capsys.readouterr().out.startswith("unchanged ziwo-workflow/service-level-alert")
    assert main(["workflow", "deploy", "service-level-alert", "--dir", str(folder), "--pool", "nope"]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "--pool 'nope': no such work pool" in error[0]
    assert main(["workflow", "remove", "service-level-alert"]) == 0
    assert capsys.readouterr().out.startswith("removed ziwo-workflow/service-level-alert from ")
    assert main(["workflow", "remove", "service-level-alert"]) == 0
    assert "nothing to remove" in capsys.readouterr().out


def test_deploy_needs_a_prefect_server(tmp_path, capsys):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: None}):
        assert main(["workflow", "deploy", "service-level-alert", "--dir", str(EXAMPLES)]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "PREFECT_API_URL is not set" in error[0]


def test_the_fingerprint_is_the_same_in_every_process():
    """Deploying again from another process must find the same fingerprint (no set order in it)."""
    import os
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from ziwo_reports.workflows.model import load_workflow; "
        "from ziwo_reports.flows.workflow_deployments import desired, fingerprint; "
        "print(fingerprint(desired(load_workflow(Path(sys.argv[1])), work_pool='ziwo-reports')))"
    )
    example = str(EXAMPLES / "long-complaint-calls.yaml")
    # two hash seeds under which the trigger's set of events iterates in different orders
    probe = "import sys; print(list({'prefect.flow-run.Completed', 'prefect.flow-run.Failed'}))"
    orders: dict[str, int] = {}
    for seed in range(50):
        order = subprocess.run(
            [sys.executable, "-c", probe], env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        orders.setdefault(order, seed)
        if len(orders) == 2:
            break
    prints = {
        subprocess.run(
            [sys.executable, "-c", code, example], env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        for seed in orders.values()
    }  # fmt: skip
    assert len(orders) == 2
    assert len(prints) == 1 and next(iter(prints)).startswith("wf-")
