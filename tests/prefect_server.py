"""Real Prefect servers and terminals for the integration tests: a free port, processes started in
their own session and stopped with everything they started, and waiting with the logs on failure."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """The processes below `pid`, children first, from /proc."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, queue = [], [pid]
    while queue:
        for child in parents.get(queue.pop(0), []):
            found.append(child)
            queue.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def stop(processes: list[subprocess.Popen]) -> None:
    """Terminate the processes this test started and every process they started, then kill what is left."""
    pids = [pid for process in processes for pid in (process.pid, *descendants(process.pid))]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 8
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        for process in processes:
            process.poll()
        time.sleep(0.2)
    for pid in pids:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for process in processes:
        process.wait(timeout=30)


def open_terminal(script: str, env: dict[str, str], log: Path, typed: str = "") -> subprocess.Popen:
    """A terminal running `script` from the checkout, with `typed` as its input, its output in `log`."""
    with log.open("w") as output:
        terminal = subprocess.Popen(
            ["bash", "-e", "-c", script], cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=output,
            stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
    assert terminal.stdin is not None
    terminal.stdin.write(typed)
    terminal.stdin.close()
    return terminal


def wait_for(what: str, check, deadline: float, watched: list[subprocess.Popen], logs: list[Path]):
    """Poll `check` until it returns a value; fail naming `what` when time is up or a terminal ended."""
    while True:
        value = check()
        if value:
            return value
        ended = [process for process in watched if process.poll() is not None]
        if ended or time.monotonic() > deadline:
            output = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs if log.exists())
            pytest.fail(f"{what}: {'a terminal ended' if ended else 'timed out'}\n{output}")
        time.sleep(0.5)


def healthy(api: str) -> bool:
    """Whether the Prefect API at `api` answers its health check."""
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
