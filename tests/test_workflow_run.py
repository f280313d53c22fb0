"""Running a workflow once (`run_workflow`, `ziwo-reports workflow run`): conditions on rows and headline
totals, deliveries to a real loopback receiver with credentials from the environment, and after_call
batches that advance only once every target took them."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
import yaml

from tests import golden
from tests.conftest import run_ingest
from ziwo_reports.cli import main
from ziwo_reports.deliveries import list_deliveries
from ziwo_reports.report_model import row_keys
from ziwo_reports.warehouse import open_warehouse
from ziwo_reports.workflows.after_call import cursor_of
from ziwo_reports.workflows.model import WorkflowError, parse_workflow
from ziwo_reports.workflows.run import run_workflow

PATH = "/hooks/workflow"
SECRET = "whsec_" + base64.b64encode(b"workflow-signing-key-32-bytes-ok").decode()


@pytest.fixture(autouse=True)
def credentials(monkeypatch):
    monkeypatch.setenv("ZIWO_REPORTS_HTTP_BACKOFF_BASE", "0.01")
    monkeypatch.setenv("HOOK_SIGNING_SECRETS", SECRET)


@pytest.fixture
def db(golden_db):
    return golden_db


def hook(receiver, **options):
    return {
        "type": "webhook",
        "name": "hook",
        "url": receiver.url(PATH),
        "allow_private_urls": True,
        "mode": "row",
        "credentials": "env:HOOK",
        **options,
    }


def report_workflow(receiver, conditions=None, **extra):
    document = {
        "name": "daily-agents",
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
        "deliveries": [hook(receiver)],
        **extra,
    }
    if conditions is not None:
        document["conditions"] = conditions
    return parse_workflow(document)


def run(workflow, db, run_id="run-1"):
    return run_workflow(workflow, db, now=golden.AS_OF, run_id=run_id, source="test")


def ledger(db):
    with open_warehouse(db, read_only=True) as warehouse:
        return list_deliveries(warehouse, limit=10_000)


def held_keys(receiver):
    return sorted(event["data"]["row_key"] for event in receiver.events(PATH).values())


def test_row_conditions_deliver_exactly_the_kept_rows_under_their_own_keys(db, receiver):
    receiver.verify(PATH, [SECRET])
    result = run(report_workflow(receiver, "group_id in (1, 3)"), db)
    assert (result.seen, result.kept, result.dropped) == (3, 2, 1)
    assert [(t.name, t.items, t.sent, t.failed_ids) for t in result.targets] == [("hook", 2, 2, [])]
    with open_warehouse(db, read_only=True) as warehouse:
        full = golden.report_of(warehouse, interval="none")
    by_group = dict(zip(full.table["group_id"].to_pylist(), row_keys(full).to_pylist(), strict=True))
    assert held_keys(receiver) == sorted([by_group[1], by_group[3]])
    assert all(request.verified for request in receiver.requests(PATH))
    rows = [event["data"]["row"] for event in receiver.events(PATH).values()]
    assert sorted(row["group_id"] for row in rows) == [1, 3]
    assert not any(name.startswith("totals.") for row in rows for name in row)  # dropped before delivery
    assert {row.status for row in ledger(db)} == {"sent"} and len(ledger(db)) == 2


def test_a_totals_condition_blocks_the_send(db, receiver):
    result = run(report_workflow(receiver, "totals.calls_offered > 100"), db)
    assert (result.seen, result.kept) == (3, 0) and result.targets == []
    assert "nothing sent" in result.note
    assert receiver.requests(PATH) == [] and ledger(db) == []


def test_a_totals_condition_lets_the_send_through(db, receiver):
    result = run(report_workflow(receiver, "totals.calls_offered >= 8 and totals.csat_top2_rate = 0.5"), db)
    assert (result.seen, result.kept) == (3, 3)
    assert len(receiver.events(PATH)) == 3 and len(ledger(db)) == 3


def test_a_disabled_workflow_sends_nothing(db, receiver):
    with pytest.raises(WorkflowError, match="disabled"):
        run(report_workflow(receiver, enabled=False), db)
    assert receiver.requests(PATH) == [] and ledger(db) == []


def test_the_command_line_sends_a_delayed_workflow_at_once_and_says_so(db, receiver, tmp_path, capsys):
    folder = tmp_path / "workflows"
    folder.mkdir()
    workflow = report_workflow(receiver, "group_id = 2", delay="1h")
    (folder / "daily.yaml").write_text(yaml.safe_dump(workflow.model_dump(mode="json", exclude_none=True)))
    argv = ["workflow", "run", "daily-agents", "--dir", str(folder), "--db", str(db), "--as-of", "2026-11-12T12:00Z"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "delay 1h is the deployment's: `run` sends now" in out
    assert len(receiver.events(PATH)) == 1 and len(ledger(db)) == 1


def test_the_command_prints_what_was_kept_and_sent(db, receiver, tmp_path, capsys):
    folder = tmp_path / "workflows"
    folder.mkdir()
    workflow = report_workflow(receiver, "group_id = 2")
    (folder / "daily.yaml").write_text(yaml.safe_dump(workflow.model_dump(mode="json", exclude_none=True)))
    argv = ["workflow", "run", "daily-agents", "--dir", str(folder), "--db", str(db), "--as-of", "2026-11-12T12:00Z"]
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "kept 1 of 3 rows (conditions: group_id = 2)"
    assert out[1] == "webhook hook: 1 of 1 items sent"
    receiver.fail(PATH, 422)
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert "webhook hook: 0 of 1 items sent, 1 not sent (in the ledger)" in captured.out
    error = captured.err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("error: workflow 'daily-agents': webhook delivery 'hook'")


# --- after_call ------------------------------------------------------------------------------------


def call_workflow(receiver, conditions=None):
    document = {
        "name": "follow-up",
        "trigger": {"after_call": {"on_change": "once"}},
        "operation": {"call": {}},
        "deliveries": [hook(receiver)],
    }
    if conditions is not None:
        document["conditions"] = conditions
    return parse_workflow(document)


def ingest(sim, path):
    with open_warehouse(path) as warehouse:
        run_ingest(sim, warehouse)


def completed_since(path, run_id):
    with open_warehouse(path, read_only=True) as warehouse:
        rows = warehouse.con.execute(
            "SELECT call_id FROM calls WHERE first_loaded_run > ? AND ended_at IS NOT NULL", [run_id]
        )
        return {call_id for (call_id,) in rows.fetchall()}


def test_after_call_delivers_each_call_once_and_advances(simulator, receiver, tmp_path):
    sim = simulator(days=1, calls_per_day=120)
    path = tmp_path / "ziwo.duckdb"
    ingest(sim, path)
    workflow = call_workflow(receiver, "duration_s >= 0")
    first = run_workflow(workflow, path, run_id="r1", source="test")  # a fresh workflow starts at the current run
    assert (first.seen, first.advanced_to, first.targets) == (0, 1, [])
    sim.store.set_now(sim.store.world.now + timedelta(hours=3))
    ingest(sim, path)
    new = completed_since(path, 1)
    second = run_workflow(workflow, path, run_id="r2", source="test")
    assert second.seen == second.kept == len(new) > 0 and second.advanced_to == 2
    assert held_keys(receiver) == sorted(f"sim:call:{call_id}" for call_id in new)
    assert len(receiver.requests(PATH)) == len(new)
    third = run_workflow(workflow, path, run_id="r3", source="test")
    assert third.seen == 0 and third.targets == [] and len(receiver.requests(PATH)) == len(new)


def new_calls_after_a_first_run(simulator, workflow, tmp_path, calls_per_day=80, hours=3):
    """A warehouse file where the workflow's first run set its cursor at ingest run 1, and a second
    ingest `hours` later brought new calls (run 2)."""
    sim = simulator(days=1, calls_per_day=calls_per_day)
    path = tmp_path / "ziwo.duckdb"
    ingest(sim, path)
    run_workflow(workflow, path, run_id="r1", source="test")
    sim.store.set_now(sim.store.world.now + timedelta(hours=hours))
    ingest(sim, path)
    return path


def test_after_call_conditions_that_keep_nothing_still_advance(simulator, receiver, tmp_path):
    workflow = call_workflow(receiver, "duration_s < 0")
    path = new_calls_after_a_first_run(simulator, workflow, tmp_path)
    result = run_workflow(workflow, path, run_id="r2", source="test")
    assert result.seen > 0 and result.kept == 0 and result.advanced_to == 2
    assert "kept no calls" in result.note and receiver.requests(PATH) == []


def test_a_failing_target_leaves_the_cursor_and_the_next_run_resends_the_same_keys(simulator, receiver, tmp_path):
    workflow = call_workflow(receiver)
    path = new_calls_after_a_first_run(simulator, workflow, tmp_path)
    receiver.fail(PATH, 422)
    failed = run_workflow(workflow, path, run_id="r2", source="test")
    assert failed.failed and failed.advanced_to is None and "cursor not moved" in failed.note
    [target] = failed.targets
    assert target.sent == 0 and len(target.failed_ids) == target.items == failed.kept > 0
    with open_warehouse(path, read_only=True) as warehouse:
        assert cursor_of(warehouse, "follow-up") == 1
    tried = sorted({request.headers["webhook-id"] for request in receiver.requests(PATH)})

    receiver.fail(PATH, None)
    retried = run_workflow(workflow, path, run_id="r3", source="test")
    assert not retried.failed and retried.advanced_to == 2 and retried.kept == failed.kept
    assert sorted(receiver.events(PATH)) == tried  # the same ids, now taken
    statuses = {row.run_id: {r.status for r in ledger(path) if r.run_id == row.run_id} for row in ledger(path)}
    assert statuses == {"r2": {"failed"}, "r3": {"sent"}}


def test_a_process_killed_mid_delivery_loses_nothing_and_sends_nothing_new(simulator, receiver, tmp_path):
    """`workflow run` killed (SIGKILL) while sending, before the ledger has the results: the next run
    sends every call again under the same keys; the receiver holds each call once, none is lost."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    workflow = call_workflow(receiver)
    path = new_calls_after_a_first_run(simulator, workflow, tmp_path, calls_per_day=300, hours=4)
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "follow-up.yaml").write_text(yaml.safe_dump(workflow.model_dump(mode="json", exclude_none=True)))
    expected = completed_since(path, 1)
    assert len(expected) > 20

    receiver.slow(PATH, 0.05)
    command = [str(Path(sys.executable).with_name("ziwo-reports")), "workflow", "run", "follow-up"]
    env = {**os.environ, "HOOK_SIGNING_SECRETS": SECRET}
    process = subprocess.Popen(
        [*command, "--dir", str(folder), "--db", str(path)], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while len(receiver.requests(PATH)) < 5 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    seen_before = {request.headers["webhook-id"] for request in receiver.requests(PATH)}
    assert 5 <= len(seen_before) < len(expected)  # killed part-way
    with open_warehouse(path, read_only=True) as warehouse:
        assert cursor_of(warehouse, "follow-up") == 1  # not moved
        assert not any(row.status == "sent" for row in list_deliveries(warehouse, limit=10_000))

    receiver.slow(PATH, 0)
    result = run_workflow(workflow, path, run_id="r2", source="test")
    assert result.seen == len(expected) and result.advanced_to == 2 and not result.failed
    assert held_keys(receiver) == sorted(f"sim:call:{call_id}" for call_id in expected)  # each once
    assert seen_before <= {request.headers["webhook-id"] for request in receiver.requests(PATH)}
    assert len({request.headers["webhook-id"] for request in receiver.requests(PATH)}) == len(expected)


def test_a_replay_sends_the_rows_the_conditions_kept_not_the_whole_report(db, receiver, capsys):
    """A webhook in `report` mode sends the kept rows as one message; its replay from the ledger
    computes the report again and keeps the same rows, under the same message id."""
    workflow = report_workflow(receiver, "group_id in (1, 3)")
    workflow = workflow.model_copy(update={"deliveries": parse_workflow(
        {**workflow.model_dump(mode="json"), "deliveries": [hook(receiver, mode="report")]}
    ).deliveries})  # fmt: skip
    receiver.fail(PATH, 503)
    failed = run(workflow, db, run_id="run-kept")
    assert failed.failed and ledger(db)[0].status == "failed"
    receiver.fail(PATH, None)
    assert main(["replay", "--run", "run-kept", "--db", str(db)]) == 0
    assert "replayed 1 deliveries: all sent" in capsys.readouterr().out
    [event] = receiver.events(PATH).values()
    assert sorted(row["group_id"] for row in event["data"]["rows"]) == [1, 3]
    ids = {request.headers["webhook-id"] for request in receiver.requests(PATH)}
    assert len(ids) == 1  # the failed attempts and the replay: one message id


def test_a_replay_of_after_call_calls_leaves_them_to_the_workflow_s_next_run(simulator, receiver, tmp_path, capsys):
    workflow = call_workflow(receiver)
    path = new_calls_after_a_first_run(simulator, workflow, tmp_path)
    receiver.fail(PATH, 422)
    failed = run_workflow(workflow, path, run_id="r2", source="test")
    tried = len(receiver.requests(PATH))
    receiver.fail(PATH, None)
    assert main(["replay", "--run", "r2", "--db", str(path)]) == 1
    captured = capsys.readouterr()
    assert "its cursor did not move, so its next run sends this call again" in captured.err
    assert "`ziwo-reports workflow run follow-up`" in captured.err
    assert len(receiver.requests(PATH)) == tried  # nothing else was sent in the calls' name
    again = run_workflow(workflow, path, run_id="r3", source="test")
    assert again.kept == failed.kept > 0 and not again.failed and again.advanced_to == 2
