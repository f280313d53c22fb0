"""HubSpot benchmark: 50,000 agent-metrics rows upserted into the fake HubSpot API
(tests/fakes/hubspot.py) by the hubspot delivery (batch upsert, 100 inputs a request), against
(a) the fake's own capacity: the same batch requests, built beforehand, sent by a bare `requests`
loop with the same concurrency that reads each answer's results (what a client must, to know each
record's result) and does nothing else, and (b) the naive approach, one request per
row (the delivery with batch_size 1), on a sample, extrapolated. Figures: rows/s and requests.
Target: within 20% of the fake's capacity, and at least 50x fewer requests than one per row.

    .venv/bin/python bench/hubspot_bench.py
    .venv/bin/python bench/hubspot_bench.py --rows 5000 --sample 500 --concurrency 4

The fake runs in a process of its own, so it does not share the sender's interpreter lock; each
phase writes into an object type of its own, so each creates its records. The delivery's rows are
built before its clock starts, as the capacity's bodies are; the headline is the median, over the
rounds, of each round's delivery against the capacity measured just before it. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    from ziwo_reports.report_model import Report

TOKEN = "pat-na1-bench-5d2c9e1a-0b3f"
PROPERTIES = ("agent_name", "calls_offered", "calls_answered", "avg_handle_time_s", "csat_avg", "period_start")


def serve() -> None:
    """The fake's process: prints its port; on stdin `define <object>` makes an object type of the
    benchmark's shape, `count <object>` prints the requests to it and its records."""
    from tests.fakes.hubspot import HubSpotFake, Property

    with HubSpotFake(tokens=[TOKEN]) as fake:
        print(fake.server.server_address[1], flush=True)
        for line in sys.stdin:
            command, phase = line.split()
            if command == "define":
                fake.define(
                    phase,
                    [
                        Property("ziwo_row_key", unique=True),
                        Property("agent_name"),
                        Property("calls_offered", "number"),
                        Property("calls_answered", "number"),
                        Property("avg_handle_time_s", "number"),
                        Property("csat_avg", "number"),
                        Property("period_start", "datetime"),
                    ],
                )
                print("ok", flush=True)
            else:
                print(len(fake.requests(f"/{phase}/")), len(fake.records(phase)), flush=True)


class FakeProcess:
    def __init__(self, pin: bool = False) -> None:
        # pinned: the fake on the last CPU, this process on the others, so neither takes the other's
        command = [sys.executable, __file__, "--serve"]
        cpus = sorted(os.sched_getaffinity(0))
        if pin and len(cpus) > 1:
            command = ["taskset", "-c", str(cpus[-1]), *command]
            os.sched_setaffinity(0, cpus[:-1])
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.url = f"http://127.0.0.1:{self.process.stdout.readline().strip()}"

    def ask(self, line: str) -> list[str]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().split()

    def define(self, phase: str) -> str:
        self.ask(f"define {phase}")
        return phase

    def count(self, phase: str) -> tuple[int, int]:
        requests, records = self.ask(f"count {phase}")
        return int(requests), int(records)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=10)


def metrics(rows: int) -> Report:
    """A Report of `rows` agent-performance-like rows, each with its own stable key."""
    from datetime import UTC, datetime

    import pyarrow as pa

    from ziwo_reports.report_model import Report, make_spec, report_window

    spec = make_spec(
        report="agent-performance", instance="bench", rolling_date="yesterday", as_of=datetime(2026, 11, 12, tzinfo=UTC)
    )
    as_of, window = report_window(spec)
    table = pa.table(
        {
            "group_name": [f"Agent {i % 500}" for i in range(rows)],
            "calls_offered": [10 + i % 50 for i in range(rows)],
            "calls_answered": [8 + i % 40 for i in range(rows)],
            "avg_handle_time_s": [120.5 + i % 90 for i in range(rows)],
            "csat_avg": [None if i % 7 == 0 else 3.5 + (i % 3) / 2 for i in range(rows)],
            "period_start": [f"2026-11-{1 + i % 28:02d}T00:00:00+04:00" for i in range(rows)],
        }
    )
    keys = pa.array([f"bench:agent-performance:agent={i % 500}:day:{i // 500}" for i in range(rows)])
    return Report(spec=spec, zone=spec.zone, window=window, as_of=as_of, horizon=as_of, table=table, key="b", keys=keys)


def target(url: str, phase: str, concurrency: int, batch_size: int = 100) -> dict:
    return {
        "type": "hubspot",
        "name": phase,
        "object_type": phase,
        "credentials": "env:BENCH_HS",
        "api_base": url,
        "allow_private_urls": True,
        "concurrency": concurrency,
        "batch_size": batch_size,
        "mapping": {
            "agent_name": "group_name",
            "calls_offered": "calls_offered",
            "calls_answered": "calls_answered",
            "avg_handle_time_s": "avg_handle_time_s",
            "csat_avg": "csat_avg",
            "period_start": "period_start",
        },
    }


def capacity(url: str, report: Report, phase: str, concurrency: int) -> float:
    """Rows/s the fake takes when the batch bodies are ready and a bare loop sends them."""
    import orjson
    import requests

    from ziwo_reports.connectors.delivery import delivery_for

    delivery = delivery_for(target(url, phase, concurrency))
    rows = delivery._rows(report)  # the same bodies the delivery sends, built before the clock starts
    batches = [rows[start : start + 100] for start in range(0, len(rows), 100)]
    bodies = [
        orjson.dumps({"inputs": [delivery._upsert_input(r, i, "ziwo_row_key") for i, r in enumerate(batch)]})
        for batch in batches
    ]
    local = threading.local()
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

    def send(body: bytes) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        answer = session.post(f"{url}/crm/v3/objects/{phase}/batch/upsert", data=body, headers=headers, timeout=60)
        answer.raise_for_status()
        assert len(answer.json()["results"]) == 100  # what a client reads to know each record's result

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(send, bodies))
    return len(rows) / (time.perf_counter() - started)


def through_delivery(url: str, report: Report, phase: str, concurrency: int, batch_size: int) -> tuple[float, int]:
    from ziwo_reports.connectors.delivery import delivery_for

    delivery = delivery_for(target(url, phase, concurrency, batch_size))
    delivery.plan(report)  # the rows built before the clock starts, as the capacity's bodies are
    started = time.perf_counter()
    results = list(delivery.deliver(report))
    took = time.perf_counter() - started
    failed = [r for r in results if r.status != "sent"]
    if failed:
        raise SystemExit(f"{len(failed)} rows failed, e.g. {failed[0].error}")
    return len(results) / took, len(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--sample", type=int, default=3_000, help="rows the naive one-request-per-row run sends")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pin", action="store_true", help="the fake on one CPU, the senders on the others")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    os.environ["BENCH_HS_ACCESS_TOKEN"] = TOKEN
    fake = FakeProcess(pin=args.pin)
    own, ours = [], []
    try:
        report = metrics(args.rows)
        sample = metrics(args.sample)
        # Rounds that alternate the two, each into fresh object types (every row a create): the
        # machine's other load falls on both alike, and the best round of each is compared.
        for round_number in range(args.rounds):
            phase = fake.define(f"p_capacity_{round_number}")
            own.append(capacity(fake.url, report, phase, args.concurrency))
            cap_requests, cap_records = fake.count(phase)
            phase = fake.define(f"p_connector_{round_number}")
            ours.append(through_delivery(fake.url, report, phase, args.concurrency, 100)[0])
            our_requests, our_records = fake.count(phase)
            assert cap_records == our_records == args.rows
        phase = fake.define("p_naive")
        naive, _ = through_delivery(fake.url, sample, phase, args.concurrency, 1)
        naive_requests, naive_records = fake.count(phase)
    finally:
        fake.close()
    assert naive_records == args.sample
    naive_total = naive_requests * args.rows / args.sample
    best_own, best_ours = max(own), max(ours)
    print(
        f"HubSpot fake, {args.rows:,} rows, concurrency {args.concurrency}, best of {args.rounds} rounds "
        f"(naive: {args.sample:,}-row sample)"
    )
    print(f"{'approach':<34} {'rows/s':>10} {'requests':>10} {'s for all':>10}  rounds (rows/s)")
    for name, best, sent, rounds in (
        ("fake capacity (bare batch loop)", best_own, cap_requests, own),
        ("hubspot delivery (batch upsert)", best_ours, our_requests, ours),
    ):
        shown = ", ".join(f"{v:,.0f}" for v in rounds)
        print(f"{name:<34} {best:>10,.0f} {sent:>10,} {args.rows / best:>10.1f}  {shown}")
    print(f"{'naive, one request per row':<34} {naive:>10,.0f} {naive_total:>10,.0f} {args.rows / naive:>10.1f}")
    # each round's delivery against the capacity measured just before it: the machine's load in
    # between moves both; the median of these ratios is the steadier figure
    ratios = sorted(o / c for o, c in zip(ours, own, strict=True))
    median = statistics.median(ratios)
    print(
        f"delivery vs capacity: best {best_ours / best_own:.0%}, per round {', '.join(f'{r:.0%}' for r in ratios)} "
        f"(median {median:.0%}); requests: {naive_total / our_requests:.0f}x fewer than one per row; "
        f"rows/s: {best_ours / naive:.1f}x the naive approach"
    )


if __name__ == "__main__":
    main()
