"""`report --files` as a delivery in the ledger, `deliveries` listing it and `replay` sending again
what failed, run as users run them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import golden
from ziwo_reports.cli import main
from ziwo_reports.deliveries import list_deliveries
from ziwo_reports.warehouse import open_warehouse


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "gold.duckdb"
    with open_warehouse(path) as warehouse:
        golden.load(warehouse)
    return path


def report_files(db, destination):
    return [
        "report", "--db", str(db), "--instance", "gold", "--timezone", "Asia/Dubai", "--rolling-date", "custom",
        "--start", "2026-11-10", "--end", "2026-11-10", "--as-of", golden.AS_OF.isoformat(),
        "--files", "xlsx,csv", "--destination", str(destination),
    ]  # fmt: skip


def ledger(db):
    with open_warehouse(db, read_only=True) as warehouse:
        return list_deliveries(warehouse)


def test_failed_report_files_are_in_the_ledger_and_replay_writes_them(db, tmp_path, capsys):
    destination = tmp_path / "reports"
    # a folder where the workbook should go: the files are written, and cannot be moved into place
    blocker = destination / "agent-performance_gold_2026-11-10_Asia-Dubai.xlsx"
    blocker.mkdir(parents=True)

    assert main(report_files(db, destination)) == 1
    out, err = capsys.readouterr()
    [line] = err.strip().splitlines()
    assert line.startswith("error: --files 'xlsx,csv': file delivery 'file': 2 of 2 items failed:")
    assert "IsADirectoryError" in line
    ids = re.search(r"recorded in the ledger as (\d+), (\d+)", line)
    assert ids and "`ziwo-reports replay --id ...` sends them again" in line
    assert list(destination.iterdir()) == [blocker], "nothing of a failed run left in place"
    rows = ledger(db)
    assert {(r.delivery_id, r.status, r.attempts, r.source) for r in rows} == {
        (int(ids[1]), "failed", 1, "report"),
        (int(ids[2]), "failed", 1, "report"),
    }

    assert main(["deliveries", "--db", str(db), "--not-sent"]) == 0
    listed = capsys.readouterr().out
    assert "failed" in listed and "│ file " in listed and "IsADirectoryError" in listed

    blocker.rmdir()
    assert main(["replay", "--db", str(db), "--id", ids[1], "--id", ids[2]]) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("replayed 2 deliveries: all sent")
    assert sorted(p.suffix for p in destination.iterdir()) == [".csv", ".xlsx"]
    assert {(r.status, r.attempts) for r in ledger(db)} == {("sent", 2)}

    assert main(["replay", "--db", str(db), "--id", ids[1]]) == 1
    assert capsys.readouterr().err.strip() == (
        f"error: --id {ids[1]}: no such delivery, or it was sent (--force sends it again)"
    )
    assert main(["replay", "--db", str(db), "--id", ids[1], "--force"]) == 0
    capsys.readouterr()
    assert {(r.delivery_id, r.attempts) for r in ledger(db)} == {(int(ids[1]), 3), (int(ids[2]), 2)}


def test_report_files_that_arrive_are_in_the_ledger_too(db, tmp_path, capsys):
    assert main(report_files(db, tmp_path / "out")) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(": wrote " in line for line in lines)
    rows = ledger(db)
    assert {r.status for r in rows} == {"sent"} and {r.target_ref for r in rows} == {
        str(p) for p in (tmp_path / "out").iterdir()
    }
    assert main(["deliveries", "--db", str(db), "--status", "failed"]) == 0
    assert capsys.readouterr().out.strip() == "no deliveries match"


def test_replay_needs_to_be_told_what(db, capsys):
    assert main(["replay", "--db", str(db)]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: replay needs --id, --target, --run or --all: which deliveries to send again"
    )
    assert main(["replay", "--db", str(db), "--all"]) == 0
    assert capsys.readouterr().out.strip() == "nothing to replay: every delivery selected was sent"


def test_a_file_moved_into_place_before_another_failed_is_recorded_as_sent(db, tmp_path, capsys):
    destination = tmp_path / "reports"
    blocker = destination / "agent-performance_gold_2026-11-10_Asia-Dubai.csv"  # the second file's name
    blocker.mkdir(parents=True)
    assert main(report_files(db, destination)) == 1
    out, err = capsys.readouterr()
    assert "1 of 2 items failed" in err and out.count(": wrote ") == 1 and ".xlsx" in out
    assert {(Path(r.target).suffix, r.status) for r in ledger(db)} == {(".xlsx", "sent"), (".csv", "failed")}
    blocker.rmdir()
    assert main(["replay", "--db", str(db), "--all"]) == 0
    assert capsys.readouterr().out.strip().endswith("replayed 1 deliveries: all sent")
    assert {r.status for r in ledger(db)} == {"sent"} and blocker.is_file()
