"""Ingest benchmark: N simulated call records from the simulator over HTTP into DuckDB, by
ziwo-reports' ingest and by a dlt `rest_api` pipeline, in the same run.

The simulator runs in its own process with every day generated and held in memory before the
clock starts, so both loaders are measured, not the data generator. Each loader runs in its own
process, so each peak RSS is its own.

    .venv/bin/python bench/ingest_bench.py                      # 1,000,000 records
    .venv/bin/python bench/ingest_bench.py --records 200000

ziwo-reports: day chunks, typed checks, record hashes, the Great Expectations suite on every
batch, delete+insert of changed legs, quarantine, state in the same transactions.
dlt: the same pages (offset paginator on /callHistory/, merge on callID, as one would configure
it for idempotent loads), its extract -> normalize -> load.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import requests
from simulator_process import NOW, PASSWORD, USERNAME, free_port, peak_rss_mib, run_worker, start_simulator


def run_ours(base_url: str, db: Path, first: date, last: date, page_size: int) -> dict:
    from ziwo_reports.connectors.ziwo import ZiwoClient, ZiwoSettings
    from ziwo_reports.http import HttpPolicy
    from ziwo_reports.ingest import IngestOptions, ingest
    from ziwo_reports.warehouse import open_warehouse

    settings = ZiwoSettings(
        base_url=base_url,
        instance="bench",
        timezone="Asia/Dubai",
        username=USERNAME,
        password=PASSWORD,
        page_size=page_size,
        http=HttpPolicy(backoff_base=0.05),
    )
    started = time.perf_counter()
    with open_warehouse(db) as warehouse, ZiwoClient(settings) as client:
        options = IngestOptions(first_day=first, last_day=last)
        run = ingest(warehouse, client, options, now=NOW)
        (rows,) = warehouse.con.execute("SELECT count(*) FROM calls").fetchone()
    seconds = time.perf_counter() - started
    return {"records": run.totals.records, "rows": rows, "seconds": seconds, "peak_rss_mib": peak_rss_mib()}


def run_dlt(base_url: str, db: Path, first: date, last: date, page_size: int) -> dict:
    import dlt
    from dlt.sources.rest_api import rest_api_source

    started = time.perf_counter()
    login = requests.post(f"{base_url}/auth/login", json={"username": USERNAME, "password": PASSWORD}, timeout=30)
    token = login.json()["content"]["access_token"]
    source = rest_api_source(
        {
            "client": {
                "base_url": base_url + "/",
                "headers": {"access_token": token},
                "paginator": {
                    "type": "offset",
                    "limit": page_size,
                    "offset_param": "skip",
                    "limit_param": "limit",
                    "total_path": None,
                    "stop_after_empty_page": True,
                },
            },
            "resource_defaults": {"primary_key": "callID", "write_disposition": "merge"},
            "resources": [
                {
                    "name": "calls",
                    "endpoint": {
                        "path": "callHistory/",
                        "params": {
                            "fromDate": first.isoformat(),
                            "toDate": last.isoformat(),
                            "order": "startedAt",
                            "dataset": "tags",
                        },
                        "data_selector": "content",
                    },
                }
            ],
        }
    )
    pipeline = dlt.pipeline(
        pipeline_name="ziwo_bench",
        destination=dlt.destinations.duckdb(str(db)),
        dataset_name="ziwo",
        pipelines_dir=str(db.parent / "dlt_pipelines"),
    )
    pipeline.run(source)
    seconds = time.perf_counter() - started
    import duckdb

    with duckdb.connect(str(db)) as con:
        (rows,) = con.execute("SELECT count(*) FROM ziwo.calls").fetchone()
    return {"records": rows, "rows": rows, "seconds": seconds, "peak_rss_mib": peak_rss_mib()}


def worker(kind: str, base_url: str, first: date, last: date, page_size: int, workdir: Path) -> dict:
    command = [sys.executable, __file__, "--run", kind, "--base-url", base_url, "--first", str(first)]
    command += ["--last", str(last), "--page-size", str(page_size), "--workdir", str(workdir)]
    return run_worker(command, kind, env={"PYTHONWARNINGS": "ignore"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000, help="records to ingest (approximately)")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--loaders", default="ours,dlt", help="which loaders to run (default ours,dlt)")
    parser.add_argument("--run", choices=("ours", "dlt"), help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--first", type=date.fromisoformat, help=argparse.SUPPRESS)
    parser.add_argument("--last", type=date.fromisoformat, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.run:  # a worker process: one loader, one fresh DuckDB file
        loader = run_ours if args.run == "ours" else run_dlt
        result = loader(args.base_url, args.workdir / f"{args.run}.duckdb", args.first, args.last, args.page_size)
        print(json.dumps(result))
        return

    port = free_port()
    # Every day generated and held before the clock starts: the loaders are measured, not the generator.
    simulator = start_simulator(args.records, args.days, port, "--cache-days", str(args.days + 2))
    base_url = f"http://127.0.0.1:{port}"
    try:
        info = requests.get(base_url + "/_simulator/info", timeout=5).json()["content"]
        first, last = date.fromisoformat(info["firstDay"]), date.fromisoformat(info["lastDay"])
        warm = time.perf_counter()
        served = requests.get(base_url + "/_simulator/truth", timeout=3600).json()["content"]["calls"]
        print(f"simulator: {served:,} records over {first}..{last}, generated in {time.perf_counter() - warm:.0f} s")
        with tempfile.TemporaryDirectory(prefix="ziwo-bench-") as workdir:
            results = {
                name: worker(name, base_url, first, last, args.page_size, Path(workdir))
                for name in ("ours", "dlt")
                if name in args.loaders.split(",")
            }
    finally:
        simulator.terminate()
        simulator.wait(timeout=30)

    print(f"ingest benchmark: {served:,} call records over HTTP into DuckDB, page size {args.page_size}")
    print(f"{'':14}{'records':>12}{'seconds':>10}{'records/s':>12}{'peak RSS':>12}")
    for key, result in results.items():
        rate = result["rows"] / result["seconds"]
        name = {"ours": "ziwo-reports", "dlt": "dlt rest_api"}[key]
        print(
            f"{name:14}{result['rows']:>12,}{result['seconds']:>10.1f}{rate:>12,.0f}{result['peak_rss_mib']:>9,.0f} MiB"
        )
    if len(results) == 2:
        ours, theirs = results["ours"], results["dlt"]
        speedup = (ours["rows"] / ours["seconds"]) / (theirs["rows"] / theirs["seconds"])
        memory = ours["peak_rss_mib"] / theirs["peak_rss_mib"]
        print(f"ratio: {speedup:.1f}x dlt's throughput, {memory:.2f}x its peak memory")
    if any(result["rows"] != served for result in results.values()):
        raise SystemExit("MISMATCH: a loader did not load every record the simulator served")


if __name__ == "__main__":
    main()
