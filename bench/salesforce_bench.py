"""Salesforce benchmark: 50,000 agent-metric rows upserted into the fake org (tests/fakes/salesforce.py,
in a process of its own) by the connector, through sObject Collections (200 records a request) and
through one Bulk API 2.0 job (mode auto above 2,000 rows), against the naive approach of one upsert
request per row (`PATCH /sobjects/{Object}/{Field}/{key}`, sequential, on a sample, extrapolated), and
against the fake's own capacity: the same collections sent by a bare `requests` loop at the same
concurrency (prebuilt bodies, no mapping, no policy) that reads each answer's per-record results.
Capacity and connector alternate for `--rounds` rounds (who goes first alternates too), each into a
fresh object (every record a create) whose records the fake forgets once counted, the connector's
records built before its clock as the loop's bodies are; the ratio is the
median of the rounds'. Target: within 20% of that capacity and at least 50x fewer requests than
one per row.

    .venv/bin/python bench/salesforce_bench.py
    .venv/bin/python bench/salesforce_bench.py --rows 10000 --sample 500 --concurrency 4

Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OBJECT, KEY = "Ziwo_Agent_Metric__c", "Ziwo_Row_Key__c"
MAPPING = {
    "Agent_Id__c": {"column": "group_id", "cast": "string"},
    "Agent_Name__c": "group_name",
    "Period_Start__c": "period_start",
    "Calls_Answered__c": "calls_answered",
    "Avg_Handle_Time_s__c": "avg_handle_time_s",
}


def serve() -> None:
    """The fake org's process: prints its URL; on stdin `count <object>` prints records and data requests,
    `drop <object>` forgets the object's records (so that no round runs against a bigger heap)."""
    from tests.fakes.salesforce import FakeSalesforce, Field

    with FakeSalesforce() as fake:
        fake.server.socket.listen(256)
        fake.api_limit = 10_000_000  # an allowance no round comes near (Sforce-Limit-Info reports it)
        rounds = int(os.environ.get("BENCH_SF_ROUNDS", "5"))
        names = [OBJECT, "Naive_Metric__c", *(f"{way}_{n}__c" for n in range(rounds) for way in ("Raw", "Ours"))]
        for name in names:
            fake.add_object(
                name,
                {
                    KEY: Field(external_id=True, unique=True),
                    "Agent_Id__c": Field(),
                    "Agent_Name__c": Field(),
                    "Period_Start__c": Field(),
                    "Calls_Answered__c": Field("double"),
                    "Avg_Handle_Time_s__c": Field("double"),
                },
            )
        print(json.dumps({"url": fake.url, **{k: getattr(fake, k) for k in ("username", "password",
              "security_token", "consumer_key", "consumer_secret")}}), flush=True)  # fmt: skip
        for line in sys.stdin:
            verb, name = line.split()
            obj = fake.objects[name]
            print(json.dumps({"records": len(obj.records), "requests": fake.api_used}), flush=True)
            if verb == "drop":
                with fake.lock:
                    obj.records.clear()
                    obj.index.clear()
                gc.collect()


class Org:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        assert self.process.stdout is not None
        self.info = json.loads(self.process.stdout.readline())

    def count(self, name: str, verb: str = "count") -> dict[str, int]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{verb} {name}\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        self.process.terminate()
        self.process.wait()


def big_report(rows: int) -> Any:
    """A golden agent-performance report blown up to `rows` rows, each with a key of its own."""
    import pyarrow as pa

    from tests import golden
    from ziwo_reports.warehouse import open_warehouse

    with tempfile.TemporaryDirectory() as folder, open_warehouse(Path(folder) / "w.duckdb") as warehouse:
        golden.load(warehouse)
        report = golden.report_of(warehouse)
    base = report.table
    table = pa.concat_tables([base] * (rows // base.num_rows + 1)).slice(0, rows)
    keys = pa.array([f"bench:agent-performance:row={i}" for i in range(rows)])
    return replace(report, table=table, keys=keys)


def token(session: Any, info: dict[str, str]) -> str:
    form = {"grant_type": "password", "client_id": info["consumer_key"], "client_secret": info["consumer_secret"],
            "username": info["username"], "password": info["password"] + info["security_token"]}  # fmt: skip
    return session.post(info["url"] + "/services/oauth2/token", data=form).json()["access_token"]


def capacity(org: Org, records: list[dict[str, Any]], concurrency: int, sobject: str) -> float:
    """Rows per second the fake takes when fed prebuilt collections by a bare requests loop that
    reads each answer's per-record results (what a client must, to know each record's result)."""
    import requests

    session = requests.Session()
    bearer = {"Authorization": "Bearer " + token(session, org.info)}
    url = f"{org.info['url']}/services/data/v62.0/composite/sobjects/{sobject}/{KEY}"
    bodies = [
        json.dumps(
            {
                "allOrNone": False,
                "records": [{"attributes": {"type": sobject}, **r} for r in records[i : i + 200]],
            }
        )
        for i in range(0, len(records), 200)
    ]
    sessions = [requests.Session() for _ in range(concurrency)]

    def send(index: int) -> None:
        reply = sessions[index % concurrency].patch(
            url, data=bodies[index], headers={**bearer, "Content-Type": "application/json"}
        )
        assert reply.status_code == 200, reply.text[:200]
        assert all(result["success"] for result in reply.json())

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(send, range(len(bodies))))
    return len(records) / (time.perf_counter() - started)


def naive(org: Org, records: list[dict[str, Any]]) -> float:
    """Rows per second of one upsert request per row, sequential (on a sample)."""
    from urllib.parse import quote

    import requests

    session = requests.Session()
    bearer = {"Authorization": "Bearer " + token(session, org.info), "Content-Type": "application/json"}
    base = f"{org.info['url']}/services/data/v62.0/sobjects/Naive_Metric__c/{KEY}/"
    started = time.perf_counter()
    for record in records:
        body = {k: v for k, v in record.items() if k != KEY}
        reply = session.patch(base + quote(record[KEY], safe=""), data=json.dumps(body), headers=bearer)
        assert reply.status_code in (200, 201), reply.text[:200]
    return len(records) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--sample", type=int, default=2_000, help="rows the naive loop sends (extrapolated)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=9, help="alternating rounds of capacity and connector")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return

    from ziwo_reports.connectors.delivery import delivery_for

    report = big_report(args.rows)
    os.environ["BENCH_SF_ROUNDS"] = str(args.rounds)  # the fake defines an object per round and side
    org = Org()
    try:
        for field in ("username", "password", "security_token", "consumer_key", "consumer_secret"):
            os.environ[f"BENCH_SF_{field.upper()}"] = org.info[field]
        os.environ["BENCH_SF_AUTH"] = "password"

        def options(mode: str) -> dict[str, Any]:
            return {"type": "salesforce", "credentials": "env:BENCH_SF", "login_url": org.info["url"],
                    "allow_private_urls": True, "sobject": OBJECT, "external_id_field": KEY, "mapping": MAPPING,
                    "mode": mode, "concurrency": args.concurrency, "bulk_poll_s": 0.2}  # fmt: skip

        table: list[tuple[str, int, float, int]] = []
        records = [r.record for r in delivery_for(options("collections"))._rows(report)]  # for the bare loops
        capacity(org, records[:2_000], args.concurrency, "Raw_0__c")  # the fake's first requests are slower
        # Rounds that alternate the bare loop and the connector, each into a fresh object (every record
        # a create), the connector's records built before its clock as the loop's bodies are.
        own, ours = [], []
        # This process's CPU seconds per round: what the client itself costs, whatever the
        # scheduler does to the wall clock of a one-second round on a shared machine.
        cpu_own: list[float] = []
        cpu_ours: list[float] = []

        def bare_loop(n: int) -> None:
            cpu = time.process_time()
            own.append(capacity(org, records, args.concurrency, f"Raw_{n}__c"))
            cpu_own.append(time.process_time() - cpu)
            assert org.count(f"Raw_{n}__c", "drop")["records"] == args.rows

        def connector(n: int) -> int:
            delivery = delivery_for({**options("collections"), "sobject": f"Ours_{n}__c"})
            delivery.plan(report)
            before = org.count(f"Ours_{n}__c")["requests"]
            started, cpu = time.perf_counter(), time.process_time()
            results = list(delivery.deliver(report))
            took = time.perf_counter() - started
            cpu_ours.append(time.process_time() - cpu)
            after = org.count(f"Ours_{n}__c", "drop")
            assert sum(r.status == "sent" for r in results) == after["records"] == args.rows, after
            ours.append(args.rows / took)
            return after["requests"] - before

        for n in range(args.rounds):  # who goes first alternates, so neither always meets a warmer fake
            if n % 2:
                collections_requests = connector(n)
                bare_loop(n)
            else:
                bare_loop(n)
                collections_requests = connector(n)
        median_own, median_ours = statistics.median(own), statistics.median(ours)
        table.append(("connector, sObject Collections (median)", args.rows, median_ours, collections_requests))

        delivery = delivery_for(options("auto"))
        delivery.plan(report)
        before = org.count(OBJECT)["requests"]
        started = time.perf_counter()
        results = list(delivery.deliver(report))
        took = time.perf_counter() - started
        sent = sum(r.status == "sent" for r in results)
        after = org.count(OBJECT)
        table.append(("connector, auto: one Bulk API 2.0 job", sent, sent / took, after["requests"] - before))
        assert after["records"] == args.rows, after

        table.append(
            (f"fake's capacity (bare loop, {args.concurrency} threads, median)", args.rows, median_own,
             -(-args.rows // 200))
        )  # fmt: skip
        rate = naive(org, records[: args.sample])
        table.append((f"naive, a request per row (sample {args.sample})", args.rows, rate, args.rows))
    finally:
        org.close()

    print(f"\nSalesforce upsert of {args.rows:,} rows into the fake (concurrency {args.concurrency})\n")
    print(f"{'approach':<48} {'rows':>8} {'rows/s':>10} {'requests':>9} {'time (s)':>9}")
    for name, rows, per_s, requests_made in table:
        print(f"{name:<48} {rows:>8,} {per_s:>10,.0f} {requests_made:>9,} {rows / per_s:>9.1f}")
    ratios = sorted(o / c for o, c in zip(ours, own, strict=True))
    print(
        f"\ncollections vs the fake's capacity, per round: {', '.join(f'{r:.0%}' for r in ratios)}, median "
        f"{statistics.median(ratios):.0%}; requests vs one per row: "
        f"{args.rows / table[0][3]:.0f}x fewer (collections), {args.rows / max(1, table[1][3]):.0f}x fewer (bulk)"
    )
    print(
        f"client CPU per round (this process, median): connector {statistics.median(cpu_ours):.2f} s, bare loop "
        f"{statistics.median(cpu_own):.2f} s, for {args.rows:,} rows"
    )


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
