"""Shared fixtures: the Ziwo simulator on loopback, tiny real HTTP receivers, one Prefect API."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

# Keep Prefect's files out of the user's home, before anything imports Prefect.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="ziwo-reports-prefect-"))

from ziwo_reports import redaction
from ziwo_reports.connectors.ziwo import ZiwoSettings
from ziwo_reports.connectors.ziwo.simulator import SimConfig, Simulator
from ziwo_reports.http import HttpPolicy

redaction.install()

#: A fixed "now" so every run sees the same days.
NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)

#: Fast retries for tests: no real waiting, more attempts than a fault rate can exhaust.
FAST = HttpPolicy(connect_timeout=2, read_timeout=5, attempts=8, backoff_base=0.001, backoff_max=0.01)


@pytest.fixture
def simulator() -> Iterator[Callable[..., Simulator]]:
    """Start simulators with `simulator(days=3, faults="flaky", ...)`; all stop after the test."""
    started: list[Simulator] = []

    def start(**overrides: Any) -> Simulator:
        options: dict[str, Any] = {
            "now": NOW,
            "days": 3,
            "calls_per_day": 400,
            "slow_seconds": 0.05,
            "retry_after": 0,
        }
        options.update(overrides)
        sim = Simulator(SimConfig(**options)).start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


def settings_for(sim: Simulator, **overrides: Any) -> ZiwoSettings:
    options: dict[str, Any] = {
        "base_url": sim.base_url,
        "username": sim.config.username,
        "password": sim.config.password,
        "page_size": 100,
        "http": FAST,
    }
    options.update(overrides)
    return ZiwoSettings(**options)


@dataclass
class Exchange:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A real HTTP server whose answers come from a Python function, and which records requests."""

    base_url: str
    requests: list[Exchange] = field(default_factory=list)


@contextmanager
def http_receiver(
    respond: Callable[[Exchange], tuple[int, dict[str, str], bytes] | None],
) -> Iterator[Receiver]:
    """`respond` returns (status, headers, body), or None to drop the connection unanswered."""
    receiver = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

        def log_message(self, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            exchange = Exchange(self.command, self.path, dict(self.headers), self.rfile.read(length))
            receiver.requests.append(exchange)
            answer = respond(exchange)
            if answer is None:
                self.close_connection = True
                return
            status, headers, body = answer
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _serve

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[Any]:
    """A real HTTP receiver on loopback (tests/receivers.py), stopped after the test."""
    from tests.receivers import Receiver

    with Receiver() as receiving:
        yield receiving


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """One real Prefect API (temporary database) for the whole session, started on first use."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def golden_db(tmp_path: Any) -> Any:
    """The golden day (tests/golden.py) in a warehouse file, closed: code under test opens it as a command would."""
    from tests import golden
    from ziwo_reports.warehouse import open_warehouse

    path = tmp_path / "ziwo.duckdb"
    with open_warehouse(path) as warehouse:
        golden.load(warehouse)
    return path


@pytest.fixture
def work_pool(prefect_api: None) -> str:
    """The process work pool `ziwo-reports` on the session's Prefect API, where deployments go."""
    from contextlib import suppress

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client, suppress(ObjectAlreadyExists):
        client.create_work_pool(WorkPoolCreate(name="ziwo-reports", type="process"))
    return "ziwo-reports"


@pytest.fixture
def warehouse(tmp_path: Any) -> Iterator[Any]:
    """A new warehouse file of the test's own (modules with a shared one define their own)."""
    from ziwo_reports.warehouse import open_warehouse

    with open_warehouse(tmp_path / "ziwo.duckdb") as wh:
        yield wh


def run_ingest(sim: Simulator, warehouse: Any, instance: str = "sim", **options: Any) -> Any:
    """One ingest of a simulator into a warehouse, at the simulator's "now"."""
    from ziwo_reports.connectors.ziwo import ZiwoClient
    from ziwo_reports.ingest import IngestOptions, ingest

    hooks = {k: options.pop(k) for k in ("before_commit", "on_progress") if k in options}
    options.setdefault("initial_days", sim.config.days)
    instance_settings = {k: options.pop(k) for k in ("country_code",) if k in options}
    settings = settings_for(sim, instance=instance, timezone=sim.config.timezone, **instance_settings)
    with ZiwoClient(settings) as client:
        return ingest(warehouse, client, IngestOptions(**options), now=sim.store.world.now, **hooks)
