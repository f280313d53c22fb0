"""Incremental, idempotent ingest into the DuckDB warehouse, against the simulator over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest

from tests.conftest import run_ingest
from ziwo_reports.timewindows import parse_duration
from ziwo_reports.warehouse import open_warehouse

DATA_TABLES = {
    "calls": "instance, call_id",
    "agents": "instance, agent_id",
    "teams": "instance, team_id",
    "queues": "instance, queue_id",
    "numbers": "instance, number_id",
    "quarantine": "instance, stream, record_key",
}

# The client rejects what it cannot read; references to unknown agents are the data-quality
# suite's to catch, so they carry the name of its expectation.
REASON_IN_WAREHOUSE = {"unknown_agent": "expect_column_values_to_be_in_set(agent_id)"}


def snapshot(warehouse) -> dict[str, list[tuple]]:
    return {t: warehouse.con.execute(f"SELECT * FROM {t} ORDER BY {k}").fetchall() for t, k in DATA_TABLES.items()}


def held_calls(warehouse, instance="sim") -> list[str]:
    return [r[0] for r in warehouse.con.execute("SELECT call_id FROM calls WHERE instance = ?", [instance]).fetchall()]


def quarantined(warehouse, instance="sim") -> dict[int, str]:
    rows = warehouse.con.execute(
        "SELECT raw, reason FROM quarantine WHERE instance = ? AND stream = 'calls'", [instance]
    ).fetchall()
    return {json.loads(raw)["id"]: reason for raw, reason in rows}


def runs(warehouse) -> list[dict]:
    cursor = warehouse.con.execute("SELECT * FROM ingest_runs ORDER BY run_id")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_the_same_ingest_twice_gives_identical_tables(simulator, warehouse):
    sim = simulator(days=3, calls_per_day=400)
    first = run_ingest(sim, warehouse)
    before = snapshot(warehouse)
    second = run_ingest(sim, warehouse)
    assert snapshot(warehouse) == before
    assert first.totals.new == len(sim.truth().calls) > 0
    assert (second.totals.new, second.totals.updated, second.totals.quarantined) == (0, 0, 0)
    assert second.totals.unchanged == second.totals.records > 0
    assert sorted(held_calls(warehouse)) == sorted(sim.truth().calls)
    assert [r["status"] for r in runs(warehouse)] == ["succeeded", "succeeded"]
    assert warehouse.one("duplicate_call_keys") == (0,)


def test_a_call_changed_inside_the_lookback_is_updated(simulator, warehouse):
    sim = simulator(days=4, calls_per_day=300)
    run_ingest(sim, warehouse)
    yesterday = sim.last_day - timedelta(days=1)
    recent = sim.store.day(yesterday)[10].call_id
    old = sim.store.day(sim.first_day)[10].call_id
    sim.store.change_call(recent, disposition="Escalated", surveyScore=1)
    sim.store.change_call(old, disposition="Escalated")

    second = run_ingest(sim, warehouse, lookback=timedelta(hours=24))
    assert (second.totals.new, second.totals.updated) == (0, 1)
    row = warehouse.con.execute(
        "SELECT disposition, survey_score, first_loaded_run, last_changed_run FROM calls WHERE call_id = ?", [recent]
    ).fetchone()
    assert row == ("Escalated", 1, 1, 2)
    assert held_calls(warehouse).count(recent) == 1
    # Outside the lookback the change waits for a backfill of its day.
    assert warehouse.con.execute("SELECT disposition FROM calls WHERE call_id = ?", [old]).fetchone()[0] != "Escalated"
    backfill = run_ingest(sim, warehouse, first_day=sim.first_day, last_day=sim.first_day)
    assert (backfill.plan.mode, backfill.totals.updated) == ("backfill", 1)
    assert warehouse.con.execute("SELECT disposition FROM calls WHERE call_id = ?", [old]).fetchone()[0] == "Escalated"


def test_new_calls_after_the_cursor_arrive_and_the_cursor_moves_with_the_data(simulator, warehouse):
    sim = simulator(days=2, calls_per_day=400)
    run_ingest(sim, warehouse)
    (cursor,) = warehouse.one("read_cursor", instance="sim", stream="calls")
    assert cursor == max(
        r[0] for r in warehouse.con.execute("SELECT started_at FROM calls WHERE instance = 'sim'").fetchall()
    )
    sim.store.set_now(sim.store.world.now + timedelta(hours=6))
    later = run_ingest(sim, warehouse)
    assert later.totals.new > 0 and later.totals.updated == 0
    assert sorted(held_calls(warehouse)) == sorted(sim.truth().calls)
    assert warehouse.one("read_cursor", instance="sim", stream="calls")[0] > cursor


CRASHING_RUN = textwrap.dedent(
    """
    import os, sys
    from ziwo_reports.connectors.ziwo import ZiwoClient, ZiwoSettings
    from ziwo_reports.http import HttpPolicy
    from ziwo_reports.ingest import IngestOptions, ingest
    from ziwo_reports.warehouse import open_warehouse
    from datetime import datetime

    base_url, db, now, crash_at = sys.argv[1:5]
    commits = []

    def before_commit(what):
        commits.append(what)
        if len(commits) == int(crash_at):
            os._exit(17)  # the process dies between load and commit: no cleanup, no rollback

    settings = ZiwoSettings(base_url=base_url, instance="sim", timezone="Asia/Dubai",
                            username="supervisor@simulator.ziwo.test", password="simulator-password",
                            http=HttpPolicy(backoff_base=0.001))
    with open_warehouse(db) as warehouse, ZiwoClient(settings) as client:
        ingest(warehouse, client, IngestOptions(initial_days=3), now=datetime.fromisoformat(now),
               before_commit=before_commit)
    """
)


def test_a_crash_between_load_and_commit_leaves_a_consistent_warehouse(simulator, tmp_path):
    sim = simulator(days=3, calls_per_day=400)
    db = tmp_path / "ziwo.duckdb"
    now = sim.store.world.now.isoformat()
    # Commit points: reference data, then one per day. Die at the second day's.
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_RUN, sim.base_url, str(db), now, "3"], capture_output=True, text=True
    )
    assert crashed.returncode == 17, crashed.stderr

    with open_warehouse(db) as warehouse:
        first_day = len(sim.truth(sim.first_day, sim.first_day).calls)
        assert len(held_calls(warehouse)) == first_day  # the first day committed, the second did not
        assert warehouse.one("duplicate_call_keys") == (0,)
        (status, days_done, new) = warehouse.con.execute("SELECT status, days_done, new FROM ingest_runs").fetchone()
        assert (status, days_done, new) == ("running", 1, first_day)  # counts moved with the data

        rerun = run_ingest(sim, warehouse)
        assert sorted(held_calls(warehouse)) == sorted(sim.truth().calls)
        assert warehouse.one("duplicate_call_keys") == (0,)
        assert [r["status"] for r in runs(warehouse)] == ["interrupted", "succeeded"]
        assert rerun.totals.new == len(sim.truth().calls) - first_day


def test_an_error_inside_a_load_rolls_it_back_and_fails_the_run(simulator, warehouse):
    sim = simulator(days=2, calls_per_day=300)

    def explode(what):
        if what.startswith("calls of") and what.endswith(str(sim.last_day)):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        run_ingest(sim, warehouse, before_commit=explode)
    assert len(held_calls(warehouse)) == len(sim.truth(sim.first_day, sim.first_day).calls)
    failed = runs(warehouse)[-1]
    assert failed["status"] == "failed" and "disk full" in failed["error"]
    run_ingest(sim, warehouse)
    assert sorted(held_calls(warehouse)) == sorted(sim.truth().calls)


def test_hostile_api_nothing_lost_nothing_duplicated_every_bad_record_quarantined(simulator, warehouse):
    sim = simulator(faults="hostile", fault_rate=0.15, bad_record_rate=0.02, days=3, calls_per_day=500)
    # Records the client can read but the warehouse must not take: for the data-quality suite.
    day = sim.store.day(sim.last_day - timedelta(days=1))
    odd = {
        day[5].call_id: ({"result": "transferred-away"}, "expect_column_values_to_be_in_set(result)"),
        day[6].call_id: ({"direction": "sideways"}, "expect_column_values_to_be_in_set(direction)"),
        day[7].call_id: ({"queueId": 999}, "expect_column_values_to_be_in_set(queue_id)"),
    }
    for call_id, (change, _) in odd.items():
        sim.store.change_call(call_id, **change)

    run = run_ingest(sim, warehouse, flush_rows=250)
    truth = sim.truth()
    held = held_calls(warehouse)
    assert len(held) == len(set(held)), "a call held twice"
    assert set(held) == truth.calls - set(odd), "calls lost or invented"
    expected = {leg_id: REASON_IN_WAREHOUSE.get(reason, reason) for leg_id, reason in truth.bad.items()}
    by_call_id = {
        row[0]: row[1]
        for row in warehouse.con.execute(
            "SELECT record_key, reason FROM quarantine WHERE check_stage = 'validate'"
        ).fetchall()
    }
    for call_id, (_, reason) in odd.items():
        assert by_call_id[call_id] == reason
    assert {k: v for k, v in quarantined(warehouse).items() if k in expected} == expected
    assert len(quarantined(warehouse)) == len(expected) + len(odd)
    assert run.totals.quarantined == len(expected) + len(odd)
    assert run.totals.retries > 0 and run.totals.relogins > 0
    detail = warehouse.con.execute("SELECT detail FROM quarantine WHERE record_key = ?", [next(iter(odd))]).fetchone()
    assert detail == ("result is 'transferred-away', not one of the known values",)

    again = run_ingest(sim, warehouse)
    # The hostile server adds late calls while a client pages: they are the only news.
    late = sim.truth().calls - truth.calls
    assert set(held_calls(warehouse)) == truth.calls - set(odd) | late
    assert (again.totals.new, again.totals.updated) == (len(late), 0)
    assert len(quarantined(warehouse)) == len(expected) + len(odd)


def test_a_quarantined_call_that_arrives_fixed_leaves_the_quarantine(simulator, warehouse):
    sim = simulator(days=2, calls_per_day=300)
    call_id = sim.store.day(sim.last_day)[3].call_id
    sim.store.change_call(call_id, result="mystery")
    run_ingest(sim, warehouse)
    assert call_id not in held_calls(warehouse) and len(quarantined(warehouse)) == 1
    sim.store.change_call(call_id, result="answered")
    run_ingest(sim, warehouse)
    assert call_id in held_calls(warehouse) and quarantined(warehouse) == {}


def test_two_instances_share_one_warehouse(simulator, warehouse):
    dubai = simulator(days=2, calls_per_day=300)
    cairo = simulator(days=2, calls_per_day=300, timezone="Africa/Cairo")  # same seed: the same callIDs
    run_ingest(dubai, warehouse, instance="dubai")
    run_ingest(cairo, warehouse, instance="cairo")
    run_ingest(dubai, warehouse, instance="dubai")
    assert sorted(held_calls(warehouse, "dubai")) == sorted(dubai.truth().calls)
    assert sorted(held_calls(warehouse, "cairo")) == sorted(cairo.truth().calls)
    assert set(held_calls(warehouse, "dubai")) & set(held_calls(warehouse, "cairo"))
    counts = warehouse.con.execute("SELECT instance, count(*) FROM agents GROUP BY ALL ORDER BY 1").fetchall()
    assert counts == [("cairo", 25), ("dubai", 25)]
    cursors = warehouse.con.execute("SELECT instance, cursor FROM ingest_state ORDER BY 1").fetchall()
    assert [c[0] for c in cursors] == ["cairo", "dubai"] and cursors[0][1] != cursors[1][1]
    assert warehouse.one("duplicate_call_keys") == (0,)


def test_full_refresh_rereads_everything_and_drops_what_ziwo_no_longer_lists(simulator, warehouse):
    sim = simulator(days=3, calls_per_day=300)
    run_ingest(sim, warehouse)
    gone = sim.store.day(sim.first_day)[0].call_id
    sim.store.delete_call(gone)
    incremental = run_ingest(sim, warehouse, lookback=timedelta(hours=1))
    assert gone in held_calls(warehouse) and incremental.totals.removed == 0

    refresh = run_ingest(sim, warehouse, full_refresh=True, initial_days=1)
    assert refresh.plan.mode == "full_refresh" and refresh.plan.first_day == sim.first_day
    assert refresh.totals.removed == 1 and refresh.totals.new == refresh.totals.updated == 0
    assert sorted(held_calls(warehouse)) == sorted(sim.truth().calls)


def test_reference_data_is_refreshed_and_departed_agents_keep_their_history(simulator, warehouse):
    sim = simulator(days=14, calls_per_day=200, agents=12)
    run_ingest(sim, warehouse, initial_days=14)
    departed = next(a for a in sim.world.agents if a.deleted_at)
    row = warehouse.con.execute(
        "SELECT deleted_at, team_name, wrap_up_time_s FROM agents WHERE agent_id = ?", [departed.id]
    ).fetchone()
    assert row[0] == departed.deleted_at and row[1] and row[2] == departed.wrap_up
    (their_calls,) = warehouse.con.execute("SELECT count(*) FROM calls WHERE agent_id = ?", [departed.id]).fetchone()
    assert their_calls > 0
    names = dict(
        warehouse.con.execute(
            "SELECT 'teams', count(*) FROM teams UNION ALL SELECT 'queues', count(*) FROM queues"
        ).fetchall()
    )
    assert names == {"teams": 4, "queues": 5}
    survey = warehouse.con.execute("SELECT count(*) FROM queues WHERE survey_required").fetchone()[0]
    assert survey == 3


def test_the_run_counts_and_the_calls_table_agree(simulator, warehouse):
    sim = simulator(days=2, calls_per_day=300, faults="hostile", fault_rate=0.0, bad_record_rate=0.03)
    run = run_ingest(sim, warehouse)
    row = runs(warehouse)[0]
    assert row["new"] == run.totals.new == len(held_calls(warehouse))
    assert row["quarantined"] == run.totals.quarantined == len(quarantined(warehouse))
    assert row["records"] == run.totals.new + run.totals.quarantined
    assert row["days_done"] == 2 and row["pages"] == run.totals.pages > 0


def test_plans_incremental_backfill_and_first_runs(simulator, warehouse):
    sim = simulator(days=5, calls_per_day=100)
    first = run_ingest(sim, warehouse, initial_days=2)
    assert (first.plan.mode, first.plan.first_day, first.plan.last_day) == (
        "incremental",
        sim.last_day - timedelta(days=1),
        sim.last_day,
    )
    backfill = run_ingest(sim, warehouse, first_day=sim.first_day, last_day=sim.first_day + timedelta(days=1))
    assert backfill.plan.mode == "backfill" and backfill.totals.new > 0
    (cursor,) = warehouse.one("read_cursor", instance="sim", stream="calls")
    assert cursor.astimezone(sim.world.tz).date() == sim.last_day  # a backfill never moves it back


@pytest.mark.parametrize(
    ("text", "expected"),
    [("48h", timedelta(hours=48)), ("2d", timedelta(days=2)), ("90m", timedelta(minutes=90)),
     ("1h30m", timedelta(minutes=90)), ("36", timedelta(hours=36)), ("0s", timedelta(0))],
)  # fmt: skip
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5x", "h", "48 hours", "-1h"])
def test_bad_durations_name_the_value(text):
    with pytest.raises(ValueError, match="is not a duration such as 48h"):
        parse_duration(text)


def test_ingest_command_shows_a_summary_line(simulator, tmp_path):
    # The command plans from the real clock: so does this simulator.
    sim = simulator(days=2, calls_per_day=300, faults="flaky", fault_rate=0.1, now=None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZIWO_")}
    env.update(
        ZIWO_BASE_URL=sim.base_url, ZIWO_INSTANCE="sim", ZIWO_TIMEZONE=sim.config.timezone,
        ZIWO_USERNAME=sim.config.username, ZIWO_PASSWORD=sim.config.password,
        ZIWO_REPORTS_HTTP_BACKOFF_BASE="0.001", ZIWO_REPORTS_HTTP_ATTEMPTS="8",
    )  # fmt: skip
    cli = os.path.join(os.path.dirname(sys.executable), "ziwo-reports")
    db = tmp_path / "w.duckdb"
    args = [cli, "ingest", "--db", str(db), "--initial-days", "2"]
    first = subprocess.run(args, capture_output=True, text=True, env=env, timeout=180)
    assert first.returncode == 0, first.stderr
    n = len(sim.truth().calls)
    assert (
        f"ingested sim {sim.first_day}..{sim.last_day} (incremental): {n} new, 0 updated, 0 unchanged" in first.stdout
    )
    assert "quarantined" in first.stdout and "retries" in first.stdout
    second = subprocess.run([*args, "--lookback", "1d"], capture_output=True, text=True, env=env, timeout=180)
    assert "0 new, 0 updated" in second.stdout
    bad = subprocess.run([*args, "--lookback", "soon"], capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "argument --lookback: 'soon' is not a duration" in bad.stderr
    backwards = subprocess.run(
        [*args, "--from", "2026-11-05", "--to", "2026-11-01"], capture_output=True, text=True, env=env
    )
    assert backwards.returncode == 1 and "last day 2026-11-01 is before first day 2026-11-05" in backwards.stderr
    for secret in [sim.config.password, *sim.issued_tokens]:
        assert secret not in first.stdout + first.stderr + second.stdout + second.stderr
