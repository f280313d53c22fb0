"""The README's work-pool steps, as written, on a real `prefect server start`: the credentials
block, the work pool, `prefect deploy --all` and a process worker; then `report-manual` run from the
API writes its files, and `ziwo-reports serve` refuses to replace the work pool's deployments."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.prefect_server import free_port, healthy, open_terminal, stop, wait_for
from ziwo_reports.connectors.ziwo.simulator import SimConfig, Simulator
from ziwo_reports.warehouse import open_warehouse

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- work-pool-steps", "<!-- /work-pool-steps -->"
README_PORT = "4200"


def readme_terminals() -> list[str]:
    """The shell blocks between the README's work-pool markers, one per terminal, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    region = text[text.index(BEGIN) : text.index(END)]
    return re.findall(r"```sh\n(.*?)```", region, flags=re.DOTALL)


def as_run_here(script: str, port: int, ziwo: dict[str, str]) -> str:
    """The README's lines with only the port and the ZIWO_* variables of this test put in."""
    lines = []
    for line in script.splitlines():
        if line.startswith("export ZIWO_"):
            line = "export " + " ".join(f"{name}={shlex.quote(value)}" for name, value in ziwo.items())
        lines.append(line.replace(README_PORT, str(port)))
    return "\n".join(lines) + "\n"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    # Flows plan from the real clock: so does this simulator.
    simulator = Simulator(SimConfig(days=2, calls_per_day=200, now=None)).start()
    yield simulator
    simulator.stop()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_readme_work_pool_steps_run_report_manual_on_a_real_server(sim, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import WorkerStatus
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL, temporary_settings

    server_steps, worker_steps = readme_terminals()
    assert f"PREFECT_API_URL=http://127.0.0.1:{README_PORT}/api" in server_steps
    assert worker_steps.count("\nexport ZIWO_") == 1 and "worker start" in worker_steps.splitlines()[-1]
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    db, out = tmp_path / "warehouse" / "ziwo.duckdb", tmp_path / "out"
    ziwo = {
        "ZIWO_BASE_URL": sim.base_url,
        "ZIWO_INSTANCE": "sim",
        "ZIWO_TIMEZONE": sim.config.timezone,
        "ZIWO_USERNAME": sim.config.username,
        "ZIWO_REPORTS_DB": str(db),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ZIWO_"))}
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_PREFETCH_SECONDS="2",
    )
    checkout_db = ROOT / "reports_out" / "ziwo.duckdb"
    checkout_db_before = checkout_db.stat().st_mtime_ns if checkout_db.exists() else None
    logs = [tmp_path / "terminal-1.log", tmp_path / "terminal-2.log"]
    started: list[subprocess.Popen] = []
    try:
        started.append(open_terminal(as_run_here(server_steps, port, ziwo), env, logs[0]))

        wait_for("the Prefect server", lambda: healthy(api), time.monotonic() + 120, started, logs)
        # The password typed when `save-block` asks for it.
        started.append(open_terminal(as_run_here(worker_steps, port, ziwo), env, logs[1], sim.config.password + "\n"))

        with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:

            def deployed():
                try:
                    return client.read_deployment_by_name("ziwo-report/report-manual")
                except ObjectNotFound:
                    return None

            deployment = wait_for("prefect deploy --all", deployed, time.monotonic() + 180, started, logs)
            wait_for(
                "the worker",
                lambda: any(w.status == WorkerStatus.ONLINE for w in client.read_workers_for_work_pool("ziwo-reports")),
                time.monotonic() + 120, started, logs,
            )  # fmt: skip
            parameters = {"files": {"formats": ["csv", "xlsx"], "destination": str(out)}}
            flow_run = run_deployment("ziwo-report/report-manual", parameters=parameters, timeout=0)
            state = wait_for(
                "the report-manual run",
                lambda: (s := client.read_flow_run(flow_run.id).state) is not None and s.is_final() and s,
                time.monotonic() + 300, started, logs,
            )  # fmt: skip
            assert state.is_completed(), f"{state}\n{logs[1].read_text()[-4000:]}"

            files = sorted(out.iterdir())
            assert [f.suffix for f in files] == [".csv", ".xlsx"] and all(f.stat().st_size > 0 for f in files)
            assert files[0].name.startswith("agent-performance_sim_")
            with open_warehouse(db) as warehouse:  # the worker's ZIWO_REPORTS_DB, ingested first
                held = {row[0] for row in warehouse.con.execute("SELECT call_id FROM calls").fetchall()}
            assert held == sim.truth().calls

            # `serve` on this server refuses to replace the work pool's deployment, and changes nothing.
            serve_env = {**env, "PREFECT_API_URL": api}
            cli = str(Path(sys.executable).with_name("ziwo-reports"))
            served = subprocess.run(
                [cli, "serve", "--deployment", "report-manual"], cwd=ROOT, env=serve_env, capture_output=True,
                text=True, timeout=120,
            )  # fmt: skip
            assert served.returncode == 1 and served.stdout == ""
            assert served.stderr.count("\n") == 1 and "Traceback" not in served.stderr
            assert "not serving" in served.stderr and "ziwo-report/report-manual" in served.stderr
            assert "'ziwo-reports'" in served.stderr
            after = client.read_deployment_by_name("ziwo-report/report-manual")
            assert after.pull_steps == deployment.pull_steps and after.pull_steps
            assert after.work_pool_name == "ziwo-reports" and not after.paused
    finally:
        stop(started)
    output = "".join(log.read_text() for log in logs)
    assert sim.config.password not in output
    assert "saved Ziwo Credentials block 'ziwo'" in output
    assert (checkout_db.stat().st_mtime_ns if checkout_db.exists() else None) == checkout_db_before
