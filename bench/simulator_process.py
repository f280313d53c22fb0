"""The benchmarks' parts in processes of their own: the simulator, sized for N records, and the
workers whose peak memory is measured alone."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

LEGS_PER_CONTACT = 1.10  # a little under the simulator's mix (about 1.13), so N is reached
NOW = datetime(2026, 11, 20, 19, 59, 59, tzinfo=UTC)  # 23:59:59 in Dubai: the last day is complete
USERNAME, PASSWORD = "supervisor@simulator.ziwo.test", "simulator-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status_mib(field: str, pid: int | None) -> float:
    for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib(pid: int | None = None) -> float:
    """Peak resident memory of this process, or of process `pid` (VmHWM: ru_maxrss would carry
    the parent's peak over exec into a worker process)."""
    return _status_mib("VmHWM", pid)


def current_rss_mib(pid: int | None = None) -> float:
    """Resident memory now, of this process or of process `pid`."""
    return _status_mib("VmRSS", pid)


def start_simulator(records: int, days: int, port: int, *extra: str) -> subprocess.Popen:
    """`ziwo-reports simulator` serving about `records` legs over `days` days; returns once it answers."""
    cli = str(Path(sys.executable).with_name("ziwo-reports"))
    calls_per_day = round(records / days / LEGS_PER_CONTACT)
    command = [cli, "simulator", "--port", str(port), "--days", str(days), "--calls-per-day", str(calls_per_day)]
    command += ["--now", NOW.isoformat(), *extra]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/_simulator/info", timeout=1)
            return process
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("simulator did not start")


def run_worker(command: list[str], name: str, env: dict[str, str] | None = None) -> dict:
    """Run one part of a benchmark in its own process; its result is the JSON on its last line."""
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
