"""`ziwo-reports workflow test`: the dry run (what the conditions keep and drop, what each target would
be sent, each target's check; nothing sent, nothing written) and `--send-test` (one marked item per
target, never taken for a real one), against the simulator's data and a real loopback receiver."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
import yaml

from tests.conftest import NOW, run_ingest
from ziwo_reports.cli import main
from ziwo_reports.connectors.http_api.delivery import idempotency_key
from ziwo_reports.connectors.webhook.envelope import message_id
from ziwo_reports.deliveries import list_deliveries
from ziwo_reports.report import compute_report
from ziwo_reports.report_model import make_spec, row_keys
from ziwo_reports.warehouse import open_warehouse
from ziwo_reports.workflows.after_call import cursor_of

HOOK = "/hooks/workflow"
API = "/api/agents"
SANDBOX = "/sandbox/agents"
HEALTH = "/health"
SECRET = "whsec_" + base64.b64encode(b"workflow-test-signing-key-32byte").decode()
TOKEN = "api-token-never-shown-4f9c2a"
AS_OF = "2026-11-20T09:30:00+00:00"
#: The simulator's day in its zone (Asia/Dubai): conftest's NOW is 13:30 there, the calls since midnight.
DAY = NOW.date()
ZONE = "Asia/Dubai"
THRESHOLD = 2  # agents who answered at least this many calls are kept


@pytest.fixture(autouse=True)
def credentials(monkeypatch):
    monkeypatch.setenv("ZIWO_REPORTS_HTTP_BACKOFF_BASE", "0.01")
    monkeypatch.setenv("ZIWO_REPORTS_HTTP_ATTEMPTS", "2")
    monkeypatch.setenv("HOOK_SIGNING_SECRETS", SECRET)
    monkeypatch.setenv("API_AUTH", "bearer")
    monkeypatch.setenv("API_TOKEN", TOKEN)


@pytest.fixture
def sim(simulator):
    return simulator(days=1, calls_per_day=150)


@pytest.fixture
def db(sim, tmp_path):
    """The simulator's day in a warehouse file, closed: the command opens it as it would."""
    path = tmp_path / "ziwo.duckdb"
    with open_warehouse(path) as warehouse:
        run_ingest(sim, warehouse)
    return path


def hook(receiver, **options):
    return {
        "type": "webhook",
        "name": "hook",
        "url": receiver.url(HOOK),
        "check_url": receiver.url(HEALTH),
        "allow_private_urls": True,
        "mode": "row",
        "credentials": "env:HOOK",
        **options,
    }


def api(receiver, **options):
    return {
        "type": "http_api",
        "name": "api",
        "url": receiver.url(API + "/{group_id}"),
        "check_url": receiver.url(HEALTH),
        "method": "POST",
        "allow_private_urls": True,
        "credentials": "env:API",
        "mapping": {"agent": "group_id", "answered": "calls_answered"},
        **options,
    }


def report_document(targets, conditions=f"calls_answered >= {THRESHOLD}", **extra):
    document = {
        "name": "daily-agents",
        "trigger": {"manual": {}},
        "operation": {
            "report": {
                "report": "agent-performance",
                "instance": "sim",
                "rolling_date": "custom",
                "start": str(DAY),
                "end": str(DAY),
                "timezone": ZONE,
            }
        },
        "deliveries": targets,
        **extra,
    }
    if conditions is not None:
        document["conditions"] = conditions
    return document


def write(folder, document):
    folder.mkdir(exist_ok=True)
    (folder / f"{document['name']}.yaml").write_text(yaml.safe_dump(document))


def command(tmp_path, db, action, name, *more):
    return ["workflow", action, name, "--dir", str(tmp_path / "workflows"), "--db", str(db), "--as-of", AS_OF, *more]


def ledger(db):
    with open_warehouse(db, read_only=True) as warehouse:
        return list_deliveries(warehouse, limit=10_000)


def agents(db):
    """The report the workflow computes, as rows and keys: what the counts are checked against."""
    spec = make_spec(
        report="agent-performance", instance="sim", rolling_date="custom", start=DAY, end=DAY, timezone=ZONE
    )
    with open_warehouse(db, read_only=True) as warehouse:
        report = compute_report(warehouse, spec, NOW)
    return report.table.to_pylist(), [str(key) for key in row_keys(report).to_pylist()]


def deliveries(receiver, path):
    """The requests that were not probes."""
    return [request for request in receiver.requests(path) if request.method not in ("HEAD", "OPTIONS")]


# --- the dry run ----------------------------------------------------------------------------------


def test_the_dry_run_counts_what_the_conditions_keep_and_sends_nothing(db, receiver, tmp_path, capsys):
    rows, _ = agents(db)
    kept = [row for row in rows if row["calls_answered"] >= THRESHOLD]
    assert 0 < len(kept) < len(rows), "the threshold must split the agents for the test to mean anything"
    write(tmp_path / "workflows", report_document([hook(receiver), api(receiver)]))

    assert main(command(tmp_path, db, "test", "daily-agents")) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    dropped = len(rows) - len(kept)
    expected = f"kept {len(kept)} of {len(rows)} rows; dropped {dropped} (conditions: calls_answered >= {THRESHOLD})"
    assert expected in lines
    listed = [line.split(None, 1) for line in lines if line.startswith(("  kept ", "  dropped "))]
    shown_kept = {text.split()[1] for word, text in listed if word == "kept" and "more" not in text}
    assert shown_kept == {str(row["group_id"]) for row in kept[:10]}
    assert f"webhook hook: {len(kept)} items, {len(kept)} rows" in lines
    assert f"http_api api: {len(kept)} items, {len(kept)} rows" in lines
    assert '"method": "POST"' in out and receiver.url(API) in out  # the requests exactly as they would go
    assert any(line.startswith("  ok  webhook hook: HEAD") for line in lines)
    assert any(line.startswith("  ok  http_api api: HEAD") for line in lines)

    assert deliveries(receiver, HOOK) == [] and deliveries(receiver, API) == []
    assert receiver.requests(HOOK) == [] and [r.method for r in receiver.requests(HEALTH)] == ["HEAD", "HEAD"]
    assert ledger(db) == []


def test_the_dry_run_caps_the_lists_and_the_requests_with_counts(db, receiver, tmp_path, capsys):
    rows, _ = agents(db)
    assert len(rows) > 10
    write(tmp_path / "workflows", report_document([hook(receiver)], conditions=None))
    assert main(command(tmp_path, db, "test", "daily-agents")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"kept {len(rows)} of {len(rows)} rows; dropped 0 (conditions: none)" in lines
    assert sum(line.startswith("  kept    agent ") for line in lines) == 10
    assert f"  kept    ... and {len(rows) - 10} more" in lines
    assert f"  ... and {len(rows) - 10} more items" in lines
    assert f"(the first 3 of {len(rows)} requests shown)" in lines


def test_conditions_that_keep_nothing_plan_nothing(db, receiver, tmp_path, capsys):
    write(tmp_path / "workflows", report_document([hook(receiver)], conditions="calls_answered < 0"))
    assert main(command(tmp_path, db, "test", "daily-agents")) == 0
    out = capsys.readouterr().out
    assert "nothing would be sent: the conditions kept no rows" in out and "webhook hook:" not in out.split("check")[0]


def test_a_disabled_workflow_with_a_delay_is_tested_and_says_so(db, receiver, tmp_path, capsys):
    write(tmp_path / "workflows", report_document([hook(receiver)], enabled=False, delay="1h"))
    assert main(command(tmp_path, db, "test", "daily-agents", "--send-test")) == 0
    out = capsys.readouterr().out
    assert "note: workflow 'daily-agents' is disabled (enabled: false)" in out
    assert "note: delay 1h: ignored by the test" in out
    assert len(deliveries(receiver, HOOK)) == 1


# --- the test send --------------------------------------------------------------------------------


def test_send_test_sends_one_marked_item_per_target_and_a_real_run_still_sends_every_item(
    db, receiver, tmp_path, capsys
):
    receiver.verify(HOOK, [SECRET])
    receiver.authorize(SANDBOX + "/", None)
    rows, keys = agents(db)
    kept = [(row, key) for row, key in zip(rows, keys, strict=True) if row["calls_answered"] >= THRESHOLD]
    first_row, first_key = kept[0]
    document = report_document([hook(receiver), api(receiver, test_url=receiver.url(SANDBOX + "/{group_id}"))])
    write(tmp_path / "workflows", document)

    assert main(command(tmp_path, db, "test", "daily-agents", "--send-test")) == 0
    out = capsys.readouterr().out
    assert "test send: one marked item to each target, the first kept row: agent" in out

    [test_message] = deliveries(receiver, HOOK)
    envelope = test_message.json()
    assert test_message.verified and envelope["type"] == "report.row.test"
    assert envelope["data"]["row_key"] == first_key and envelope["data"]["row"]["group_id"] == first_row["group_id"]
    real_id = message_id("report.row", first_key)
    assert test_message.headers["webhook-id"] == message_id("report.row.test", "test:" + first_key) != real_id

    sandbox = f"{SANDBOX}/{first_row['group_id']}"
    [test_request] = deliveries(receiver, sandbox)
    assert test_request.headers["x-ziwo-test"] == "true"
    assert test_request.headers["idempotency-key"] == idempotency_key("api", "test:" + first_key)
    assert test_request.headers["idempotency-key"] != idempotency_key("api", first_key)
    assert test_request.json() == {"agent": first_row["group_id"], "answered": first_row["calls_answered"]}
    assert not any(deliveries(receiver, f"{API}/{row['group_id']}") for row in rows)  # the real URL: nothing
    assert "webhook hook: sent, HTTP 200, id msg_" in out and "http_api api: sent, HTTP 200" in out
    assert ledger(db) == []  # a test is not in the ledger: nothing of a real run is marked sent

    assert main(command(tmp_path, db, "run", "daily-agents")) == 0
    events = receiver.events(HOOK)
    real = {event["data"]["row_key"] for event in events.values() if event["type"] == "report.row"}
    assert real == {key for _, key in kept} and len(events) == len(kept) + 1
    for row, key in kept:
        [request] = deliveries(receiver, f"{API}/{row['group_id']}")
        assert "x-ziwo-test" not in request.headers
        assert request.headers["idempotency-key"] == idempotency_key("api", key)
    assert len(ledger(db)) == 2 * len(kept) and {row.status for row in ledger(db)} == {"sent"}
    assert not any(row.chunk_key.startswith("test:") for row in ledger(db))


def test_an_api_without_a_sandbox_gets_the_marked_test_at_its_url_with_a_warning(db, receiver, tmp_path, capsys):
    rows, _ = agents(db)
    first = next(row for row in rows if row["calls_answered"] >= THRESHOLD)
    write(tmp_path / "workflows", report_document([api(receiver)]))
    assert main(command(tmp_path, db, "test", "daily-agents", "--send-test")) == 0
    out = capsys.readouterr().out
    assert "warning: http_api api: no test_url (sandbox) on this target" in out
    [request] = deliveries(receiver, f"{API}/{first['group_id']}")
    assert request.headers["x-ziwo-test"] == "true" and request.headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in out


def test_a_file_target_writes_a_test_file_beside_the_real_ones(db, receiver, tmp_path, capsys):
    folder = tmp_path / "out"
    files = {"type": "file", "name": "files", "formats": ["csv"], "destination": str(folder)}
    write(tmp_path / "workflows", report_document([files]))
    assert main(command(tmp_path, db, "test", "daily-agents")) == 0
    assert not folder.exists() or not any(folder.iterdir())  # the dry run writes nothing
    capsys.readouterr()
    assert main(command(tmp_path, db, "test", "daily-agents", "--send-test")) == 0
    [test_file] = folder.iterdir()
    assert test_file.name.endswith("-test.csv") and "file files: wrote" in capsys.readouterr().out
    assert len(test_file.read_text(encoding="utf-8-sig").strip().splitlines()) == 2  # the header and one row
    assert main(command(tmp_path, db, "run", "daily-agents")) == 0
    names = sorted(path.name for path in folder.iterdir())
    assert names == sorted([test_file.name, test_file.name.replace("-test.csv", ".csv")])


# --- checks and errors -----------------------------------------------------------------------------


def test_a_target_that_refuses_the_credentials_fails_the_check_in_one_line(db, receiver, tmp_path, capsys):
    receiver.authorize(HEALTH, lambda headers, query: headers.get("authorization") == "Bearer another")
    write(tmp_path / "workflows", report_document([api(receiver)]))
    assert main(command(tmp_path, db, "test", "daily-agents", "--send-test")) == 1
    captured = capsys.readouterr()
    assert "  FAILED  http_api api: HEAD" in captured.out and "HTTP 401" in captured.out
    assert "http_api api: not sent: its check failed" in captured.out
    [error] = captured.err.strip().splitlines()
    assert error.startswith("error: workflow test 'daily-agents': http_api api: check failed: HEAD") and "401" in error
    assert TOKEN not in captured.out + captured.err and "Traceback" not in captured.err
    assert deliveries(receiver, API) == [] and not any(deliveries(receiver, f"{API}/{n}") for n in range(100))


def test_a_receiver_that_is_down_fails_the_check(db, receiver, tmp_path, capsys):
    with type(receiver)() as down:  # started and stopped: its port now refuses connections
        url = down.url(HOOK)
    write(tmp_path / "workflows", report_document([hook(receiver, url=url, check_url=None)]))
    assert main(command(tmp_path, db, "test", "daily-agents")) == 1
    captured = capsys.readouterr()
    [error] = captured.err.strip().splitlines()
    assert error.startswith("error: workflow test 'daily-agents': webhook hook: check failed: HEAD")
    assert SECRET not in captured.out + captured.err


def test_a_failed_test_send_exits_1_naming_the_target(db, receiver, tmp_path, capsys):
    receiver.fail(HOOK, 422)
    write(tmp_path / "workflows", report_document([hook(receiver)]))
    assert main(command(tmp_path, db, "test", "daily-agents", "--send-test")) == 1
    captured = capsys.readouterr()
    assert "webhook hook: failed: HTTP 422" in captured.out
    [error] = captured.err.strip().splitlines()
    assert error.startswith("error: workflow test 'daily-agents': test send to webhook hook: HTTP 422")
    assert ledger(db) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["workflow", "test"], "error: workflow test: give the workflow's name or file"),
        (["workflow", "test", "nope"], "error: no workflow 'nope' in "),
        (["workflow", "run", "daily-agents", "--send-test"], "error: --send-test: only with `workflow test`"),
        (["workflow", "list", "--send-test"], "error: --send-test: only with `workflow test`"),
    ],
)
def test_bad_input_is_one_line(db, receiver, tmp_path, capsys, argv, message):
    write(tmp_path / "workflows", report_document([hook(receiver)]))
    assert main([*argv, "--dir", str(tmp_path / "workflows"), "--db", str(db)]) == 1
    [error] = capsys.readouterr().err.strip().splitlines()
    assert error.startswith(message)


def test_a_missing_warehouse_is_named(receiver, tmp_path, capsys):
    write(tmp_path / "workflows", report_document([hook(receiver)]))
    missing = tmp_path / "none.duckdb"
    assert main(command(tmp_path, missing, "test", "daily-agents")) == 1
    [error] = capsys.readouterr().err.strip().splitlines()
    assert error == f"error: --db {str(missing)!r}: no warehouse there; run `ziwo-reports ingest` first"


# --- after_call ------------------------------------------------------------------------------------


def call_document(receiver, conditions="duration_s >= 60"):
    return {
        "name": "follow-up",
        "trigger": {"after_call": {"on_change": "once"}},
        "operation": {"call": {}},
        "conditions": conditions,
        "deliveries": [hook(receiver)],
    }


def cursor(path):
    with open_warehouse(path, read_only=True) as warehouse:
        return cursor_of(warehouse, "follow-up")


def completed(path, after_run, up_to_run):
    """The calls an after_call batch holds, with their durations, read straight from the warehouse."""
    with open_warehouse(path, read_only=True) as warehouse:
        rows = warehouse.con.execute(
            "SELECT call_id, max(duration_s) FROM calls WHERE first_loaded_run > ? AND first_loaded_run <= ? "
            "AND ended_at IS NOT NULL GROUP BY call_id",
            [after_run, up_to_run],
        )
        return dict(rows.fetchall())


def test_after_call_shows_the_next_batch_and_leaves_the_cursor(sim, db, receiver, tmp_path, capsys):
    write(tmp_path / "workflows", call_document(receiver))
    test = ["workflow", "test", "follow-up", "--dir", str(tmp_path / "workflows"), "--db", str(db)]
    assert main(test) == 0
    out = capsys.readouterr().out
    assert "note: no cursor yet: run from the command line, the next run starts at ingest run 1" in out
    assert "shown instead, as a sample: the calls of ingest run 1" in out
    assert cursor(db) is None

    assert main(["workflow", "run", "follow-up", "--dir", str(tmp_path / "workflows"), "--db", str(db)]) == 0
    assert cursor(db) == 1
    capsys.readouterr()
    sim.store.set_now(sim.store.world.now + timedelta(hours=3))
    with open_warehouse(db) as warehouse:
        run_ingest(sim, warehouse)
    calls = completed(db, 1, 2)
    long = [call_id for call_id, duration in calls.items() if duration is not None and duration >= 60]
    assert 0 < len(long) < len(calls)

    assert main([*test, "--send-test"]) == 0
    out = capsys.readouterr().out
    assert (
        f"kept {len(long)} of {len(calls)} calls; dropped {len(calls) - len(long)} (conditions: duration_s >= 60)"
        in out
    )
    assert "the next run sees the calls of ingest runs 2 to 2 (cursor at 1; a test does not move it)" in out
    assert cursor(db) == 1
    [test_message] = deliveries(receiver, HOOK)
    assert test_message.json()["type"] == "report.row.test"
    assert test_message.json()["data"]["row"]["call_id"] in long

    assert main(["workflow", "run", "follow-up", "--dir", str(tmp_path / "workflows"), "--db", str(db)]) == 0
    assert cursor(db) == 2
    real = {e["data"]["row"]["call_id"] for e in receiver.events(HOOK).values() if e["type"] == "report.row"}
    assert real == set(long)


# --- the marks' options ------------------------------------------------------------------------------


def test_test_url_follows_the_url_rules_and_the_test_header_is_the_connectors_own():
    from ziwo_reports.connectors.delivery import DeliveryConfigError, parse_target

    base = {"type": "http_api", "url": "https://api.example.com/agents/{group_id}"}
    with pytest.raises(DeliveryConfigError, match=r"test_url 'https://\{group_id\}.example.com/x'.*placeholder"):
        parse_target({**base, "test_url": "https://{group_id}.example.com/x"})
    with pytest.raises(
        DeliveryConfigError, match=r"test_url 'https://user:\*\*\*@sandbox.example.com/x': has user:password"
    ):
        parse_target({**base, "test_url": "https://user:pw@sandbox.example.com/x"})
    with pytest.raises(DeliveryConfigError, match="header 'X-Ziwo-Test' may not be set here"):
        parse_target({**base, "headers": {"X-Ziwo-Test": "false"}})
    with pytest.raises(DeliveryConfigError, match=r"placeholder \{group_id\}: a batch's URL"):
        parse_target({**base, "url": "https://api.example.com/a", "test_url": base["url"], "batch_size": 10})
    target = parse_target({**base, "test_url": "https://sandbox.example.com/agents/{group_id}"})
    assert target.send_url == base["url"] and target.model_copy(update={"test": True}).send_url.startswith(
        "https://sandbox."
    )


def test_a_test_url_placeholder_that_is_no_column_fails_the_dry_run_naming_it(db, receiver, tmp_path, capsys):
    write(tmp_path / "workflows", report_document([api(receiver, test_url=receiver.url("/sandbox/{agent}"))]))
    assert main(command(tmp_path, db, "test", "daily-agents")) == 1
    captured = capsys.readouterr()
    assert "http_api api: no plan: http_api delivery: url or query placeholder {agent}" in captured.out
    [error] = captured.err.strip().splitlines()
    assert error.startswith("error: workflow test 'daily-agents': http_api api: http_api delivery: url or query")


@pytest.mark.parametrize(
    ("template", "marked"),
    [
        ("{report}_{instance}_{period}_{zone}.{ext}", "{report}_{instance}_{period}_{zone}-test.{ext}"),
        ("{instance}/{report}.csv", "{instance}/{report}-test.csv"),
        ("{instance}/{report}", "{instance}/{report}-test"),
        ("{period_start:%Y.%m.%d}", "{period_start:%Y.%m.%d}-test"),
    ],
)
def test_a_test_file_name_is_marked_before_its_extension(template, marked):
    from ziwo_reports.connectors.files.naming import marked_template

    assert marked_template(template) == marked
