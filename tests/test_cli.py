"""The `ziwo-reports` command line, run as users run it: a separate process."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import NOW

#: The installed console script, as users run it.
CLI = [str(Path(sys.executable).with_name("ziwo-reports"))]


def run(args, env_extra=None, timeout=120):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZIWO_")}
    env.update({"ZIWO_REPORTS_HTTP_BACKOFF_BASE": "0.001", "ZIWO_REPORTS_HTTP_ATTEMPTS": "8"})
    env.update(env_extra or {})
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=timeout)


def test_pull_writes_records_and_rejects_and_prints_one_summary_line(simulator, tmp_path):
    sim = simulator(faults="hostile", fault_rate=0.2, bad_record_rate=0.02, days=3, calls_per_day=300)
    out = tmp_path / "calls.jsonl"
    env = {
        "ZIWO_BASE_URL": sim.base_url,
        "ZIWO_USERNAME": sim.config.username,
        "ZIWO_PASSWORD": sim.config.password,
    }
    result = run(
        [
            "pull",
            "--from",
            str(sim.first_day),
            "--to",
            str(sim.last_day),
            "--out",
            str(out),
            "--page-size",
            "80",
        ],
        env,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    summary = re.search(r"(\d+) records, (\d+) rejects, (\d+) pages, (\d+) retries, (\d+) re-logins", lines[0])
    assert summary, lines[0]
    records, rejects, pages, retries, relogins = map(int, summary.groups())

    truth = sim.truth()
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert records == len(written) == len(truth.calls)
    assert {r["callID"] for r in written} == truth.calls
    rejected = [json.loads(line) for line in (tmp_path / "calls.rejects.jsonl").read_text().splitlines()]
    assert rejects == len(rejected) == len(truth.bad)
    assert {r["record"]["id"]: r["reason"] for r in rejected} == truth.bad
    assert all(r["detail"] and r["day"] for r in rejected)
    assert pages > 0 and retries > 0 and relogins > 0
    for secret in [sim.config.password, *sim.issued_tokens]:
        assert secret not in result.stdout + result.stderr
        assert secret not in out.read_text()


def test_pull_options_override_the_environment(simulator, tmp_path):
    sim = simulator(days=1, calls_per_day=100)
    env = {"ZIWO_INSTANCE": "acme", "ZIWO_USERNAME": "nobody@acme.ae", "ZIWO_PASSWORD": "wrong-password-1"}
    args = [
        "pull",
        "--base-url",
        sim.base_url,
        "--username",
        sim.config.username,
        "--from",
        str(sim.last_day),
    ]
    result = run([*args, "--out", str(tmp_path / "x.jsonl")], {**env, "ZIWO_PASSWORD": sim.config.password})
    assert result.returncode == 0, result.stderr
    failed = run([*args, "--out", str(tmp_path / "y.jsonl")], env)
    assert failed.returncode == 1
    assert "HTTP 401 Invalid username or password" in failed.stderr
    assert "wrong-password-1" not in failed.stderr
    assert not (tmp_path / "y.jsonl").exists()  # no partial output after a failure


@pytest.mark.parametrize(
    ("args", "env", "code", "message"),
    [
        (
            ["pull", "--from", "2026-13-01"],
            {},
            2,
            "argument --from: '2026-13-01' is not a date as YYYY-MM-DD",
        ),
        (
            [
                "pull",
                "--from",
                "2026-11-02",
                "--to",
                "2026-11-01",
                "--instance",
                "acme",
                "--access-token",
                "t",
            ],
            {},
            1,
            "--to 2026-11-01 is before --from 2026-11-02",
        ),
        (
            ["pull", "--from", "2026-11-01"],
            {},
            1,
            "no Ziwo instance given: set ZIWO_INSTANCE or ZIWO_BASE_URL",
        ),
        (
            ["pull", "--from", "2026-11-01", "--instance", "acme.com"],
            {},
            1,
            "instance 'acme.com' is not a Ziwo instance name",
        ),
        (["pull", "--from", "2026-11-01"], {"ZIWO_INSTANCE": "acme"}, 1, "username and password not set"),
        (
            ["pull", "--from", "2026-11-01", "--page-size", "0"],
            {},
            2,
            "argument --page-size: '0' must be at least 1",
        ),
        (
            ["simulator", "--timezone", "Mars/Base"],
            {},
            1,
            "timezone 'Mars/Base' is not an IANA time zone name",
        ),
        (["simulator", "--faults", "evil"], {}, 2, "argument --faults: invalid choice: 'evil'"),
        (["simulator", "--now", "2026-11-20T10:00"], {}, 2, "needs a UTC offset"),
    ],
)
def test_bad_options_fail_with_a_message_naming_option_and_value(args, env, code, message):
    result = run(args, env)
    assert result.returncode == code
    assert message in result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_simulator_command_serves_until_stopped():
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZIWO_")}
    args = [
        "simulator",
        "--port",
        str(port),
        "--days",
        "2",
        "--calls-per-day",
        "100",
        "--now",
        NOW.isoformat(),
        "--username",
        "me@acme.ae",
        "--password",
        "pw-of-the-sim",
    ]
    process = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        banner = process.stdout.readline()
        assert f"http://127.0.0.1:{port}" in banner and "me@acme.ae" in banner
        assert "pw-of-the-sim" not in banner
        deadline = time.monotonic() + 10
        while True:
            try:
                response = requests.post(
                    f"http://127.0.0.1:{port}/auth/login",
                    json={"username": "me@acme.ae", "password": "pw-of-the-sim"},
                    timeout=2,
                )
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert response.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_demo_ingests_into_the_warehouse_and_checks_it_against_the_ground_truth(tmp_path):
    args = ["demo", "--out-dir", str(tmp_path), "--days", "3", "--calls-per-day", "300", "--slow-seconds", "0.01"]
    args += ["--now", NOW.isoformat()]  # the same simulated days each time: the workflows' counts are known > 0
    result = run([*args, "--faults", "hostile", "--fault-rate", "0.1", "--bad-record-rate", "0.02"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    first = next(line for line in lines if line.startswith("first run: ingested simulator"))
    again = next(line for line in lines if line.startswith("next run: ingested simulator"))
    new = int(re.search(r"(\d+) new", first).group(1))
    assert new > 0 and " 0 new, 0 updated" in again
    check = re.search(
        r"(\d+) calls served, (\d+) in the warehouse, 0 missing, 0 extra; (\d+) malformed served, (\d+) in",
        result.stdout,
    )
    assert check, result.stdout
    served, held, bad, quarantined = map(int, check.groups())
    assert served == held == new and bad == quarantined > 0
    assert (tmp_path / "ziwo.duckdb").exists()
    # yesterday's agent performance: its totals, and the workbook and CSV it wrote
    assert re.search(r"^totals: Calls offered [\d,]+, .*Average handle time \(AHT\) \d+:\d\d", result.stdout, re.M)
    files = sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".xlsx", ".csv") and "UTC-12-00" in p.name)
    assert [Path(name).suffix for name in files] == [".csv", ".xlsx"]
    assert all(name.startswith("agent-performance_simulator_") for name in files)
    assert all(f"wrote {tmp_path / name} (" in result.stdout for name in files)
    _check_demo_workflows(result.stdout, tmp_path)


def _section(stdout: str, workflow: str) -> str:
    """The demo's lines about one workflow's run (its last mention), up to the next workflow or the end."""
    return stdout.rsplit(f"\nworkflow {workflow}, ", 1)[1].split("\n\n", 1)[0]


def _check_demo_workflows(stdout: str, out_dir: Path) -> None:
    """The demo's two example workflows: what each said it sent is what its receiver verified and
    counted, and the long complaint calls are the warehouse's own (plain SQL, not the conditions' code)."""
    import duckdb

    assert "set up before the first ingest: nothing sent: no new calls; its cursor is at ingest run 0" in stdout
    report = _section(stdout, "daily-agent-report")
    assert re.search(r"^  kept (\d+) of \1 rows \(conditions: none\)$", report, re.M), report
    assert "  file shared-folder: 1 of 1 items sent" in report
    (workbook,) = out_dir.glob("agent-performance_simulator_*_Asia-Dubai.xlsx")
    assert f"    wrote {workbook} (xlsx, " in report
    assert "  webhook ops-dashboard: 1 of 1 items sent" in report
    assert "receiver got 1 message (types: 1 report.ready), 1 distinct id, signatures verified 1 of 1" in report

    with duckdb.connect(str(out_dir / "ziwo.duckdb"), read_only=True) as connection:
        completed = dict(
            connection.execute(
                "SELECT call_id, duration_s > 600 AND list_contains(tags, 'complaint') FROM calls "
                "WHERE instance = 'simulator' AND ended_at IS NOT NULL"
            ).fetchall()
        )
    expected = {call_id for call_id, long_complaint in completed.items() if long_complaint}
    calls = _section(stdout, "long-complaint-calls")
    kept = re.search(r"^  kept (\d+) of (\d+) calls \(conditions: (.*)\)$", calls, re.M)
    assert kept, calls
    assert (int(kept.group(1)), int(kept.group(2))) == (len(expected), len(completed))
    assert kept.group(3) == 'duration_s > 600 and tags contains "complaint"'
    n = len(expected)
    assert n > 0
    assert f"  webhook quality-team: {n} of {n} items sent" in calls
    assert (
        f"receiver got {n} messages (types: {n} acme.call.complaint), {n} distinct ids, "
        f"signatures verified {n} of {n}; e.g. call "
    ) in calls
    shown = re.findall(r"call ([0-9a-f-]{36}) \((\d+) s, ([^)]*)\)", calls)
    assert len(shown) == 2 and len({call_id for call_id, *_ in shown}) == 2
    assert all(call_id in expected and int(seconds) > 600 and "complaint" in tags for call_id, seconds, tags in shown)
    assert "  cursor at ingest run 2" in calls


def test_the_command_line_starts_without_prefect_or_great_expectations():
    code = (
        "import sys, ziwo_reports.cli, ziwo_reports.ingest, ziwo_reports.connectors.ziwo; "
        "heavy = [m for m in ('prefect', 'great_expectations', 'pandas') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
