"""Zendesk benchmark: 50,000 agent-performance rows upserted into a custom object of the fake Zendesk
(tests/fakes/zendesk.py, in a process of its own so it does not share our interpreter lock), three ways
in the same run:

- capacity: the fake's own capacity, a bare client posting the same jobs of 100 records (8 threads)
  and reading every job's status once they are posted (show_many), which a client must do to know
  each record's result: what the fake can take;
- connector: the zendesk delivery (`job: upsert`): jobs of 100, at most 30 queued, polled together
  with job_statuses/show_many, every item's result mapped back to its row;
- naive: one request per row (PATCH .../records?external_id=, the single upsert), 8 threads, on a
  sample, extrapolated.

Capacity and connector alternate for `--rounds` rounds, each into a fresh object (every record a
create), so both do the same work on the same fake state; the ratio is the median of the rounds'.
Targets: the connector within 20% of the fake's capacity, and at least 50x fewer requests than one
per row.

    .venv/bin/python bench/zendesk_bench.py
    .venv/bin/python bench/zendesk_bench.py --rows 20000 --sample 2000

Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ziwo_reports.report_model import Report

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AS_OF = datetime(2026, 11, 12, 12, 0, tzinfo=UTC)
FIELDS = {"agent_id": "text", "agent_name": "text", "answered": "integer", "missed": "integer", "aht_s": "decimal"}
MAPPING = {
    "agent_id": {"column": "group_id", "cast": "string"},
    "agent_name": "group_name",
    "answered": "calls_answered",
    "missed": "calls_missed",
    "aht_s": "avg_handle_time_s",
}
THREADS = 8
EMAIL, TOKEN = "agent@example.com", "zd-api-token-3e8f0c5d21"  # the fake's defaults


class FakeProcess:
    def __init__(self, objects: dict[str, dict[str, str]]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.zendesk", json.dumps({"objects": objects})],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self.url = self.process.stdout.readline().strip()  # type: ignore[union-attr]

    def stats(self, key: str) -> tuple[int, int]:
        self.process.stdin.write(f"stats {key}\n")  # type: ignore[union-attr]
        self.process.stdin.flush()  # type: ignore[union-attr]
        requests, records = self.process.stdout.readline().split()  # type: ignore[union-attr]
        return int(requests), int(records)

    def close(self) -> None:
        self.process.stdin.close()  # type: ignore[union-attr]
        self.process.wait(timeout=10)


def agent_hours(rows: int) -> Report:
    """A Report of `rows` agent-performance rows: 500 agents x rows/500 hours."""
    import pyarrow as pa

    from ziwo_reports.report_model import Report, make_spec, report_window

    spec = make_spec(
        report="agent-performance", instance="bench", rolling_date="yesterday", as_of=AS_OF, interval="hour"
    )
    as_of, window = report_window(spec)
    start = window.start.astimezone(UTC)
    agents = 500
    periods = [start + timedelta(hours=i // agents) for i in range(rows)]
    table = pa.table(
        {
            "instance": ["bench"] * rows,
            "group_id": [1000 + i % agents for i in range(rows)],
            "group_name": [f"Agent {i % agents}" for i in range(rows)],
            "period_start": pa.array(periods, pa.timestamp("us", tz="UTC")),
            "period_end": pa.array([p + timedelta(hours=1) for p in periods], pa.timestamp("us", tz="UTC")),
            "calls_answered": [i % 17 for i in range(rows)],
            "calls_missed": [i % 3 for i in range(rows)],
            "avg_handle_time_s": [120.5 + i % 300 for i in range(rows)],
        }
    )
    return Report(spec=spec, zone=spec.zone, window=window, as_of=as_of, horizon=as_of, table=table)


def _session() -> Any:
    import requests

    session = requests.Session()
    session.trust_env = False
    session.auth = (f"{EMAIL}/token", TOKEN)
    return session


def capacity(url: str, key: str, payloads: list[dict[str, Any]], results: bool = False) -> float:
    """Seconds a bare client takes to post every payload in jobs of 100, THREADS at a time; with
    `results`, each thread then reads its jobs' statuses (show_many, 30 ids a request)."""
    local = threading.local()
    jobs = [payloads[i : i + 100] for i in range(0, len(payloads), 100)]

    def post(items: list[dict[str, Any]]) -> str:
        session = getattr(local, "session", None) or _session()
        local.session = session
        body = {"job": {"action": "create_or_update_by_external_id", "items": items}}
        response = session.post(f"{url}/api/v2/custom_objects/{key}/jobs", json=body)
        response.raise_for_status()
        return response.json()["job_status"]["id"]

    def read(ids: list[str]) -> None:
        session = getattr(local, "session", None) or _session()
        local.session = session
        response = session.get(f"{url}/api/v2/job_statuses/show_many", params={"ids": ",".join(ids)})
        response.raise_for_status()
        assert all(s["status"] == "completed" for s in response.json()["job_statuses"])

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        ids = list(pool.map(post, jobs))
        if results:
            list(pool.map(read, [ids[i : i + 30] for i in range(0, len(ids), 30)]))
    return time.perf_counter() - started


def naive(url: str, key: str, payloads: list[dict[str, Any]]) -> float:
    """Seconds to upsert each payload with its own request (PATCH by external_id), THREADS at a time."""
    local = threading.local()

    def patch(item: dict[str, Any]) -> None:
        session = getattr(local, "session", None) or _session()
        local.session = session
        record = {"name": item["name"], "custom_object_fields": item["custom_object_fields"]}
        response = session.patch(
            f"{url}/api/v2/custom_objects/{key}/records",
            params={"external_id": item["external_id"]},
            json={"custom_object_record": record},
        )
        response.raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(patch, payloads))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of capacity and connector")
    parser.add_argument("--sample", type=int, default=5_000, help="rows the naive one-request-per-row way sends")
    args = parser.parse_args()

    from ziwo_reports.connectors.delivery import delivery_for

    os.environ.update({"BENCH_ZD_AUTH": "api_token", "BENCH_ZD_EMAIL": EMAIL, "BENCH_ZD_API_TOKEN": TOKEN})
    report = agent_hours(args.rows)
    rounds = range(args.rounds)
    names = ["warmup", "naive"] + [f"{way}_{n}" for n in rounds for way in ("capacity", "connector")]
    fake = FakeProcess({key: FIELDS for key in names})

    def delivery(key: str):
        return delivery_for(
            {
                "type": "zendesk",
                "base_url": fake.url,
                "allow_private_urls": True,
                "credentials": "env:BENCH_ZD",
                "custom_object_key": key,
                "record_name": "{group_name} {period_start}",
                "mapping": MAPPING,
                "concurrency": THREADS,
                "max_queued_jobs": 30,
                "job_poll_interval_s": 1.0,
            }
        )

    try:
        started = time.perf_counter()
        payloads = [item.sample[0] for item in delivery("warmup").plan(report).items]
        plan_s = time.perf_counter() - started  # the records built from the rows, without I/O
        print(
            f"{args.rows:,} rows (agent-performance), jobs of 100, {THREADS} threads; fake Zendesk in its own "
            f"process; {args.rounds} alternating rounds, each into a fresh object (every record a create)"
        )
        capacity(fake.url, "warmup", payloads[:2_000], results=True)  # the fake's first requests are slower
        own, ours, requests_own, requests_ours = [], [], 0, 0
        for n in rounds:
            # the same work on both sides: post the jobs, then know every record's result
            before, _ = fake.stats(f"capacity_{n}")
            own.append(capacity(fake.url, f"capacity_{n}", payloads, results=True))
            after, held = fake.stats(f"capacity_{n}")
            assert held == args.rows, f"capacity round {n}: the fake holds {held} records"
            requests_own = after - before
            ours_delivery = delivery(f"connector_{n}")
            ours_delivery.plan(report)  # built before the clock, as the capacity's bodies are
            before, _ = fake.stats(f"connector_{n}")  # requests: the fake's count of all it was sent
            started = time.perf_counter()
            results = list(ours_delivery.deliver(report))
            ours.append(time.perf_counter() - started)
            after, held = fake.stats(f"connector_{n}")
            requests_ours = after - before
            sent = sum(r.status == "sent" for r in results)
            assert sent == held == args.rows, f"connector round {n}: {sent} sent, the fake holds {held}"

        started = time.perf_counter()
        rerun = list(ours_delivery.deliver(report))  # every record updated, none added
        rerun_s = time.perf_counter() - started
        assert fake.stats(f"connector_{args.rounds - 1}")[1] == args.rows and all(r.status == "sent" for r in rerun)

        sample = payloads[: args.sample]
        before, _ = fake.stats("naive")
        naive_s = naive(fake.url, "naive", sample) * args.rows / len(sample)
        after, held = fake.stats("naive")
        assert held == len(sample)
        naive_requests = (after - before) * args.rows // len(sample)
    finally:
        fake.close()

    rows = args.rows
    ratios = sorted(capacity_s / connector_s for capacity_s, connector_s in zip(own, ours, strict=True))
    median = ratios[len(ratios) // 2]
    table = [
        ("fake capacity: jobs + results read (median)", sorted(own)[len(own) // 2], requests_own),
        ("connector: jobs + show_many polls (median)", sorted(ours)[len(ours) // 2], requests_ours),
        ("connector rerun (all updates)", rerun_s, None),
        (f"connector plan: {args.rows:,} records built, no I/O", plan_s, 0),
        (f"naive, 1 request/row (sample {len(sample):,})", naive_s, naive_requests),
    ]
    print(f"{'way':46} {'seconds':>8} {'rows/s':>9} {'requests':>9}")
    for name, seconds, requests in table:
        shown = f"{requests:>9,}" if requests is not None else f"{'':>9}"
        print(f"{name:46} {seconds:8.2f} {rows / seconds:9,.0f} {shown}")
    print(
        f"connector vs the fake's capacity, per round: {', '.join(f'{r:.0%}' for r in ratios)}; median {median:.0%} "
        f"(target >= 80%); requests {naive_requests / requests_ours:.0f}x fewer than one per row (target >= 50x)"
    )


if __name__ == "__main__":
    main()
