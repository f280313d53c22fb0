"""Runs that share a warehouse file: readers side by side, a writer waited for (with a message
naming it), flow runs queued on the warehouse's Prefect concurrency slot; and files that are not
a warehouse, or not writable, left exactly as they are. Real processes, real DuckDB locks, the
simulator on loopback and the session's Prefect API."""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
import stat
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from tests import golden
from tests.conftest import run_ingest
from ziwo_reports.warehouse import Warehouse, WarehouseError, _split, migration_files, open_warehouse

ROOT = Path(__file__).resolve().parent.parent
CLI = [str(Path(sys.executable).with_name("ziwo-reports"))]

#: A process that holds a warehouse file read-write until its stdin closes; its command line
#: carries a password, which no message may show.
HOLDER = "import sys, duckdb; con = duckdb.connect(sys.argv[1]); print('holding', flush=True); sys.stdin.read()"
HOLDER_SECRET = "holder-pw-7f3a9c"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZIWO_")}
    env.update({"ZIWO_REPORTS_HTTP_BACKOFF_BASE": "0.001", "ZIWO_REPORTS_HTTP_ATTEMPTS": "8"})
    env.update(extra)
    return env


def gold_report(db: Path, *extra: str) -> list[str]:
    """`report` of the golden day, as CSV on stdout."""
    return [
        *CLI, "report", "--db", str(db), "--instance", "gold", "--timezone", "Asia/Dubai",
        "--rolling-date", "custom", "--start", "2026-11-10", "--end", "2026-11-10",
        "--as-of", golden.AS_OF.isoformat(), "--format", "csv", *extra,
    ]  # fmt: skip


@pytest.fixture
def gold_db(tmp_path) -> Path:
    path = tmp_path / "gold.duckdb"
    with open_warehouse(path) as warehouse:
        golden.load(warehouse)
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


class Holder:
    """A separate process holding a file's DuckDB lock until `release()`."""

    def __init__(self, db: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(db), "--password", HOLDER_SECRET],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.process.stdout.readline() == "holding\n"

    @property
    def pid(self) -> int:
        return self.process.pid

    def release(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=30)

    def __enter__(self) -> Holder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


# -- opening: files that are not a warehouse, read-only files, one process ---------------------


@pytest.mark.parametrize(
    ("name", "ddl"),
    [
        ("other.duckdb", "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)"),
        ("calls-only.duckdb", "CREATE TABLE calls (call_id VARCHAR, started_at TIMESTAMPTZ)"),
    ],
)
def test_report_and_ingest_refuse_a_duckdb_file_that_is_not_a_warehouse_and_change_nothing(tmp_path, name, ddl):
    path = tmp_path / name
    con = duckdb.connect(str(path))
    con.execute(ddl)
    con.close()
    before = snapshot(tmp_path)
    report = subprocess.run(gold_report(path), capture_output=True, text=True, env=clean_env(), timeout=60)
    ingest = subprocess.run(
        [*CLI, "ingest", "--db", str(path), "--base-url", "http://127.0.0.1:9", "--access-token", "tok-unused"],
        capture_output=True, text=True, env=clean_env(), timeout=60,
    )  # fmt: skip
    for result in (report, ingest):
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
        assert f"error: {path} is a DuckDB file but not a ziwo-reports warehouse" in result.stderr
        assert "no schema_migrations" in result.stderr
    assert snapshot(tmp_path) == before  # byte-identical, and no .wal or other file appeared


def test_a_file_that_is_not_a_duckdb_file_gets_one_line(tmp_path):
    path = tmp_path / "notes.duckdb"
    path.write_text("not a database\n")
    ingest = [*CLI, "ingest", "--db", str(path), "--base-url", "http://127.0.0.1:9", "--access-token", "t"]
    for args in (gold_report(path), ingest):
        result = subprocess.run(args, capture_output=True, text=True, env=clean_env(), timeout=60)
        assert result.returncode == 1
        assert result.stderr == f"error: {path} is not a DuckDB file, so not a ziwo-reports warehouse\n"
    assert path.read_text() == "not a database\n"


def test_read_only_opening_checks_the_schema_version_and_writes_nothing(tmp_path):
    path = tmp_path / "w.duckdb"
    with Warehouse(path) as old:  # a warehouse of the ziwo-reports before migration 004
        old.run("schema_migrations")
        for file in migration_files()[:3]:
            for statement in _split(file.read_text(encoding="utf-8")):
                old.con.execute(statement)
            old.con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [int(file.name[:3]), file.stem])
    before = snapshot(tmp_path)
    newest = max(int(file.name[:3]) for file in migration_files())
    with pytest.raises(WarehouseError, match=rf"schema version 3, older than this ziwo-reports \({newest}\); run `z"):
        open_warehouse(path, read_only=True)
    assert snapshot(tmp_path) == before
    with open_warehouse(path) as warehouse:  # what an ingest does: upgrade it
        assert warehouse.migrate() == []
    with open_warehouse(path, read_only=True) as warehouse:
        assert warehouse.con.execute("SELECT max(version) FROM schema_migrations").fetchone() == (newest,)
    with open_warehouse(path) as warehouse:
        warehouse.con.execute("INSERT INTO schema_migrations VALUES (99, '099_future', now())")
    with pytest.raises(WarehouseError, match="schema version 99, newer than this ziwo-reports knows"):
        open_warehouse(path, read_only=True)
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(WarehouseError, match="holds no warehouse yet; run `ziwo-reports ingest` first"):
        open_warehouse(empty, read_only=True)
    with pytest.raises(WarehouseError, match=f"no warehouse at {tmp_path / 'missing.duckdb'}"):
        open_warehouse(tmp_path / "missing.duckdb", read_only=True)
    assert not (tmp_path / "missing.duckdb").exists()


def test_report_works_on_a_read_only_file_with_a_leftover_wal(gold_db):
    """A writer killed before its checkpoint leaves a .wal: read-only, DuckDB replays it in memory
    and writes neither file. The folder is read-only too, so nothing new can appear in it (for
    root, who ignores modes, the snapshot still shows that nothing was written)."""
    folder = gold_db.parent
    crash = (
        "import os, sys; from ziwo_reports.warehouse import open_warehouse; w = open_warehouse(sys.argv[1]); "
        "w.con.execute(\"UPDATE agents SET first_name = 'Walter' WHERE agent_id = 1\"); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", crash, str(gold_db)], check=True, timeout=60)
    assert Path(f"{gold_db}.wal").stat().st_size > 0
    before = snapshot(folder)
    for file in folder.iterdir():
        file.chmod(0o444)
    folder.chmod(0o555)
    try:
        result = subprocess.run(gold_report(gold_db), capture_output=True, text=True, env=clean_env(), timeout=60)
        after = snapshot(folder)
    finally:
        folder.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert {row["group_name"] for row in csv.DictReader(io.StringIO(result.stdout))} >= {"Walter A", "Badr B"}
    assert after == before
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o444 for f in folder.iterdir())


def test_in_one_process_a_reader_shares_the_writers_database_and_a_writer_beside_readers_is_refused(tmp_path):
    path = tmp_path / "w.duckdb"
    with open_warehouse(path) as writer:
        golden.load(writer)
        # DuckDB refuses a read-only connection beside this read-write one: the reader shares it.
        with open_warehouse(path, read_only=True) as reader:
            assert reader.read_only
            assert reader.con.execute("SELECT count(*) FROM agents").fetchone()[0] == 3
            with pytest.raises(WarehouseError, match="read-only: it cannot be migrated"):
                reader.migrate()
        assert writer.con.execute("SELECT count(*) FROM agents").fetchone()[0] == 3  # still open
    with open_warehouse(path, read_only=True) as first, open_warehouse(path, read_only=True) as second:
        assert (
            first.con.execute("SELECT count(*) FROM calls").fetchone()
            == second.con.execute("SELECT count(*) FROM calls").fetchone()
        )
        started = time.monotonic()
        with pytest.raises(WarehouseError, match="is open read-only elsewhere in this process"):
            Warehouse(path)
        assert time.monotonic() - started < 1  # refused at once: waiting for itself would never end


# -- waiting for another process ------------------------------------------------------------------


def test_a_report_waits_for_the_holder_then_fails_naming_it(gold_db):
    with Holder(gold_db) as holder:
        started = time.monotonic()
        result = subprocess.run(
            gold_report(gold_db, "--wait", "1"), capture_output=True, text=True, env=clean_env(), timeout=60
        )
        elapsed = time.monotonic() - started
    assert result.returncode == 1 and result.stdout == ""
    waiting, error = result.stderr.splitlines()  # one notice, however many retries; one error line
    assert waiting.startswith(f"warehouse {gold_db} is in use by PID {holder.pid} (")
    assert waiting.endswith("; waiting up to 1 s for it")
    assert error.startswith(f"error: warehouse {gold_db} is still in use by PID {holder.pid} (")
    assert re.search(r"after waiting 1\.\d s; wait longer with --wait SECONDS or ZIWO_REPORTS_DB_WAIT$", error)
    # the holder's command line, from /proc, with its password masked
    assert "import sys, duckdb" in waiting and "--password ***" in waiting
    assert HOLDER_SECRET not in result.stderr
    assert elapsed >= 1


def test_a_report_waits_for_the_holder_and_goes_on_once_it_is_gone(gold_db):
    expected = subprocess.run(gold_report(gold_db), capture_output=True, text=True, env=clean_env(), timeout=60)
    assert expected.returncode == 0, expected.stderr
    with Holder(gold_db) as holder:
        report = subprocess.Popen(
            gold_report(gold_db), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=clean_env(ZIWO_REPORTS_DB_WAIT="120"),
        )  # fmt: skip
        notice = report.stderr.readline()  # blocks until the report is waiting
        assert notice.startswith(f"warehouse {gold_db} is in use by PID {holder.pid} (")
        assert notice.endswith("; waiting up to 120 s for it\n")
        time.sleep(0.5)
        assert report.poll() is None
    out, err = report.communicate(timeout=60)
    assert report.returncode == 0, err
    assert err == "" and out == expected.stdout


def test_an_ingest_and_three_reports_started_at_once_all_succeed(simulator, tmp_path):
    """The four start while another process holds the file, so they all meet it and each other at
    the instant it lets go: the ingest writes and the reports read, in turn, and none fails."""
    sim = simulator(days=3, calls_per_day=300)  # a fixed "now": both ingests see the same calls
    db = tmp_path / "w.duckdb"
    env = clean_env(
        ZIWO_BASE_URL=sim.base_url, ZIWO_INSTANCE="sim", ZIWO_TIMEZONE=sim.config.timezone,
        ZIWO_USERNAME=sim.config.username, ZIWO_PASSWORD=sim.config.password,
    )  # fmt: skip
    with open_warehouse(db) as warehouse:
        run_ingest(sim, warehouse, instance="sim")
    span = ["--from", str(sim.first_day), "--to", str(sim.last_day)]
    # A full refresh in small pages holds the file for seconds.
    ingest = [*CLI, "ingest", "--db", str(db), *span, "--full-refresh", "--page-size", "20"]
    report = [
        *CLI, "report", "--db", str(db), "--instance", "sim", "--rolling-date", "custom",
        "--start", str(sim.first_day), "--end", str(sim.last_day), "--timezone", sim.config.timezone,
        "--format", "csv",
    ]  # fmt: skip
    with Holder(db) as holder:
        processes = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                     for args in (ingest, report, report, report)]  # fmt: skip
        notices = [process.stderr.readline() for process in processes]  # each is waiting
        assert all(f" is in use by PID {holder.pid} (" in notice for notice in notices), notices
    results = [(p, *p.communicate(timeout=240)) for p in processes]
    for process, _, err in results:
        assert process.returncode == 0, err
    assert all(" is in use by " not in err for _, _, err in results)  # told once, however long they waited
    (_, ingested, _), *reports = results
    assert "(full_refresh): 0 new, 0 updated" in ingested, ingested
    outputs = {out for _, out, _ in reports}
    assert len(outputs) == 1  # the same data before and after a full refresh
    rows = list(csv.DictReader(io.StringIO(outputs.pop())))
    assert sum(int(row["calls_handled"]) for row in rows) > 0
    assert sim.config.password not in "".join(notices) + "".join(out + err for _, out, err in results)


# -- Prefect: the warehouse's concurrency slot ----------------------------------------------------


def _slot_logs(since: datetime, slot: str) -> list:
    """Logs of every flow run since `since` that mention the slot or a file-lock wait, oldest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterTimestamp
    from prefect.client.schemas.sorting import LogSort

    found, offset = [], 0
    with get_client(sync_client=True) as client:
        while True:
            page = client.read_logs(
                LogFilter(timestamp=LogFilterTimestamp(after_=since)), limit=200, offset=offset,
                sort=LogSort.TIMESTAMP_ASC,
            )  # fmt: skip
            found += [log for log in page if slot in log.message or " is in use by " in log.message]
            if len(page) < 200:
                return found
            offset += 200


@pytest.mark.usefixtures("prefect_api")
def test_an_ingest_flow_and_a_report_flow_started_together_queue_on_the_slot_and_both_complete(simulator, tmp_path):
    """Each flow in its own process, as workers run them. The test holds the warehouse's slot
    while both start, so both really meet it; then the ingest flow, the report's ingest subflow
    and the report's reading each hold it in turn, never two at once."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    from ziwo_reports.flows.slots import warehouse_slot, warehouse_slot_name

    sim = simulator(days=2, calls_per_day=200, now=None)
    db, out = tmp_path / "w.duckdb", tmp_path / "out"
    env = clean_env(
        ZIWO_BASE_URL=sim.base_url, ZIWO_INSTANCE="sim", ZIWO_TIMEZONE=sim.config.timezone,
        ZIWO_USERNAME=sim.config.username, ZIWO_PASSWORD=sim.config.password,
        PREFECT_API_URL=PREFECT_API_URL.value(),
    )  # fmt: skip
    ingest_flow = (
        "import sys; from ziwo_reports.flows.ingest import ingest; ingest(db_path=sys.argv[1], initial_days=2)"
    )
    report_flow = (
        "import sys; from ziwo_reports.flows.report import report; "
        "report(db_path=sys.argv[1], rolling_date='last_n_days:2', "
        "files={'formats': ['csv'], 'destination': sys.argv[2]})"
    )
    slot = warehouse_slot_name(db)
    assert re.fullmatch(r"ziwo-warehouse-w-[0-9a-f]{8}", slot)
    assert warehouse_slot_name(f"{tmp_path}/../{tmp_path.name}/w.duckdb") == slot
    since = datetime.now(UTC)
    with warehouse_slot(db):  # created on first use
        with get_client(sync_client=True) as client:
            limit = client.read_global_concurrency_limit_by_name(slot)
        assert limit.limit == 1 and limit.active_slots == 1
        processes = [
            subprocess.Popen([sys.executable, "-c", code, str(db), str(out)], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for code in (ingest_flow, report_flow)
        ]  # fmt: skip
        deadline = time.monotonic() + 180
        while (
            len({log.flow_run_id for log in _slot_logs(since, slot) if "waiting for the warehouse slot" in log.message})
            < 2
        ):
            assert all(p.poll() is None for p in processes), [p.communicate()[0][-3000:] for p in processes]
            assert time.monotonic() < deadline, "the two flows did not both wait for the slot"
            time.sleep(1)
    outputs = [p.communicate(timeout=300)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [o[-3000:] for o in outputs]

    logs = _slot_logs(since, slot)
    assert not [log.message for log in logs if " is in use by " in log.message]  # the slot kept them apart
    held: dict = {}
    for log in logs:
        if log.message.startswith(f"took the warehouse slot {slot}"):
            held.setdefault(log.flow_run_id, []).append([log.timestamp, None])
        elif log.message.startswith(f"releasing the warehouse slot {slot}"):
            held[log.flow_run_id][-1][1] = log.timestamp
    spans = sorted(span for spans in held.values() for span in spans)
    # the ingest flow, the report flow's ingest subflow, and the report flow's reading and the
    # moments it writes its delivery ledger (its files planned, then written)
    assert len(held) == 3 and all(end is not None for _, end in spans), held
    assert sorted(len(s) for s in held.values()) == [1, 1, 3], held
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(spans)), spans
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name(slot).active_slots == 0
    with open_warehouse(db, read_only=True) as warehouse:
        held_calls = {r[0] for r in warehouse.con.execute("SELECT call_id FROM calls").fetchall()}
    assert held_calls == sim.truth().calls
    assert [p.suffix for p in out.iterdir()] == [".csv"]
    assert sim.config.password not in "".join(outputs)


@pytest.mark.usefixtures("prefect_api")
def test_a_flow_waits_for_a_command_line_holder_of_the_file(simulator, tmp_path, monkeypatch):
    """A command-line ingest holding the file is not a flow run: the slot does not see it, the
    file-lock wait does."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    from ziwo_reports.flows.ingest import ingest

    sim = simulator(days=1, calls_per_day=100, now=None)
    for name, value in {
        "ZIWO_BASE_URL": sim.base_url, "ZIWO_INSTANCE": "sim", "ZIWO_TIMEZONE": sim.config.timezone,
        "ZIWO_USERNAME": sim.config.username, "ZIWO_PASSWORD": sim.config.password, "ZIWO_REPORTS_DB_WAIT": "60",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    db = tmp_path / "w.duckdb"
    with Holder(db) as holder:
        timer = threading.Timer(2, holder.release)
        timer.start()
        try:
            state = ingest(db_path=str(db), initial_days=1, return_state=True)
        finally:
            timer.cancel()
    assert state.is_completed(), state
    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[state.state_details.flow_run_id])))
    (notice,) = [log for log in logs if " is in use by " in log.message]
    assert notice.message.startswith(f"warehouse {db} is in use by PID {holder.pid} (")
    assert notice.message.endswith("waiting up to 60 s for it") and notice.level == 30
    with open_warehouse(db, read_only=True) as warehouse:
        assert warehouse.con.execute("SELECT count(*) FROM calls").fetchone()[0] == len(sim.truth().calls)
