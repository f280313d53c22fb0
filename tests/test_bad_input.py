"""Bad input gets one line, `error: ...`, naming the option and its value; a non-zero exit, no
traceback, and nothing created or changed on disk (issue 10, section 5). The command line runs
in-process (`ziwo_reports.cli.main`), or as a process where a traceback or the order of a bind and
a banner must be seen."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.conftest import NOW, run_ingest, settings_for
from ziwo_reports.cli import main
from ziwo_reports.connectors.files import write as file_writers
from ziwo_reports.connectors.ziwo import ZiwoClient
from ziwo_reports.connectors.ziwo.simulator import SimConfig, Simulator
from ziwo_reports.connectors.ziwo.simulator.world import LIMITS
from ziwo_reports.ingest import IngestOptions
from ziwo_reports.pull import pull_to_jsonl
from ziwo_reports.report_model import MetricSettings, ReportFilters, ReportSpecError, make_spec
from ziwo_reports.timewindows import MAX_INTERVALS, Window, interval_count, intervals, parse_timezone
from ziwo_reports.warehouse import open_warehouse

CLI = [str(Path(sys.executable).with_name("ziwo-reports"))]
BEYOND_64_BITS = str(2**64)


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    """A warehouse with one simulated day of instance 'sim' (the simulator fixture's settings,
    started once for the module so that the tests stay fast)."""
    path = tmp_path_factory.mktemp("warehouse") / "ziwo.duckdb"
    sim = Simulator(SimConfig(now=NOW, days=1, calls_per_day=100, slow_seconds=0.05, retry_after=0)).start()
    try:
        with open_warehouse(path) as warehouse:
            run_ingest(sim, warehouse)
    finally:
        sim.stop()
    return path


def state(*folders: Path) -> dict[str, tuple[int, int]]:
    """Every file under the folders with its size and modification time; folders by name."""
    seen = {}
    for folder in folders:
        for path in [folder, *folder.rglob("*")]:
            info = path.lstat()
            seen[str(path)] = (info.st_size, info.st_mtime_ns) if path.is_file() else (-1, 0)
    return seen


@pytest.fixture
def refused(capsys, tmp_path, monkeypatch, db):
    """Run the command line in the test's folder; check that it refused in one line naming
    `expected`, and that nothing changed in that folder or the warehouse's."""
    monkeypatch.chdir(tmp_path)
    for name in [name for name in os.environ if name.startswith("ZIWO_")]:
        monkeypatch.delenv(name)

    def run(argv: list[str], *expected: str, unchanged: bool = True) -> str:
        before = state(tmp_path, db.parent)
        try:
            code = main(argv)
        except SystemExit as exit:  # argparse
            code = exit.code
        out, err = capsys.readouterr()
        assert code not in (0, None), out
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert "Traceback" not in err
        for text in expected:
            assert text in lines[0], (text, lines[0])
        if unchanged:
            assert state(tmp_path, db.parent) == before
        return lines[0]

    return run


def report(db: Path, *args: str) -> list[str]:
    return ["report", "--db", str(db), "--instance", "sim", "--as-of", NOW.isoformat(), *args]


# 1 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--start", "2026-11-18"], "--start 2026-11-18: only with --rolling-date 'custom'"),
        (["--start", "2026-11-18", "--end", "2026-11-19"], "--start 2026-11-18 and --end 2026-11-19: only with"),
        (["--rolling-date", "last_week", "--end", "2026-11-19"], "not with --rolling-date 'last_week'"),
    ],
)
def test_start_and_end_need_a_custom_rolling_date(refused, db, args, expected):
    refused(report(db, *args), expected)
    with pytest.raises(ReportSpecError, match="only with rolling_date 'custom'"):  # the flows' model too
        make_spec(rolling_date="yesterday", start=date(2026, 11, 18))


# 2 ------------------------------------------------------------------------------------------


def test_an_instance_the_warehouse_does_not_hold_is_named_with_those_it_holds(refused, db):
    argv = report(db)
    argv[argv.index("sim")] = "typo"
    refused(argv, "--instance 'typo': the warehouse holds no such instance; it holds 'sim'")


# 3 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--files", "csv", "--format", "json", "--out", "y.json"], "--files 'csv' conflicts with --format 'json'"),
        (["--files", "xlsx,csv", "--out", "y.json"], "--files 'xlsx,csv' conflicts with --out 'y.json'"),
        (["--destination", "elsewhere"], "--destination 'elsewhere': only with --files"),
        (["--template", "{report}"], "--template '{report}': only with --files"),
    ],
)
def test_report_files_and_format_or_out_conflict(refused, db, args, expected):
    refused(report(db, *args), expected)


# 4 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["ingest", "--lookback", "99999999999d"], "argument --lookback: '99999999999d' is longer than 366 days"),
        (["ingest", "--lookback", "9" * 400 + "h"], "is longer than 366 days"),
        (["ingest", "--lookback", "367d"], "argument --lookback: '367d' is longer than 366 days"),
        (["report", "--fcr-window", "99999999999d"], "argument --fcr-window: '99999999999d' is longer than 366"),
    ],
)
def test_durations_are_bounded(refused, db, argv, expected):
    refused([*argv, "--db", str(db)], expected)
    with pytest.raises(ValueError, match="longer than 366 days"):
        IngestOptions(lookback=timedelta(days=367))
    with pytest.raises(ValidationError, match="longer than 366 days"):
        MetricSettings(fcr_window=timedelta(days=367))


# 5 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "bound"),
    [
        ("--min-duration", BEYOND_64_BITS, "31622400"),
        ("--agent", f"2001,{BEYOND_64_BITS}", "9223372036854775807"),
        ("--team", BEYOND_64_BITS, "9223372036854775807"),
        ("--queue", "99999999999999999999", "9223372036854775807"),
        ("--short-abandon", BEYOND_64_BITS, "31622400"),
        ("--service-level", BEYOND_64_BITS, "31622400"),
    ],
)
def test_numbers_beyond_64_bits_are_refused_by_the_models(refused, db, option, value, bound):
    line = refused(report(db, option, value), f"{option} {value.split(',')[-1]}: ", bound)
    assert "SELECT" not in line and "Conversion" not in line  # not DuckDB's error
    field = {"--agent": "agent_ids", "--team": "team_ids", "--queue": "queue_ids", "--min-duration": "min_duration_s"}
    if option in field:
        with pytest.raises(ValidationError, match="less than or equal to"):
            ReportFilters(**{field[option]: [2**64] if option != "--min-duration" else 2**64})
    else:
        with pytest.raises(ValidationError, match="less than or equal to"):
            MetricSettings(**{option.removeprefix("--").replace("-", "_") + "_s": 2**64})


# 6 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("days", ["99999999999", "99999", "3661", "9" * 5000])
def test_last_n_days_is_bounded(refused, db, days):
    refused(report(db, "--rolling-date", f"last_n_days:{days}"), f"--rolling-date 'last_n_days:{days[:20]}", "3660")


# 7 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["report", "--as-of", "9999-12-31T23:59+00:00"], "argument --as-of: '9999-12-31T23:59+00:00' is outside"),
        (
            ["report", "--rolling-date", "custom", "--start", "0001-01-01", "--end", "2026-11-01"],
            "argument --start: '0001-01-01' is outside",
        ),
        (
            ["report", "--rolling-date", "custom", "--start", "2026-01-01", "--end", "2101-01-01"],
            "argument --end: '2101-01-01' is outside",
        ),
        (["ingest", "--initial-days", "99999999"], "argument --initial-days: '99999999' is more than 3660 days"),
        (["ingest", "--from", "1999-12-31"], "argument --from: '1999-12-31' is outside the years 2000 to 2100"),
        (["ingest", "--to", "9999-12-31"], "argument --to: '9999-12-31' is outside the years 2000 to 2100"),
        (["pull", "--from", "9999-12-31"], "argument --from: '9999-12-31' is outside the years 2000 to 2100"),
        (["simulator", "--now", "9999-12-31T00:00+14:00"], "argument --now: '9999-12-31T00:00+14:00' is outside"),
    ],
)
def test_dates_out_of_range_are_refused_before_any_date_arithmetic(refused, db, argv, expected):
    refused([*argv, *(["--db", str(db)] if argv[0] != "pull" and argv[0] != "simulator" else [])], expected)


def test_the_models_bound_dates_too():
    far = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    with pytest.raises(ReportSpecError, match="as_of 9999-12-31T23:59:00"):
        make_spec(as_of=far)
    with pytest.raises(ValueError, match="first_day 9999-12-31 is outside the years 2000 to 2100"):
        IngestOptions(first_day=far.date())
    with pytest.raises(ValueError, match="initial_days 99999 is not between 1 and 3660"):
        IngestOptions(initial_days=99999)
    with pytest.raises(ValueError, match="now 9999-12-31T23:59:00"):
        SimConfig(now=far)


# 8 ------------------------------------------------------------------------------------------


def test_output_paths_that_cannot_be_files_are_named_up_front(refused, db, tmp_path):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    long = "x" * 300
    refused(report(db, "--format", "csv", "--out", str(folder)), f"--out '{folder}': is a folder")
    refused(report(db, "--format", "csv", "--out", f"{a_file}/r.csv"), f"{a_file} is a file, not a folder")
    refused(report(db, "--format", "csv", "--out", f"{long}.csv"), "--out 'xxx", "304 bytes long", "255 bytes")
    refused(report(db, "--files", "csv", "--destination", str(a_file)), f"--destination '{a_file}': ", "not a folder")
    refused(report(db, "--files", "csv", "--destination", f"{long}/x"), "--destination 'xxx", "300 bytes long")
    refused(report(db, "--files", "csv", "--template", long), f"--template '{long}': ", "304 bytes long")
    # a long instance name or zone makes the default template's names too long: named too
    refused(
        report(db, "--files", "csv", "--template", "{report}_" + "é" * 120),  # 2 bytes each
        "--template '{report}_ééé",
        "262 bytes long",
    )
    refused(["pull", "--from", "2026-11-19", "--out", str(folder)], f"--out '{folder}': is a folder")
    # the records file's name fits, its rejects file's would not
    refused(["pull", "--from", "2026-11-19", "--out", "p" * 250], "its rejects file", "264 bytes long")


def test_names_up_to_the_limit_are_written_whatever_their_temporary_names(capsys, db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / ("a" * 251 + ".csv")  # 255 bytes: the most a name may have
    assert main(report(db, "--format", "csv", "--out", str(out))) == 0
    assert main(report(db, "--files", "csv,json", "--destination", "files", "--template", "y" * 249)) == 0
    capsys.readouterr()
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [
        out.name,
        "y" * 249 + ".csv",
        "y" * 249 + ".json",
    ]


# 9 ------------------------------------------------------------------------------------------


def test_the_simulator_binds_before_its_banner_and_names_the_port_it_cannot_have():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZIWO_")}
        result = subprocess.run(
            [*CLI, "simulator", "--port", str(port), "--days", "1", "--now", NOW.isoformat()],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stdout == ""  # no banner for a server that never listened
    assert result.stderr.splitlines() == [
        f"error: --host 127.0.0.1 --port {port}: cannot listen there: Address already in use"
    ]


@pytest.mark.parametrize(
    ("option", "value", "field"),
    [
        ("--retry-after", "-5", "retry_after"),
        ("--slow-seconds", "inf", "slow_seconds"),
        ("--slow-seconds", "nan", "slow_seconds"),
        ("--token-ttl", "0", "token_ttl"),
        ("--fault-rate", "1.5", "fault_rate"),
        ("--bad-record-rate", "-0.1", "bad_record_rate"),
        ("--days", "99999", "days"),
        ("--agents", "3", "agents"),
        ("--calls-per-day", "-1", "calls_per_day"),
        ("--max-page-size", "0", "max_page_size"),
        ("--cache-days", "1", "cache_days"),
        ("--seed", BEYOND_64_BITS, "seed"),
    ],
)
def test_every_numeric_simulator_option_is_checked_on_the_command_line_and_in_simconfig(refused, option, value, field):
    refused(["simulator", option, value], f"argument {option}: '{value}' is out of range")
    refused(["demo", option, value, "--out-dir", "never"], f"argument {option}: '{value}' is out of range")
    with pytest.raises(ValueError, match=f"{field} .* is out of range"):
        SimConfig(**{field: (int if isinstance(LIMITS[field][0], int) else float)(value)})


def test_the_simulator_port_is_checked(refused):
    refused(["simulator", "--port", "70000"], "argument --port: '70000' is not a port number")


# 10 -----------------------------------------------------------------------------------------


def test_a_failed_pull_leaves_no_rejects_file(refused, tmp_path):
    folder = tmp_path / "calls"
    folder.mkdir()
    refused(["pull", "--from", "2026-11-19", "--instance", "acme", "--out", str(folder)], "--out")
    assert not (tmp_path / "calls.rejects.jsonl").exists()


@pytest.mark.parametrize("in_the_way", ["calls.jsonl", "calls.rejects.jsonl"])
def test_records_and_rejects_are_moved_into_place_together(simulator, tmp_path, in_the_way):
    """A real pull whose records or rejects file cannot be put in place (a folder took its name
    after the command's checks): neither file appears, a file moved already is put back as it was,
    and no temporary file is left."""
    sim = simulator(days=1, calls_per_day=50, faults="hostile", fault_rate=0.0, bad_record_rate=0.2)
    out, rejects = tmp_path / "calls.jsonl", tmp_path / "calls.rejects.jsonl"
    for path in (out, rejects):
        path.write_text(f"yesterday's {path.name}\n")
    (tmp_path / in_the_way).unlink()
    (tmp_path / in_the_way / "in-the-way").mkdir(parents=True)  # os.replace onto it fails
    before = state(tmp_path)
    with ZiwoClient(settings_for(sim)) as client, pytest.raises(IsADirectoryError):
        pull_to_jsonl(client, sim.last_day, sim.last_day, out)
    assert state(tmp_path) == before
    kept = out if in_the_way == rejects.name else rejects
    assert kept.read_text() == f"yesterday's {kept.name}\n"

    shutil.rmtree(tmp_path / in_the_way)
    with ZiwoClient(settings_for(sim)) as client:
        result = pull_to_jsonl(client, sim.last_day, sim.last_day, out)
    assert result.stats.records > 0 and result.stats.rejects > 0
    assert len(out.read_text().splitlines()) == result.stats.records
    assert len(rejects.read_text().splitlines()) == result.stats.rejects
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calls.jsonl", "calls.rejects.jsonl"]


# 11 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--rolling-date", "last_n_days:3660", "--interval", "15m"], "makes 351,360 periods, more than the 35,136"),
        (
            ["--rolling-date", "custom", "--start", "2000-01-01", "--end", "2100-12-31", "--interval", "day"],
            "makes 36,890 periods",
        ),
        (["--rolling-date", "last_n_days:1500", "--interval", "hour"], "makes 36,000 periods"),
    ],
)
def test_too_many_intervals_are_refused_up_front_with_the_count(refused, db, args, expected):
    refused(report(db, *args), f"--interval '{args[-1]}' over a window of", expected)


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kathmandu", "UTC-12:00"])
@pytest.mark.parametrize("interval", ["none", "15m", "30m", "hour", "day", "week", "month"])
def test_interval_counts_match_the_intervals(zone, interval):
    report_zone = parse_timezone(zone)
    starts = [datetime(2026, 3, 7, 13, 5, tzinfo=UTC), datetime(2026, 10, 31, tzinfo=UTC), NOW]
    for start in starts:
        for length in (timedelta(0), timedelta(minutes=7), timedelta(days=1), timedelta(days=45, hours=5)):
            window = Window(start, start + length)
            for week_start in ("monday", "sunday"):
                made = list(intervals(window, interval, report_zone, week_start=week_start))
                assert interval_count(window, interval, report_zone, week_start=week_start) == len(made)
    assert MAX_INTERVALS == 366 * 96


# 12 -----------------------------------------------------------------------------------------


def test_a_format_that_fails_leaves_the_destination_as_it_was(refused, capsys, db, tmp_path, monkeypatch):
    files = ["--files", "xlsx,csv,json", "--destination", str(tmp_path / "out")]
    assert main(report(db, *files)) == 0  # the files of an earlier run
    capsys.readouterr()
    earlier = state(tmp_path / "out")

    def full_disk(report, file, options, generated_at) -> None:
        file.write(b'{"rows": [')
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setitem(file_writers.WRITERS, "json", full_disk)  # the last format: xlsx and csv are written
    refused(
        report(db, *files),
        "--files 'xlsx,csv,json': file delivery 'file': 3 of 3 items failed:",
        "[Errno 28] No space left on device; recorded in the ledger as",
        unchanged=False,  # the warehouse's ledger records the failure, for `replay`
    )
    assert state(tmp_path / "out") == earlier


def test_a_move_that_fails_midway_lists_the_files_already_in_place(refused, db, tmp_path, monkeypatch):
    out = tmp_path / "out"
    write_json = file_writers.WRITERS["json"]

    def then_a_folder_takes_the_name(report, file, options, generated_at) -> None:
        write_json(report, file, options, generated_at)
        (out / "agent-performance.json" / "in-the-way").mkdir(parents=True)

    monkeypatch.setitem(file_writers.WRITERS, "json", then_a_folder_takes_the_name)
    line = refused(
        report(db, "--files", "xlsx,csv,json", "--destination", str(out), "--template", "{report}"),
        "--files 'xlsx,csv,json': file delivery 'file': 1 of 3 items failed:",
        f"{out / 'agent-performance.json'} was not written",
        f"already in place: {out / 'agent-performance.xlsx'}, {out / 'agent-performance.csv'}",
        unchanged=False,
    )
    assert "Is a directory" in line
    assert sorted(p.name for p in out.iterdir()) == [
        "agent-performance.csv",
        "agent-performance.json",
        "agent-performance.xlsx",
    ]  # no temporary file left


# 13 -----------------------------------------------------------------------------------------


def test_default_file_names_keep_zones_and_periods_apart(capsys, db, tmp_path):
    out = tmp_path / "out"
    runs = [
        ["--timezone", "Asia/Dubai", "--rolling-date", "custom", "--start", "2026-11-16", "--end", "2026-11-16"],
        ["--timezone", "UTC", "--rolling-date", "custom", "--start", "2026-11-16", "--end", "2026-11-16"],
        ["--timezone", "UTC-12:00", "--rolling-date", "custom", "--start", "2026-11-16", "--end", "2026-11-16"],
        ["--timezone", "Asia/Dubai", "--rolling-date", "custom", "--start", "2026-11-16", "--end", "2026-11-22"],
    ]
    for args in runs:
        assert main(report(db, *args, "--files", "csv", "--destination", str(out))) == 0
    capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == [
        "agent-performance_sim_2026-11-16--2026-11-22_Asia-Dubai.csv",
        "agent-performance_sim_2026-11-16_Asia-Dubai.csv",
        "agent-performance_sim_2026-11-16_UTC-12-00.csv",
        "agent-performance_sim_2026-11-16_UTC.csv",
    ]
