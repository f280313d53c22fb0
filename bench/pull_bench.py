"""Pull benchmark: the Ziwo client pulling N simulated call records over HTTP.

The simulator runs in its own process (`ziwo-reports simulator`), as a real API would; this
process pulls every day through `ZiwoClient.iter_calls` and counts. Prints records per second and
the peak memory (RSS high-water mark) of the client and of the simulator.

    .venv/bin/python bench/pull_bench.py                      # 1,000,000 records
    .venv/bin/python bench/pull_bench.py --records 200000 --faults flaky
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import date

import requests
from simulator_process import free_port, peak_rss_mib, start_simulator

from ziwo_reports.connectors.ziwo import ZiwoClient, ZiwoSettings
from ziwo_reports.connectors.ziwo.simulator import DEFAULT_PASSWORD, DEFAULT_USERNAME
from ziwo_reports.http import HttpPolicy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000, help="records to pull (approximately)")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--faults", default="none", choices=("none", "flaky", "hostile"))
    args = parser.parse_args()

    port = free_port()
    simulator = start_simulator(
        args.records, args.days, port, "--faults", args.faults, "--slow-seconds", "0.2", "--retry-after", "0"
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        info = requests.get(base_url + "/_simulator/info", timeout=5).json()["content"]
        first, last = date.fromisoformat(info["firstDay"]), date.fromisoformat(info["lastDay"])
        settings = ZiwoSettings(
            base_url=base_url,
            username=DEFAULT_USERNAME,
            password=DEFAULT_PASSWORD,
            page_size=args.page_size,
            http=HttpPolicy(backoff_base=0.05),
        )
        started, cpu_started = time.perf_counter(), time.process_time()
        records = rejects = 0
        with ZiwoClient(settings) as client:
            for batch in client.iter_calls(first, last):
                records += len(batch.records)
                rejects += len(batch.rejects)
            stats = client.stats
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        truth = requests.get(base_url + "/_simulator/truth", timeout=600).json()["content"]
        simulator_peak = peak_rss_mib(simulator.pid)
    finally:
        simulator.terminate()
        simulator.wait(timeout=30)

    rate = records / seconds
    print(f"pull benchmark: {first}..{last} ({args.days} days), faults {args.faults}, page size {args.page_size}")
    print(f"  records     {records:,} pulled, {rejects:,} rejected")
    print(f"  served      {truth['calls']:,} well-formed + {truth['bad']:,} malformed (simulator's ground truth)")
    print(f"  requests    {stats.http.requests:,}: {stats.summary()}")
    print(f"  time        {seconds:.1f} s  ->  {rate:,.0f} records/s")
    print(f"  peak RSS    client {peak_rss_mib():,.0f} MiB, simulator {simulator_peak:,.0f} MiB")
    print(
        f"  client cpu  {cpu_seconds:.1f} s, {cpu_seconds / seconds:.0%} of the time (the rest waits on the simulator)"
    )
    print(f"  machine     {os.cpu_count()} cores; client and simulator each in one process")
    if records != truth["calls"]:
        raise SystemExit("MISMATCH: pulled records differ from the simulator's ground truth")


if __name__ == "__main__":
    main()
