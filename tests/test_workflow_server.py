"""An after_call workflow running by itself on a real `prefect server start`: the ingest deployment
from prefect.yaml and the workflow deployed with `ziwo-reports workflow deploy`, a process worker;
an ingest run from the API, and the workflow runs on its own after it and delivers each call that
ended since it was deployed, once, to a real loopback webhook receiver."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from tests.prefect_server import ROOT, free_port, healthy, open_terminal, stop, wait_for
from ziwo_reports.connectors.ziwo.simulator import SimConfig, Simulator
from ziwo_reports.warehouse import open_warehouse

PATH = "/hooks/calls"
SECRET = "whsec_" + base64.b64encode(b"server-test-signing-key-32bytes!").decode()


def midday_zone(now: datetime) -> str:
    """A fixed-offset zone where it is about noon now, so that an hour later is still today."""
    offset = 12 - now.astimezone(UTC).hour
    return "UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).with_name("ziwo-reports")), *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_an_after_call_workflow_runs_by_itself_after_each_ingest(receiver, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.objects import WorkerStatus
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    sim = Simulator(SimConfig(days=1, calls_per_day=1500, timezone=midday_zone(datetime.now(UTC)))).start()
    receiver.verify(PATH, [SECRET])
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    db = tmp_path / "warehouse" / "ziwo.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ZIWO_", "HOOK_"))}
    env.update(
        PREFECT_API_URL=api,
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_PREFETCH_SECONDS="2",
        ZIWO_BASE_URL=sim.base_url,
        ZIWO_INSTANCE="sim",
        ZIWO_TIMEZONE=sim.config.timezone,
        ZIWO_USERNAME=sim.config.username,
        ZIWO_PASSWORD=sim.config.password,
        ZIWO_REPORTS_DB=str(db),
        ZIWO_REPORTS_HOME=str(ROOT),
        HOOK_SIGNING_SECRETS=SECRET,
    )
    folder = tmp_path / "workflows"
    folder.mkdir()
    workflow = {
        "name": "every-call",
        "description": "Each completed call to the receiver.",
        "trigger": {"after_call": {"on_change": "once"}},
        "operation": {"call": {}},
        "deliveries": [
            {"type": "webhook", "name": "receiver", "url": receiver.url(PATH), "allow_private_urls": True,
             "mode": "row", "credentials": "env:HOOK"},
        ],
    }  # fmt: skip
    (folder / "every-call.yaml").write_text(yaml.safe_dump(workflow))
    logs = [tmp_path / "server.log", tmp_path / "worker.log"]
    started: list[subprocess.Popen] = []
    try:
        started.append(open_terminal(f".venv/bin/prefect server start --port {port}", env, logs[0]))
        wait_for("the Prefect server", lambda: healthy(api), time.monotonic() + 120, started, logs)
        for step in (
            [".venv/bin/prefect", "work-pool", "create", "ziwo-reports", "--type", "process"],
            [".venv/bin/prefect", "--no-prompt", "deploy", "--prefect-file", "ziwo_reports/prefect.yaml",
             "--name", "ingest-manual"],
        ):  # fmt: skip
            done = subprocess.run(step, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        deployed = cli("workflow", "deploy", "every-call", "--dir", str(folder), env=env)
        assert deployed.returncode == 0, deployed.stderr
        assert deployed.stdout.startswith("created ziwo-workflow/every-call")
        assert "after each ziwo-ingest" in deployed.stdout
        assert cli("workflow", "deploy", "every-call", "--dir", str(folder), env=env).stdout.startswith("unchanged")
        started.append(open_terminal(".venv/bin/prefect worker start --pool ziwo-reports", env, logs[1]))

        with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
            deployment = client.read_deployment_by_name("ziwo-workflow/every-call")
            calls_from = datetime.fromisoformat(deployment.parameters["calls_from"])
            # calls go on ending after the deploy: the simulator's clock moves on by 40 minutes
            sim.store.set_now(datetime.now(UTC) + timedelta(minutes=40))
            wait_for(
                "the worker",
                lambda: any(w.status == WorkerStatus.ONLINE for w in client.read_workers_for_work_pool("ziwo-reports")),
                time.monotonic() + 120, started, logs,
            )  # fmt: skip

            def workflow_runs():
                return client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["ziwo-workflow"])))

            def finished_workflow_runs(count: int):
                def check():
                    runs = workflow_runs()
                    done = [run for run in runs if run.state is not None and run.state.is_final()]
                    return done if len(done) >= count else None

                return check

            ingest = run_deployment("ziwo-ingest/ingest-manual", parameters={"credentials_block": ""}, timeout=300)
            assert ingest.state.is_completed(), logs[1].read_text()[-4000:]
            [first] = wait_for("the workflow's run after the ingest", finished_workflow_runs(1), time.monotonic() + 180,
                               started, logs)  # fmt: skip
            assert first.state.is_completed(), logs[1].read_text()[-4000:]
            assert first.deployment_id == deployment.id

            with open_warehouse(db, read_only=True) as warehouse:
                rows = warehouse.con.execute(
                    "SELECT call_id FROM calls WHERE ended_at >= ? ORDER BY call_id", [calls_from]
                ).fetchall()
            expected = sorted(f"sim:call:{call_id}" for (call_id,) in rows)
            events = receiver.events(PATH)
            assert len(expected) > 0 and sorted(event["data"]["row_key"] for event in events.values()) == expected
            assert len(receiver.requests(PATH)) == len(expected)  # once each
            assert all(request.verified for request in receiver.requests(PATH))

            # another ingest, nothing new in Ziwo: the workflow runs again by itself and sends nothing
            again = run_deployment("ziwo-ingest/ingest-manual", parameters={"credentials_block": ""}, timeout=300)
            assert again.state.is_completed()
            wait_for("the workflow's second run", finished_workflow_runs(2), time.monotonic() + 180, started, logs)
            assert all(run.state.is_completed() for run in workflow_runs())
            assert len(receiver.requests(PATH)) == len(expected)
    finally:
        stop(started)
        sim.stop()
    output = "".join(log.read_text() for log in logs)
    assert sim.config.password not in output and SECRET not in output
