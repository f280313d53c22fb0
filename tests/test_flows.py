"""The Prefect ingest flow on a real Prefect API: a direct run, a run from a deployment, and
the deployments of prefect.yaml."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ziwo_reports.warehouse import open_warehouse

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture
def ziwo_env(simulator, monkeypatch):
    # Flows plan from the real clock: so does this simulator.
    sim = simulator(days=2, calls_per_day=200, now=None)
    env = {
        "ZIWO_BASE_URL": sim.base_url,
        "ZIWO_INSTANCE": "sim",
        "ZIWO_TIMEZONE": sim.config.timezone,
        "ZIWO_USERNAME": sim.config.username,
        "ZIWO_PASSWORD": sim.config.password,
        "ZIWO_REPORTS_HTTP_BACKOFF_BASE": "0.001",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return sim, env


def test_ingest_flow_loads_the_calls_and_publishes_artifacts(ziwo_env, tmp_path):
    from prefect.artifacts import Artifact

    from flows.ingest import ingest

    sim, _ = ziwo_env
    db = tmp_path / "w.duckdb"
    totals = ingest(db_path=str(db), initial_days=2)
    assert totals["new"] == len(sim.truth().calls) > 0
    with open_warehouse(db) as warehouse:
        assert warehouse.con.execute("SELECT count(*) FROM calls").fetchone()[0] == totals["new"]
    table = Artifact.get("ziwo-ingest-sim")
    assert table is not None and table.type == "table" and str(sim.last_day) in table.data
    summary = Artifact.get("ziwo-ingest-sim-summary")
    assert summary is not None and summary.type == "markdown" and f"| {totals['new']} |" in summary.data
    assert sim.config.password not in table.data + summary.data


def test_the_flow_runs_from_a_deployment_as_a_worker_runs_it(ziwo_env, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL

    from flows.ingest import ingest

    sim, env = ziwo_env
    db = tmp_path / "w.duckdb"
    ingest.to_deployment(name="test-ingest", parameters={"db_path": str(db), "initial_days": 2}).apply()
    flow_run = run_deployment("ziwo-ingest/test-ingest", timeout=0)
    worker_env = {**os.environ, **env, "PREFECT_API_URL": PREFECT_API_URL.value()}
    prefect = str(Path(sys.executable).with_name("prefect"))
    executed = subprocess.run(
        [prefect, "flow-run", "execute", str(flow_run.id)], cwd=ROOT, env=worker_env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert executed.returncode == 0, executed.stderr[-3000:]
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(flow_run.id).state.is_completed()
    with open_warehouse(db) as warehouse:
        held = {r[0] for r in warehouse.con.execute("SELECT call_id FROM calls").fetchall()}
    assert held == sim.truth().calls
    assert sim.config.password not in executed.stdout + executed.stderr


def test_every_deployment_in_prefect_yaml_loads_and_its_schedule_parses():
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.flows import load_flow_from_entrypoint

    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    assert config["deployments"]
    for deployment in config["deployments"]:
        flow = load_flow_from_entrypoint(str(ROOT / deployment["entrypoint"]))
        assert flow.name == "ziwo-ingest"
        unknown = set(deployment.get("parameters", {})) - set(flow.parameters.properties)
        assert not unknown, f"{deployment['name']}: unknown parameters {unknown}"
        for schedule in deployment.get("schedules") or []:
            cron = CronSchedule(cron=schedule["cron"], timezone=schedule.get("timezone"))
            assert cron.cron == schedule["cron"]
