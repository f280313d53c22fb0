"""`ziwo-reports ingest`: Ziwo's calls, agents and queues into the DuckDB warehouse."""

from __future__ import annotations

import argparse
import contextlib

from ziwo_reports.cli.common import (
    add_connection_options,
    add_db_option,
    add_wait_option,
    day,
    days,
    duration,
    open_warehouse,
    ziwo_settings,
)

NAME = "ingest"
HELP = "load Ziwo calls, agents and queues into the DuckDB warehouse"


def add_options(parser: argparse.ArgumentParser) -> None:
    add_connection_options(parser)
    add_db_option(parser)
    parser.add_argument("--from", dest="from_", type=day, help="backfill from this instance day, YYYY-MM-DD")
    parser.add_argument("--to", type=day, help="backfill to this day, included (default: today)")
    parser.add_argument("--lookback", type=duration, default="48h", help="window re-read each run (default 48h)")
    parser.add_argument(
        "--full-refresh", action="store_true", help="re-read all held days; drop legs Ziwo no longer lists"
    )
    parser.add_argument(
        "--initial-days", type=days, default=30, help="days a first run reads (default 30, at most 3660)"
    )
    add_wait_option(parser)


def _ingest_options(args: argparse.Namespace):  # -> IngestOptions
    from ziwo_reports.ingest import IngestOptions

    return IngestOptions(
        lookback=args.lookback,
        first_day=args.from_,
        last_day=args.to,
        full_refresh=args.full_refresh,
        initial_days=args.initial_days,
    )


@contextlib.contextmanager
def _progress(client):  # -> Iterator[ProgressHook]
    """A progress bar on stderr: days done, pages and records read."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    done_records: dict = {}
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days · {task.fields[pages]} pages · {task.fields[records]} records"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = progress.add_task("ingest", total=None, pages=0, records=0)

    def update(done_day, counts) -> None:
        done_records[done_day] = counts.records
        progress.update(
            task,
            description=f"ingest {done_day}",
            completed=len(done_records) - 1,
            pages=client.stats.pages,
            records=sum(done_records.values()),
        )

    with progress:
        yield progress, task, update


def run(args: argparse.Namespace) -> int:
    from ziwo_reports.connectors.ziwo import ZiwoClient, ZiwoListingError
    from ziwo_reports.ingest import IngestRun, plan_ingest, quarantine_lines, summary_line

    options = _ingest_options(args)
    settings = ziwo_settings(args)
    unverified: ZiwoListingError | None = None
    with open_warehouse(args.db, args, read_only=False) as warehouse, ZiwoClient(settings) as client:
        plan = plan_ingest(warehouse, settings.instance, settings.timezone, options)
        with _progress(client) as (progress, task, update):
            progress.update(task, total=len(plan.days))
            ingest_run = IngestRun(warehouse, client, plan, options, on_progress=update)
            try:
                ingest_run.run()
            except ZiwoListingError as failure:  # the other days are loaded: say what was
                unverified = failure
    print(summary_line(ingest_run) + f" -> {args.db}")
    for line in quarantine_lines(ingest_run):
        print(line)
    if unverified is not None:
        again = "this day" if len(unverified.checks) == 1 else "these days"
        raise RuntimeError(f"{unverified}; the next ingest reads {again} again")
    return 0
