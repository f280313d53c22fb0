"""The Prefect ingest flow on a real Prefect API: a direct run, a run from a deployment, and
the deployments of prefect.yaml."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
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

    from ziwo_reports.flows.ingest import ingest

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

    from ziwo_reports.flows.ingest import ingest

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


def test_report_flow_ingests_computes_writes_files_and_publishes_artifacts(ziwo_env, tmp_path):
    from openpyxl import load_workbook
    from prefect.artifacts import Artifact

    from ziwo_reports.flows.report import report

    sim, _ = ziwo_env
    db, out = tmp_path / "w.duckdb", tmp_path / "out"
    written = report(
        db_path=str(db), rolling_date="last_n_days:1", timezone="UTC-12:00", interval="hour",
        files={"formats": ["xlsx", "csv", "parquet"], "destination": str(out)},
    )  # fmt: skip
    assert [f["format"] for f in written] == ["xlsx", "csv", "parquet"]
    paths = [Path(f["path"]) for f in written]
    assert all(
        path.parent == out and path.stat().st_size == f["bytes"] > 0 for path, f in zip(paths, written, strict=True)
    )
    assert paths[0].name.startswith("agent-performance_sim_")
    assert "Summary" in load_workbook(paths[0], read_only=True).sheetnames
    with open_warehouse(db) as warehouse:  # the flow ingested first
        assert warehouse.con.execute("SELECT count(*) FROM calls").fetchone()[0] == len(sim.truth().calls)

    table = Artifact.get("ziwo-report-agent-performance-sim")
    assert table is not None and table.type == "table" and "calls_handled" in table.data
    assert written[0]["rows"] == len(yaml.safe_load(table.data)) > 0  # JSON is YAML
    summary = Artifact.get("ziwo-report-agent-performance-sim-summary")
    assert summary is not None and summary.type == "markdown" and paths[1].name in summary.data
    for path, fmt in zip(paths, ("xlsx", "csv", "parquet"), strict=True):
        link = Artifact.get(f"ziwo-report-agent-performance-sim-{fmt}")
        # Prefect keeps a link artifact as markdown: [text](link)
        assert link is not None and link.data == f"[{path.name}]({path.resolve().as_uri()})"
    assert sim.config.password not in table.data + summary.data


def test_report_flow_parameters_make_a_form_with_dropdowns():
    from ziwo_reports.flows.report import report

    schema = report.parameters.model_dump()
    properties, definitions = schema["properties"], schema["definitions"]
    assert "yesterday" in properties["rolling_date"]["anyOf"][0]["enum"]
    assert {"agent-performance", "queue-performance", "call-details"} == set(properties["report"]["enum"])
    assert set(definitions) >= {"FileOptions", "ReportFilters", "MetricSettings", "Thresholds"}
    assert "xlsx" in definitions["FileOptions"]["properties"]["formats"]["items"]["enum"]
    with pytest.raises(Exception, match="rolling_date"):
        report.validate_parameters({"rolling_date": "fortnight"})


@pytest.mark.parametrize("flow_name", ["ingest", "report"])
def test_every_flow_parameter_has_a_title_a_description_and_a_real_default(flow_name):
    """What the Prefect UI's form shows: a title other than the parameter's name, a description,
    and a value rather than 'Property is type None' wherever a default exists."""
    import importlib

    flow = getattr(importlib.import_module(f"ziwo_reports.flows.{flow_name}"), flow_name)
    properties = flow.parameters.model_dump()["properties"]
    for name, field in properties.items():
        assert field.get("title") and field["title"] != name and field.get("description"), name
    # None only where "not given" is the meaning: the days of a custom period or a backfill, "now".
    assert {name for name, field in properties.items() if field.get("default", ...) is None} <= {
        "start",
        "end",
        "as_of",
        "first_day",
        "last_day",
    }
    assert properties["db_path"]["default"] == "" and "ZIWO_REPORTS_DB" in properties["db_path"]["description"]
    if flow_name == "report":
        assert (
            properties["timezone"]["default"] == "instance"
            and "instance's own zone" in (properties["timezone"]["description"])
        )
        assert properties["group_by"]["default"] == "auto" and properties["group_by"]["enum"][0] == "auto"
        assert "queue-performance" in properties["group_by"]["description"]
        for name in ("filters", "settings", "files"):
            assert "$ref" in properties[name] and isinstance(properties[name]["default"], dict), name
        assert properties["settings"]["default"]["fcr_window"] == "24h"
        assert [branch["title"] for branch in properties["rolling_date"]["anyOf"]] == ["preset", "last_n_days:N"]


def test_every_field_of_the_form_models_has_a_title_and_a_description():
    from ziwo_reports.connectors.files.options import FileOptions, Thresholds
    from ziwo_reports.connectors.http_api.block import HttpApiCredentials
    from ziwo_reports.connectors.http_api.mapping import FieldSpec
    from ziwo_reports.connectors.http_api.options import HttpApiTarget
    from ziwo_reports.connectors.webhook.block import WebhookCredentials
    from ziwo_reports.connectors.webhook.options import WebhookTarget
    from ziwo_reports.report_model import MetricSettings, ReportFilters

    models = (ReportFilters, MetricSettings, FileOptions, Thresholds, HttpApiTarget, FieldSpec, HttpApiCredentials)
    for model in (*models, WebhookTarget, WebhookCredentials):
        for name, field in model.model_fields.items():
            assert field.title and field.description, f"{model.__name__}.{name}"
    assert FileOptions.model_fields["csv_bom"].title == "CSV byte-order mark"
    assert Thresholds.model_fields["aht_above_s"].title == "AHT above (s)"


def test_fcr_window_reads_and_shows_durations_as_the_command_line_does():
    from datetime import timedelta

    from ziwo_reports.flows.report import report
    from ziwo_reports.report_model import MetricSettings, ReportSpecError, make_spec

    schema = MetricSettings.model_json_schema()["properties"]["fcr_window"]
    assert schema["type"] == "string" and schema["default"] == "24h"
    assert MetricSettings().model_dump(mode="json")["fcr_window"] == schema["default"]
    for text, value, shown in [
        ("24h", timedelta(hours=24), "24h"), ("2d", timedelta(days=2), "2d"), ("90m", timedelta(minutes=90), "1h30m"),
        ("36", timedelta(hours=36), "36h"), ("P1D", timedelta(days=1), "24h"), ("45s", timedelta(seconds=45), "45s"),
    ]:  # fmt: skip
        settings = MetricSettings(fcr_window=text)
        assert settings.fcr_window == value and settings.model_dump(mode="json")["fcr_window"] == shown, text
        assert re.fullmatch(schema["pattern"], shown) and MetricSettings(fcr_window=shown).fcr_window == value
    assert MetricSettings(fcr_window=timedelta(hours=2)).fcr_window == timedelta(hours=2)  # the code's own values
    parameters = report.validate_parameters({"settings": {"fcr_window": "2d"}})
    assert parameters["settings"].fcr_window == timedelta(days=2)
    with pytest.raises(ReportSpecError, match=r"^fcr_window 'fortnight' is not a duration such as 48h, 2d"):
        make_spec(settings={"fcr_window": "fortnight"})
    with pytest.raises(ReportSpecError, match=r"^fcr_window '400d' is longer than 366 days"):
        make_spec(settings={"fcr_window": "400d"})
    with pytest.raises(ReportSpecError, match=r"^fcr_window 0s must be longer than zero$"):
        make_spec(settings={"fcr_window": "0h"})


def test_flows_check_an_access_token_alone_read_ziwo_reports_db_and_report_in_the_instance_zone(
    ziwo_env, tmp_path, monkeypatch
):
    """A token without username and password works as on the command line (the `log in` task
    checks it instead of logging in); the warehouse is $ZIWO_REPORTS_DB; a report without a zone
    is in the instance's, grouped as its report groups by default."""
    from prefect.artifacts import Artifact

    from ziwo_reports.connectors.ziwo import ZiwoClient, ZiwoSettings
    from ziwo_reports.flows.ingest import ingest
    from ziwo_reports.flows.report import report

    sim, env = ziwo_env
    with ZiwoClient(ZiwoSettings.from_sources(environ=env)) as client:
        client.login()
        token = client._token
    assert token
    monkeypatch.delenv("ZIWO_USERNAME")
    monkeypatch.delenv("ZIWO_PASSWORD")
    monkeypatch.setenv("ZIWO_ACCESS_TOKEN", token)
    db = tmp_path / "from-env.duckdb"
    monkeypatch.setenv("ZIWO_REPORTS_DB", str(db))
    totals = ingest(initial_days=2)
    assert totals["new"] == len(sim.truth().calls) > 0 and db.exists()

    out = tmp_path / "out"
    for name, grouped in (("agent-performance", "agent"), ("queue-performance", "queue")):
        written = report(report=name, ingest_first=False, files={"formats": ["csv"], "destination": str(out)})
        assert Path(written[0]["path"]).parent == out
        summary = Artifact.get(f"ziwo-report-{name}-sim-summary")
        assert summary is not None
        assert f"(yesterday, {sim.config.timezone}), by {grouped}, interval none" in summary.data

    monkeypatch.setenv("ZIWO_ACCESS_TOKEN", "not-a-token-of-this-server")
    with pytest.raises(Exception, match=r"GET /profile refused: HTTP 40[13]"):
        ingest(initial_days=2)


def test_every_deployment_in_prefect_yaml_loads_and_its_schedule_parses():
    from ziwo_reports.flows.deployments import declared, runner_deployments

    entries = {entry["name"]: entry for entry in declared()}
    deployments = {d.name: d for d in runner_deployments()}
    assert set(deployments) == set(entries) >= {
        "ingest-every-15-minutes", "ingest-manual", "report-daily-yesterday", "report-weekly-last-week",
        "report-manual",
    }  # fmt: skip
    for name, deployment in deployments.items():
        assert deployment.flow_name in ("ziwo-ingest", "ziwo-report")
        # The parameters validate against the flow's signature, as a worker would run them.
        from prefect.flows import load_flow_from_entrypoint

        flow = load_flow_from_entrypoint(entries[name]["entrypoint"])
        flow.validate_parameters(entries[name].get("parameters") or {})
    crons = {
        name: [(s.schedule.cron, s.schedule.timezone) for s in deployment.schedules]
        for name, deployment in deployments.items()
    }
    assert crons["report-daily-yesterday"] == [("0 6 * * *", "Asia/Dubai")]
    assert crons["report-weekly-last-week"] == [("0 6 * * 1", "Asia/Dubai")]
    assert crons["report-manual"] == [] and crons["ingest-manual"] == []
    assert entries["report-daily-yesterday"]["parameters"]["rolling_date"] == "yesterday"
    assert entries["report-weekly-last-week"]["parameters"]["rolling_date"] == "last_week"


def test_a_bad_schedule_in_prefect_yaml_is_refused(tmp_path):
    from ziwo_reports.flows.deployments import PREFECT_YAML, runner_deployments

    broken = yaml.safe_load(PREFECT_YAML.read_text())
    broken["deployments"][0]["schedules"][0]["cron"] = "every morning"
    (tmp_path / "prefect.yaml").write_text(yaml.safe_dump(broken))
    with pytest.raises(ValueError, match="every morning"):
        runner_deployments(tmp_path / "prefect.yaml")


def test_serve_names_an_unknown_deployment(capsys):
    from ziwo_reports.cli import main

    assert main(["serve", "--deployment", "report-hourly"]) == 1
    assert "no deployment named report-hourly in" in capsys.readouterr().err


def test_serve_runs_a_deployment_of_prefect_yaml(ziwo_env, tmp_path):
    """`ziwo-reports serve` as a user runs it: the manual report deployment, triggered through the
    API as the UI's Run button does, runs in the serving process and writes its files."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL

    _, env = ziwo_env
    serve_env = {**os.environ, **env, "PREFECT_API_URL": PREFECT_API_URL.value()}
    cli = str(Path(sys.executable).with_name("ziwo-reports"))
    server = subprocess.Popen(
        [cli, "serve", "--deployment", "report-manual"], cwd=ROOT, env=serve_env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        out = tmp_path / "out"
        parameters = {
            "credentials_block": "", "db_path": str(tmp_path / "w.duckdb"), "timezone": "Asia/Dubai",
            "rolling_date": "last_n_days:1", "files": {"formats": ["csv"], "destination": str(out)},
        }  # fmt: skip
        deadline = time.monotonic() + 120
        while True:  # the deployment exists once serve has registered it
            try:
                flow_run = run_deployment("ziwo-report/report-manual", parameters=parameters, timeout=0)
                break
            except Exception:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(1)
        with get_client(sync_client=True) as client:
            while not (state := client.read_flow_run(flow_run.id).state).is_final():
                assert time.monotonic() < deadline + 120, "the served run did not finish"
                time.sleep(1)
        assert state.is_completed(), state
        assert [p.suffix for p in out.iterdir()] == [".csv"]
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert "serving report-manual" in output
    assert env["ZIWO_PASSWORD"] not in output


def test_report_flow_delivers_to_a_webhook_and_an_http_api(ziwo_env, tmp_path, monkeypatch):
    """End to end: the flow's `deliveries` (as the Prefect form gives them, plain dicts) to a
    receiver that verifies every signature and to an API that checks its key; each item in the
    ledger; a target that refuses fails the flow run, naming the ledger rows to replay."""
    import base64

    from prefect.artifacts import Artifact

    from tests.receivers import Receiver
    from ziwo_reports.deliveries import list_deliveries
    from ziwo_reports.flows.report import report

    secret = "whsec_" + base64.b64encode(b"flow-test-signing-key-32-bytes!!").decode()
    monkeypatch.setenv("FLOW_HOOK_SIGNING_SECRETS", secret)
    monkeypatch.setenv("FLOW_API_AUTH", "api_key")
    monkeypatch.setenv("FLOW_API_API_KEY", "flow-api-key-1234")
    db, out = tmp_path / "w.duckdb", tmp_path / "out"
    with Receiver() as receiver:
        receiver.verify("/hook", [secret])
        receiver.authorize("/api", lambda headers, query: headers.get("x-api-key") == "flow-api-key-1234")
        deliveries = [
            {"type": "webhook", "name": "hook", "url": receiver.url("/hook"), "credentials": "env:FLOW_HOOK",
             "allow_private_urls": True},
            {"type": "http_api", "name": "api", "url": receiver.url("/api"), "credentials": "env:FLOW_API",
             "mapping": {"agent.id": "group_id", "answered": "calls_answered"}, "allow_private_urls": True},
        ]  # fmt: skip
        written = report(
            db_path=str(db), rolling_date="last_n_days:1", files={"formats": ["csv"], "destination": str(out)},
            deliveries=deliveries,
        )  # fmt: skip
        (event,) = receiver.events("/hook").values()
        assert event["type"] == "report.ready" and len(event["data"]["rows"]) == written[0]["rows"] > 0
        assert len(receiver.events("/api")) == written[0]["rows"]
        assert all(r.verified for r in receiver.requests("/hook"))
        with open_warehouse(db, read_only=True) as warehouse:
            rows = list_deliveries(warehouse, limit=1000)
        assert {(r.target_name, r.status) for r in rows} == {("file", "sent"), ("hook", "sent"), ("api", "sent")}
        assert sum(r.target_name == "api" for r in rows) == written[0]["rows"]
        summary = Artifact.get("ziwo-report-agent-performance-sim-summary")
        assert summary is not None and "| webhook `hook` | 1 | 1 | 0 |" in summary.data

        receiver.fail("/api", 422)
        with pytest.raises(Exception, match=r"http_api delivery 'api': \d+ of \d+ items failed: .*HTTP 422"):
            report(db_path=str(db), rolling_date="last_n_days:1", ingest_first=False, deliveries=deliveries,
                   files={"formats": ["csv"], "destination": str(out)})  # fmt: skip
        with open_warehouse(db, read_only=True) as warehouse:
            assert {r.target_name for r in list_deliveries(warehouse, unsent=True, limit=1000)} == {"api"}
    assert "flow-api-key-1234" not in summary.data
