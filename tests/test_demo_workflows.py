"""The demo's workflow part, run in-process against a real simulator and the demo's own loopback receiver:
what the receiver got is checked against what each workflow said it sent, and the after_call
workflow's messages against the warehouse's own calls (plain SQL, not the conditions' code)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_ingest
from ziwo_reports.cli import demo_workflows
from ziwo_reports.cli.webhook_receiver import WebhookReceiver
from ziwo_reports.warehouse import open_warehouse

EXAMPLES = Path(__file__).resolve().parent.parent / "workflows" / "examples"
COMPLAINTS = "/long-complaint-calls/quality-team"
REPORT = "/daily-agent-report/ops-dashboard"


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setenv("ZIWO_REPORTS_HTTP_BACKOFF_BASE", "0.01")
    # set here so that monkeypatch restores it: the demo sets it in os.environ for its process
    monkeypatch.setenv(demo_workflows.HOOK_SECRET_VARIABLE, "")


def _completed_calls(db: Path, where: str = "TRUE") -> set[str]:
    """The completed calls of the simulator meeting `where`, read straight from the warehouse."""
    with duckdb.connect(str(db), read_only=True) as connection:
        rows = connection.execute(
            f"SELECT call_id FROM calls WHERE instance = 'simulator' AND ended_at IS NOT NULL AND {where}"
        ).fetchall()
    return {call_id for (call_id,) in rows}


def _demo(simulator, tmp_path, *, sender_secret=None):
    """The demo's order: the after_call workflow set up on the empty warehouse, two ingests, then both
    workflows; the targets sign with `sender_secret` (default: the receiver's)."""
    sim = simulator(days=3, calls_per_day=600, faults="flaky", fault_rate=0.05)
    db = tmp_path / "ziwo.duckdb"
    secret = demo_workflows.new_secret()
    demo_workflows.use_secret(sender_secret or secret)
    examples = demo_workflows.load_examples(EXAMPLES)
    now = sim.store.world.now
    with WebhookReceiver(secret) as receiver:
        demos = [demo_workflows.retarget(path, receiver, tmp_path) for path in examples.values()]
        demo_workflows.start_after_call(demos[1], db, now, None, print)
        with open_warehouse(db) as warehouse:
            run_ingest(sim, warehouse, instance="simulator")
            run_ingest(sim, warehouse, instance="simulator")
        outcome = demo_workflows.run_examples(demos, receiver, db, now, None, print)
        return db, outcome, receiver.received(COMPLAINTS), receiver.received(REPORT)


def test_the_demo_workflows_deliver_what_they_said_signed_each_long_complaint_call_once(simulator, tmp_path, capsys):
    db, outcome, complaints, reports = _demo(simulator, tmp_path)
    assert outcome.problems == []
    expected = _completed_calls(db, "duration_s > 600 AND list_contains(tags, 'complaint')")
    assert expected, "the simulated days hold long complaint calls"  # else the check below proves nothing

    run = outcome.runs["long-complaint-calls"]
    (target,) = run.targets
    assert (run.kept, target.sent, target.items) == (len(expected),) * 3
    assert len(complaints) == target.sent
    assert all(message.verified and message.status == 204 for message in complaints)
    assert {message.type for message in complaints} == {"acme.call.complaint"}
    rows = [message.envelope["data"]["row"] for message in complaints]
    assert len({message.id for message in complaints}) == len(complaints)
    assert sorted(row["call_id"] for row in rows) == sorted(expected)  # each call once, and only those
    assert all(row["duration_s"] > 600 and "complaint" in row["tags"] for row in rows)
    assert run.seen == len(_completed_calls(db))  # every call the ingests loaded was seen, once

    report = outcome.runs["daily-agent-report"]
    assert [(t.type, t.sent, t.items) for t in report.targets] == [("file", 1, 1), ("webhook", 1, 1)]
    (message,) = reports
    assert message.verified and message.type == "report.ready"
    data = message.envelope["data"]
    assert data["report"] == "agent-performance" and data["instance"] == "simulator"
    assert len(data["rows"]) == data["row_count"] == report.kept > 0
    assert data["period_start"].endswith("+04:00")  # yesterday in Asia/Dubai, as the example says
    assert len(list(tmp_path.glob("agent-performance_simulator_*_Asia-Dubai.xlsx"))) == 1

    out = capsys.readouterr().out
    assert "its cursor is at ingest run 0" in out
    assert (
        f"receiver got {len(expected)} messages (types: {len(expected)} acme.call.complaint), "
        f"{len(expected)} distinct ids, signatures verified {len(expected)} of {len(expected)}; e.g. call "
    ) in out


def test_a_signature_the_receiver_cannot_verify_is_a_problem(simulator, tmp_path, capsys):
    _, outcome, complaints, reports = _demo(simulator, tmp_path, sender_secret=demo_workflows.new_secret())
    assert complaints and reports
    assert not any(message.verified for message in complaints + reports)
    assert any("failed the signature check" in problem for problem in outcome.problems)
    assert any("not sent" in problem for problem in outcome.problems)  # the receiver answered 401


def test_the_examples_are_retargeted_in_memory_only(tmp_path):
    before = {path: path.read_bytes() for path in EXAMPLES.iterdir()}
    with WebhookReceiver(demo_workflows.new_secret()) as receiver:
        demos = [
            demo_workflows.retarget(p, receiver, tmp_path) for p in demo_workflows.load_examples(EXAMPLES).values()
        ]
    for demo in demos:
        assert demo.workflow.credentials_block == ""
        for target in demo.workflow.targets():
            if target.type == "webhook":
                assert target.url.startswith("http://127.0.0.1:") and target.allow_private_urls
                assert target.credentials == demo_workflows.HOOK_REFERENCE
            else:
                assert target.destination == str(tmp_path)
    assert {path: path.read_bytes() for path in EXAMPLES.iterdir()} == before


def test_a_missing_examples_folder_is_one_line_naming_the_option(tmp_path):
    with pytest.raises(ValueError, match=r"^--examples '.*nowhere': no such folder"):
        demo_workflows.load_examples(tmp_path / "nowhere")
    (tmp_path / "daily-agent-report.yaml").write_text("name: x\n")
    with pytest.raises(ValueError, match=r"no long-complaint-calls\.yaml in it"):
        demo_workflows.load_examples(tmp_path)
