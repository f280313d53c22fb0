"""E-mail in the pipeline: a report workflow and `report --deliver` sending the morning report
(a rerun sends nothing, --force sends again), and an after_call workflow sending missed-call alerts
as a digest per window, its cursor held while the digest holds calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml

from tests import golden
from tests.conftest import run_ingest
from tests.smtp_server import SmtpServer
from ziwo_reports.cli import main
from ziwo_reports.deliveries import list_deliveries
from ziwo_reports.warehouse import open_warehouse
from ziwo_reports.workflows.after_call import cursor_of
from ziwo_reports.workflows.model import parse_workflow
from ziwo_reports.workflows.run import run_workflow

PASSWORD = "workflow-smtp-pass-77c1"


@pytest.fixture
def server(tmp_path, monkeypatch):
    with SmtpServer(tmp_path, mode="starttls", users={"bot": PASSWORD}) as smtp:
        for name, value in smtp.environment("MAIL", username="bot", password=PASSWORD).items():
            monkeypatch.setenv(name, value)
        yield smtp


def email(server, **options):
    return {
        "type": "email",
        "name": "ops-mail",
        "credentials": "env:MAIL",
        "sender": "reports@acme.example",
        "to": ["ops@acme.example"],
        "tls_ca_file": str(server.cert),
        **options,
    }


def ledger(path):
    with open_warehouse(path, read_only=True) as warehouse:
        return list_deliveries(warehouse, limit=10_000)


def test_a_report_workflow_sends_the_morning_report_once_unless_forced(golden_db, server, tmp_path, capsys):
    folder = tmp_path / "workflows"
    folder.mkdir()
    document = {
        "name": "morning-report",
        "trigger": {"manual": {}},
        "operation": {
            "report": {
                "report": "agent-performance",
                "instance": golden.INSTANCE,
                "rolling_date": "custom",
                "start": str(golden.DAY),
                "end": str(golden.DAY),
                "timezone": "Asia/Dubai",
            }
        },
        "deliveries": [email(server, subject="Agents {period_start:%d %b} ({timezone})")],
    }
    (folder / "morning.yaml").write_text(yaml.safe_dump(document))
    argv = ["workflow", "run", "morning-report", "--dir", str(folder), "--db", str(golden_db)]
    assert main([*argv, "--as-of", "2026-11-12T12:00Z"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "email ops-mail: 1 of 1 items sent"
    [received] = server.received
    assert received.message["Subject"] == "Agents 10 Nov (Asia/Dubai)"
    assert main([*argv, "--as-of", "2026-11-12T13:00Z"]) == 0
    out = capsys.readouterr().out
    assert "1 of 1 items sent, 1 of them sent before and not again (--force sends them again)" in out
    assert len(server.received) == 1
    assert main([*argv, "--force"]) == 0
    assert len(server.received) == 2
    assert {row.status for row in ledger(golden_db)} == {"sent"} and len(ledger(golden_db)) == 3


def test_report_deliver_sends_once_and_force_sends_again(golden_db, server, tmp_path, capsys):
    targets = tmp_path / "mail.yaml"
    targets.write_text(yaml.safe_dump([email(server)]))
    argv = [
        "report", "--db", str(golden_db), "--instance", golden.INSTANCE, "--rolling-date", "custom",
        "--start", str(golden.DAY), "--end", str(golden.DAY), "--timezone", "Asia/Dubai", "--deliver", str(targets),
    ]  # fmt: skip
    assert main(argv) == 0
    assert main(argv) == 0
    assert "sent before and not again" in capsys.readouterr().out and len(server.received) == 1
    assert main([*argv, "--force"]) == 0
    assert len(server.received) == 2
    server.mailbox.data_reply = "554 5.7.1 rejected"
    assert main([*argv, "--force"]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "554 5.7.1 rejected" in error[0] and PASSWORD not in error[0]


def ingest(sim, path):
    with open_warehouse(path) as warehouse:
        run_ingest(sim, warehouse)


def test_an_after_call_digest_holds_its_cursor_until_the_next_window(simulator, server, tmp_path):
    workflow = parse_workflow(
        {
            "name": "missed-digest",
            "trigger": {"after_call": {"on_change": "once"}},
            "operation": {"call": {}},
            "conditions": "direction = inbound and answered_at is empty",
            "deliveries": [email(server, digest_minutes=15)],
        }
    )
    sim = simulator(days=1, calls_per_day=300)
    path = tmp_path / "ziwo.duckdb"
    ingest(sim, path)
    nine = datetime(2026, 11, 10, 9, 1, tzinfo=UTC)
    assert run_workflow(workflow, path, now=nine, run_id="r0", source="test").advanced_to == 1

    def later(hours, now, run_id):
        sim.store.set_now(sim.store.world.now + timedelta(hours=hours))
        ingest(sim, path)
        return run_workflow(workflow, path, now=now, run_id=run_id, source="test")

    first = later(3, nine, "r1")
    assert first.kept > 0 and first.advanced_to == 2 and len(server.received) == 1
    held = later(3, nine + timedelta(minutes=10), "r2")  # the same window: its message went already
    assert held.advanced_to is None and "holds these calls for its next window" in held.note
    assert held.targets[0].held == 1 and not held.failed and len(server.received) == 1
    with open_warehouse(path, read_only=True) as warehouse:
        assert cursor_of(warehouse, "missed-digest") == 2
    sent = run_workflow(workflow, path, now=nine + timedelta(minutes=16), run_id="r3", source="test")
    assert sent.advanced_to == 3 and sent.kept == held.kept and len(server.received) == 2
    # every missed call in exactly one message
    rows = [row for row in ledger(path) if row.status == "sent"]
    keys = [key for row in rows for key in row.row_keys]
    assert len(keys) == len(set(keys)) == first.kept + held.kept


@pytest.mark.usefixtures("prefect_api")
def test_the_report_flow_mails_the_report_once(simulator, server, tmp_path, monkeypatch):
    """The report flow's `deliveries` as the Prefect form gives them (plain dicts): the message
    arrives with the workbook, the ledger has it; the same period again sends nothing."""
    from ziwo_reports.flows.report import report

    sim = simulator(days=2, calls_per_day=200, now=None)  # flows plan from the real clock
    for name, value in {
        "ZIWO_BASE_URL": sim.base_url,
        "ZIWO_INSTANCE": "sim",
        "ZIWO_TIMEZONE": sim.config.timezone,
        "ZIWO_USERNAME": sim.config.username,
        "ZIWO_PASSWORD": sim.config.password,
    }.items():
        monkeypatch.setenv(name, value)
    db = tmp_path / "w.duckdb"
    deliveries = [email(server, attach=["xlsx"])]
    run = {
        "db_path": str(db),
        "rolling_date": "last_n_days:1",
        "files": {"formats": ["csv"], "destination": str(tmp_path)},
    }
    report(**run, deliveries=deliveries)
    [received] = server.received
    [attached] = [p.get_filename() for p in received.message.iter_attachments()]
    assert attached.endswith(".xlsx")
    report(**run, ingest_first=False, deliveries=deliveries)
    assert len(server.received) == 1
    rows = [r for r in ledger(db) if r.target_type == "email"]
    assert [r.status for r in rows] == ["sent", "sent"] and rows[0].target_ref == rows[1].target_ref
