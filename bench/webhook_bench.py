"""Webhook benchmark: a 10,000-row call-details report delivered as one signed message per row
(mode row) to a loopback receiver that answers each in 20 ms, through `deliver_report` with a real
DuckDB ledger. Deliveries per second with the default concurrency (8) and with 16, 32 and 64,
against a plain sequential `requests.post` loop over the same messages in the same run (on a
sample, extrapolated). Target: at least 10x the sequential loop, the ledger exact.

    .venv/bin/python bench/webhook_bench.py
    .venv/bin/python bench/webhook_bench.py --rows 2000 --sample 200 --concurrency 8 64

The receiver (tests/receivers.py, verifying every signature with `standardwebhooks`) runs in a
process of its own, so it does not share the sender's interpreter lock. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ziwo_reports.report_model import Report

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "whsec_" + base64.b64encode(b"benchmark-signing-key-32-bytes!!").decode()
DELAY = 0.02
AS_OF = datetime(2026, 11, 12, 12, 0, tzinfo=UTC)


def serve() -> None:
    """The receiver process: answers every path in 20 ms, verifying signatures; on stdin
    `count <path>` prints the requests and distinct accepted ids there, `verify <path>` tells it to check."""
    from tests.receivers import Receiver

    with Receiver() as receiver:
        receiver.server.socket.listen(512)  # many connections at once: a backlog of 5 would drop SYNs
        print(receiver.port, flush=True)
        for line in sys.stdin:
            command, path = line.split()
            if command == "verify":
                receiver.verify(path, [SECRET])
                receiver.slow(path, DELAY)
                print("ok", flush=True)
            elif command == "count":
                received = receiver.requests(path)
                unverified = sum(1 for r in received if r.verified is False)
                print(len(received), len(receiver.events(path)), unverified, flush=True)


class ReceiverProcess:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        self.port = int(self.ask(None))

    def ask(self, line: str | None) -> str:
        if line is not None:
            self.process.stdin.write(line + "\n")  # type: ignore[union-attr]
            self.process.stdin.flush()  # type: ignore[union-attr]
        return self.process.stdout.readline().strip()  # type: ignore[union-attr]

    def path(self, path: str) -> str:
        self.ask(f"verify {path}")
        return f"http://127.0.0.1:{self.port}{path}"

    def count(self, path: str) -> tuple[int, int, int]:
        requests, distinct, unverified = self.ask(f"count {path}").split()
        return int(requests), int(distinct), int(unverified)

    def close(self) -> None:
        self.process.stdin.close()  # type: ignore[union-attr]
        self.process.wait(timeout=10)


def call_details(rows: int) -> Report:
    """A Report of `rows` call legs shaped like call-details (ids, times, agent, queue, outcome)."""
    import pyarrow as pa

    from ziwo_reports.report_model import Report, make_spec, report_window

    spec = make_spec(report="call-details", instance="bench", rolling_date="yesterday", as_of=AS_OF, group_by="none")
    as_of, window = report_window(spec)
    start = window.start.astimezone(UTC)
    started = [start + timedelta(seconds=8 * i) for i in range(rows)]
    table = pa.table(
        {
            "instance": ["bench"] * rows,
            "call_id": [f"call-{i:06d}" for i in range(rows)],
            "started_at": pa.array(started, pa.timestamp("us", tz="UTC")),
            "ended_at": pa.array(
                [t + timedelta(seconds=95 + i % 300) for i, t in enumerate(started)], pa.timestamp("us", tz="UTC")
            ),
            "direction": ["inbound" if i % 5 else "outbound" for i in range(rows)],
            "caller_number": [f"+9715{i % 10_000_000:08d}" for i in range(rows)],
            "agent_id": [1000 + i % 120 for i in range(rows)],
            "agent_name": [f"Agent {i % 120}" for i in range(rows)],
            "queue_id": [100 + i % 12 for i in range(rows)],
            "queue_name": [f"Queue {i % 12}" for i in range(rows)],
            "outcome": [("answered", "missed", "abandoned", "transferred")[i % 4] for i in range(rows)],
            "wait_s": [i % 90 for i in range(rows)],
            "talk_s": [60 + i % 400 for i in range(rows)],
            "hold_s": [i % 7 * 10 for i in range(rows)],
            "wrap_up_s": [20 + i % 40 for i in range(rows)],
            "disposition": [("Resolved", "Callback", None)[i % 3] for i in range(rows)],
            "csat": [i % 5 + 1 if i % 4 == 0 else None for i in range(rows)],
            "tags": [["vip"] if i % 10 == 0 else [] for i in range(rows)],
        }
    )
    return Report(spec=spec, zone=spec.zone, window=window, as_of=as_of, horizon=as_of, table=table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=500, help="messages the sequential loop sends")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return

    import requests

    from ziwo_reports.connectors.delivery import delivery_for
    from ziwo_reports.deliveries import deliver_report, list_deliveries
    from ziwo_reports.warehouse import open_warehouse

    os.environ["BENCH_HOOK_SIGNING_SECRETS"] = SECRET
    report = call_details(args.rows)
    receiver = ReceiverProcess()
    figures: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory() as folder, open_warehouse(Path(folder) / "bench.duckdb") as warehouse:
            print(f"{args.rows:,} rows (call-details), mode row, receiver answering in {DELAY * 1000:.0f} ms, signed")

            # the plain sequential loop, over the same messages (signed as the delivery signs them)
            url = receiver.path("/sequential")
            options = {"type": "webhook", "url": url, "mode": "row", "credentials": "env:BENCH_HOOK"}
            delivery = delivery_for({**options, "allow_private_urls": True})
            outbound = delivery.requests(report)[: args.sample]  # type: ignore[attr-defined]
            auth = delivery.auth()  # type: ignore[attr-defined]
            started = time.perf_counter()
            for request in outbound:
                requests.post(
                    url, data=request.body, headers=dict(request.headers), auth=auth, timeout=15
                ).raise_for_status()
            took = time.perf_counter() - started
            figures["sequential"] = len(outbound) / took
            print(
                f"  sequential requests.post: {figures['sequential']:8.1f} deliveries/s  (a sample of {len(outbound)} "
                f"messages in {took:.2f} s; {args.rows:,} extrapolated: {args.rows / figures['sequential']:.0f} s)"
            )

            ledger = lambda: contextlib.nullcontext(warehouse)  # noqa: E731
            for concurrency in args.concurrency:
                path = f"/c{concurrency}"
                target = {**options, "url": receiver.path(path), "name": f"bench-{concurrency}",
                          "allow_private_urls": True, "concurrency": concurrency}  # fmt: skip
                run_id = f"bench-{concurrency}"
                started = time.perf_counter()
                delivered = deliver_report(report, target, ledger, run_id=run_id, source="bench")
                took = time.perf_counter() - started
                rows = list_deliveries(warehouse, run_id=run_id, limit=args.rows + 1)
                sent = sum(1 for row in rows if row.status == "sent")
                received, distinct, unverified = receiver.count(path)
                exact = sent == len(rows) == args.rows and distinct == args.rows and not delivered.failed
                figures[f"c{concurrency}"] = args.rows / took
                label = f"concurrency {concurrency}" + (" (default)" if concurrency == 8 else "")
                print(
                    f"  deliver_report {label:<22}: {args.rows / took:8.1f} deliveries/s  ({took:.2f} s; "
                    f"{figures[f'c{concurrency}'] / figures['sequential']:.1f}x sequential; ledger {sent:,} sent of "
                    f"{len(rows):,} rows, receiver {distinct:,} distinct ids of {received:,} requests, "
                    f"{unverified} unverified) {'exact' if exact else 'NOT EXACT'}"
                )
                assert exact, f"ledger not exact at concurrency {concurrency}"
                assert unverified == 0
    finally:
        receiver.close()
    best = max((k for k in figures if k != "sequential"), key=figures.__getitem__)
    ratio = figures[best] / figures["sequential"]
    verdict = "met" if ratio >= 10 else "NOT met"
    best_rate = figures[best]
    print(
        f"best: {best.removeprefix('c')} in flight, {best_rate:.1f} deliveries/s = {ratio:.1f}x sequential "
        f"(10x: {verdict})"
    )


if __name__ == "__main__":
    main()
