"""`ziwo-reports report`, run as users run it."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import golden
from ziwo_reports.warehouse import open_warehouse

CLI = [str(Path(sys.executable).with_name("ziwo-reports"))]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "w.duckdb"
    with open_warehouse(path) as warehouse:
        golden.load(warehouse)
    return path


def run(db, *args):
    base = [
        "report",
        "--db",
        str(db),
        "--instance",
        "gold",
        "--timezone",
        "Asia/Dubai",
        "--rolling-date",
        "custom",
        "--start",
        "2026-11-10",
        "--end",
        "2026-11-10",
        "--as-of",
        golden.AS_OF.isoformat(),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZIWO_")}
    return subprocess.run([*CLI, *base, *args], capture_output=True, text=True, env=env, timeout=60)


def test_a_readable_table_on_the_terminal(db):
    result = run(db)
    assert result.returncode == 0, result.stderr
    assert "agent-performance 2026-11-10T00:00:00+04:00 .. 2026-11-11T00:00:00+04:00" in result.stdout
    amal = next(line for line in result.stdout.splitlines() if "Amal A" in line)
    # offered, answered, missed, abandoned while ringing, outbound, handled; avg talk 2:30; AHT 3:17;
    # FCR 100%; CSAT 5.00
    assert [cell.strip() for cell in amal.split("│")[2:8]] == ["3", "2", "1", "0", "1", "3"]
    assert "2:30" in amal and "3:17" in amal and "100.0%" in amal and "5.00" in amal


def test_csv_and_json_carry_every_column(db, tmp_path):
    result = run(db, "--format", "csv", "--group-by", "team")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["group_name"], r["calls_handled"]) for r in rows] == [("Alpha", "6"), ("Beta", "2")]  # K12a: B, Alpha
    assert rows[0]["period_start"] == "2026-11-10T00:00:00+04:00" and rows[0]["timezone"] == "Asia/Dubai"
    out = tmp_path / "queues.json"
    written = run(db, "--report", "queue-performance", "--format", "json", "--out", str(out))
    assert written.returncode == 0 and str(out) in written.stdout
    document = json.loads(out.read_text())
    assert document["window"] == {"start": "2026-11-10T00:00:00+04:00", "end": "2026-11-11T00:00:00+04:00"}
    # Support: K3, K4, K11 and K14's second visit; Sales: K10
    assert {r["group_name"]: r["calls_abandoned"] for r in document["rows"]} == {"Support": 4, "Sales": 1}
    details = run(db, "--report", "call-details", "--format", "csv", "--tag", "vip")
    (leg,) = list(csv.DictReader(io.StringIO(details.stdout)))
    assert leg["call_id"] == "c1" and leg["tags"] == "vip" and leg["started_at_local"] == "2026-11-10T10:00:00+04:00"


def test_filters_reach_the_report(db):
    rows = list(
        csv.DictReader(io.StringIO(run(db, "--format", "csv", "--agent", "1,3", "--outcome", "successful").stdout))
    )
    assert {r["group_name"]: r["calls_handled"] for r in rows} == {"Amal A": "3", "Celia C": "2"}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--rolling-date", "last_n_days:0"], 1, "--rolling-date 'last_n_days:0': N must be at least 1"),
        (["--timezone", "Mars/Olympus"], 1, "--timezone 'Mars/Olympus' is neither an IANA time zone"),
        (["--end", "2026-11-01"], 1, "--end 2026-11-01 is before --start 2026-11-10"),
        (["--report", "agent-report"], 2, "argument --report: invalid choice: 'agent-report'"),
        (["--interval", "2h"], 2, "argument --interval: invalid choice: '2h'"),
        (["--agent", "one"], 2, "argument --agent: 'one' is not a comma-separated list of ids"),
        (["--outcome", "won"], 1, "--outcome 'won': Input should be 'answered'"),
        (
            ["--report", "queue-performance", "--group-by", "agent"],
            1,
            "--group-by 'agent': queue-performance groups by",
        ),
    ],
)
def test_bad_options_name_the_option_and_value(db, args, code, message):
    result = run(db, *args)
    assert result.returncode == code
    assert message in result.stderr


def test_a_missing_warehouse_is_named(tmp_path):
    result = run(tmp_path / "nowhere.duckdb")
    assert result.returncode == 1 and "no warehouse there" in result.stderr


def test_report_files_from_the_command_line(db, tmp_path):
    out = tmp_path / "files"
    result = run(
        db, "--files", "xlsx,csv", "--destination", str(out), "--template", "{instance}/{report}_{rolling_date}"
    )
    assert result.returncode == 0, result.stderr
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["gold/agent-performance_custom.csv", "gold/agent-performance_custom.xlsx"]
    assert "wrote" in result.stdout and "(xlsx," in result.stdout

    unknown = run(db, "--files", "csv", "--destination", str(out), "--template", "{report}_{team}")
    assert unknown.returncode == 1 and "--template '{report}_{team}': unknown field 'team'" in unknown.stderr
    bad = run(db, "--files", "xlsx,docx")
    assert bad.returncode == 2 and "'xlsx,docx': formats are xlsx, csv, parquet and json" in bad.stderr
