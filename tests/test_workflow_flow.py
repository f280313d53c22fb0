"""The `ziwo-workflow` flow on a real Prefect API: what the conditions kept and where it went, as
artifacts; a failure with the way to send again; a disabled workflow; and a delay, which is a flow
run of the workflow's deployment scheduled later that a fresh process (a worker) runs."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from tests import golden
from tests.test_workflow_run import PATH, SECRET, held_keys, report_workflow
from ziwo_reports.deliveries import list_deliveries
from ziwo_reports.report_model import row_keys
from ziwo_reports.warehouse import open_warehouse

pytestmark = pytest.mark.usefixtures("prefect_api")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def credentials(monkeypatch):
    monkeypatch.setenv("ZIWO_REPORTS_HTTP_BACKOFF_BASE", "0.01")
    monkeypatch.setenv("HOOK_SIGNING_SECRETS", SECRET)


@pytest.fixture
def db(golden_db):
    return golden_db


def artifact(key: str):
    from prefect.artifacts import Artifact

    found = Artifact.get(key)
    assert found is not None, key
    return found


def test_the_flow_delivers_what_the_conditions_keep_and_publishes_it(db, receiver):
    from ziwo_reports.flows.workflow import ziwo_workflow

    receiver.verify(PATH, [SECRET])
    workflow = report_workflow(receiver, "group_id in (1, 3)", description="Agents 1 and 3.")
    result = ziwo_workflow(workflow=workflow, as_of=golden.AS_OF, db_path=str(db))
    assert result == {"workflow": "daily-agents", "seen": 3, "kept": 2, "sent": {"webhook:hook": 2}, "cursor": None}
    with open_warehouse(db, read_only=True) as warehouse:
        full = golden.report_of(warehouse, interval="none")
        ledger = list_deliveries(warehouse, limit=100)
    by_group = dict(zip(full.table["group_id"].to_pylist(), row_keys(full).to_pylist(), strict=True))
    assert held_keys(receiver) == sorted([by_group[1], by_group[3]])
    assert all(request.verified for request in receiver.requests(PATH))
    assert {row.source for row in ledger} == {"workflow:daily-agents"} and len(ledger) == 2

    summary = artifact("ziwo-workflow-daily-agents-summary").data
    assert "**Kept 2 of 3 rows** (dropped 1)" in summary and "conditions: `group_id in [1, 3]`" in summary
    assert "| webhook `hook` | 2 | 2 | 0 |" in summary and "Agents 1 and 3." in summary
    kept = yaml.safe_load(artifact("ziwo-workflow-daily-agents").data)
    assert sorted(row["group_id"] for row in kept) == [1, 3]
    assert SECRET not in summary


def test_a_target_that_fails_fails_the_run_and_says_how_to_send_again(db, receiver):
    from ziwo_reports.flows.workflow import ziwo_workflow

    receiver.fail(PATH, 503)
    state = ziwo_workflow(
        workflow=report_workflow(receiver, "group_id = 2"), as_of=golden.AS_OF, db_path=str(db), return_state=True
    )
    assert state.is_failed() and "webhook delivery 'hook'" in state.message
    summary = artifact("ziwo-workflow-daily-agents-summary").data
    assert "**1 items not sent**" in summary and "`ziwo-reports replay --run " in summary
    with open_warehouse(db, read_only=True) as warehouse:
        [row] = list_deliveries(warehouse, limit=10)
    assert row.status == "failed" and row.run_id in summary


def test_a_disabled_workflow_does_nothing(db, receiver):
    from ziwo_reports.flows.workflow import ziwo_workflow

    result = ziwo_workflow(workflow=report_workflow(receiver, enabled=False), as_of=golden.AS_OF, db_path=str(db))
    assert result == {"workflow": "daily-agents", "disabled": True}
    assert receiver.requests(PATH) == []
    with open_warehouse(db, read_only=True) as warehouse:
        assert list_deliveries(warehouse, limit=10) == []


def test_a_delay_without_a_deployment_says_what_it_needs(db, receiver):
    from ziwo_reports.flows.workflow import ziwo_workflow

    state = ziwo_workflow(
        workflow=report_workflow(receiver, delay="30m"), as_of=golden.AS_OF, db_path=str(db), return_state=True
    )
    assert state.is_failed() and "delay 30m needs the workflow's deployment" in state.message
    assert receiver.requests(PATH) == []


def test_a_delayed_send_is_a_scheduled_run_that_a_fresh_process_sends(db, receiver, work_pool, tmp_path):
    """The trigger's run sends nothing and schedules the send; the send survives the trigger's process:
    a separate `python -m prefect.engine` (what a worker starts) runs it from the Prefect API alone."""
    from prefect.client.orchestration import get_client
    from prefect.flow_engine import run_flow
    from prefect.settings import PREFECT_API_URL

    from ziwo_reports.flows.workflow import ziwo_workflow
    from ziwo_reports.flows.workflow_deployments import deploy, remove

    workflow = report_workflow(receiver, "group_id in (1, 3)", delay="1h").model_copy(update={"name": "later"})
    deployed = deploy(workflow, work_pool=work_pool)
    parameters = {
        "workflow": workflow.model_dump(mode="json"),
        "as_of": golden.AS_OF.isoformat(),
        "db_path": str(db),
        "ingest_first": False,  # the golden warehouse has no Ziwo behind it
    }
    try:
        with get_client(sync_client=True) as client:
            trigger_run = client.create_flow_run_from_deployment(deployed.deployment_id, parameters=parameters)
            result = run_flow(
                ziwo_workflow, flow_run=trigger_run, parameters=client.read_flow_run(trigger_run.id).parameters
            )
            assert receiver.requests(PATH) == []
            scheduled = client.read_flow_run(result["scheduled"]["flow_run_id"])
            assert scheduled.deployment_id == deployed.deployment_id and scheduled.state.is_scheduled()
            assert scheduled.state.state_details.scheduled_time == golden.AS_OF + timedelta(hours=1)
            assert scheduled.parameters["delayed"] is True and scheduled.parameters["as_of"] == golden.AS_OF.isoformat()
            assert scheduled.parameters["db_path"] == str(db) and scheduled.parameters["ingest_first"] is False

            # the same trigger run scheduling again (a retry) makes no second send
            again = run_flow(
                ziwo_workflow, flow_run=trigger_run, parameters=client.read_flow_run(trigger_run.id).parameters
            )
            assert again["scheduled"]["flow_run_id"] == result["scheduled"]["flow_run_id"]

            env = {
                **os.environ,
                "PREFECT_API_URL": PREFECT_API_URL.value(),
                "PREFECT__FLOW_RUN_ID": str(scheduled.id),
                "ZIWO_REPORTS_HOME": str(tmp_path),
            }
            engine = subprocess.run(
                [sys.executable, "-m", "prefect.engine"], env=env, cwd=tmp_path, capture_output=True, text=True,
                timeout=180,
            )  # fmt: skip
            finished = client.read_flow_run(scheduled.id)
            assert finished.state.is_completed(), engine.stdout[-3000:] + engine.stderr[-3000:]
        assert len(receiver.events(PATH)) == 2
        with open_warehouse(db, read_only=True) as warehouse:
            ledger = list_deliveries(warehouse, limit=10)
        assert {row.run_id for row in ledger} == {str(scheduled.id)} and len(ledger) == 2
    finally:
        remove("later")


def test_a_delay_across_a_dst_change_is_elapsed_time(db, receiver, work_pool):
    """New York falls back at 02:00 on 2026-11-01: an hour after 01:30 EDT is 01:30 EST, not 02:30."""
    from datetime import datetime

    from prefect.client.orchestration import get_client
    from prefect.flow_engine import run_flow

    from ziwo_reports.flows.workflow import ziwo_workflow
    from ziwo_reports.flows.workflow_deployments import deploy, remove

    document = report_workflow(receiver, delay="1h").model_dump(mode="json")
    document |= {"name": "ny-later", "trigger": {"schedule": {"cron": "30 1 * * *", "timezone": "America/New_York"}}}
    workflow = report_workflow(receiver).model_validate(document)
    deployed = deploy(workflow, work_pool=work_pool)
    trigger_time = datetime.fromisoformat("2026-11-01T01:30:00-04:00")
    try:
        with get_client(sync_client=True) as client:
            run = client.create_flow_run_from_deployment(
                deployed.deployment_id,
                parameters={"workflow": document, "as_of": trigger_time.isoformat(), "db_path": str(db)},
            )
            result = run_flow(ziwo_workflow, flow_run=run, parameters=client.read_flow_run(run.id).parameters)
            scheduled = client.read_flow_run(result["scheduled"]["flow_run_id"])
        due = scheduled.state.state_details.scheduled_time
        assert due == datetime.fromisoformat("2026-11-01T01:30:00-05:00") == trigger_time + timedelta(hours=1)
        assert datetime.fromisoformat(scheduled.parameters["as_of"]) == trigger_time  # the report's day is pinned
        assert scheduled.parameters["ingest_first"] is True  # a schedule's send ingests first, when it runs
        assert receiver.requests(PATH) == []
    finally:
        remove("ny-later")
