"""`ziwo-reports replay`: send again the deliveries that did not arrive."""

from __future__ import annotations

import argparse

from ziwo_reports.cli.common import add_db_option, add_wait_option, open_warehouse, positive_int, shown

NAME = "replay"
HELP = "send again the deliveries of the ledger that failed (by id, target or run)"
DESCRIPTION = (
    "Sends again the items of the delivery ledger that were not sent (failed, gave_up, or planned and "
    "interrupted): the report is computed again from the spec the ledger kept, its 'now' pinned, and "
    "only those items are delivered; each new attempt is recorded. A sent item is sent again only "
    "with --force."
)


def add_options(parser: argparse.ArgumentParser) -> None:
    add_db_option(parser)
    what = parser.add_argument_group("which deliveries (at least one)")
    what.add_argument("--id", type=positive_int, action="append", dest="ids", help="this delivery id (repeatable)")
    what.add_argument("--target", help="every unsent delivery of this target")
    what.add_argument("--run", dest="run_id", help="every unsent delivery of this run")
    what.add_argument("--all", action="store_true", help="every unsent delivery")
    parser.add_argument("--force", action="store_true", help="send again what was sent, too")
    add_wait_option(parser)


def run(args: argparse.Namespace) -> int:
    from ziwo_reports.deliveries import list_deliveries, replay
    from ziwo_reports.report import compute_report

    if not (args.ids or args.target or args.run_id or args.all):
        raise ValueError("replay needs --id, --target, --run or --all: which deliveries to send again")
    with open_warehouse(args.db, args, read_only=True) as warehouse:
        rows = list_deliveries(
            warehouse, ids=args.ids, target=args.target, run_id=args.run_id, unsent=not args.force, limit=100_000
        )
    if args.ids:
        missing = sorted(set(args.ids) - {row.delivery_id for row in rows})
        if missing:
            why = "no such delivery" if args.force else "no such delivery, or it was sent (--force sends it again)"
            raise ValueError(f"--id {', '.join(map(str, missing))}: {why}")
    if not rows:
        print("nothing to replay: every delivery selected was sent")
        return 0

    def compute(spec):  # -> Report
        with open_warehouse(args.db, args, read_only=True) as warehouse:
            return compute_report(warehouse, spec)

    replayed = replay(rows, compute, lambda: open_warehouse(args.db, args, read_only=False))
    for row in rows:
        result = replayed.results.get(row.delivery_id)
        if result is not None and result.status == "sent":
            print(f"delivery {row.delivery_id}: sent {shown(result.ref or row.target)} (attempt {row.attempts + 1})")
    failed = replayed.failed
    if failed:
        first = next(iter(failed.items()))
        raise RuntimeError(
            f"{len(failed)} of {len(rows)} deliveries still not sent (delivery {first[0]}: {first[1]}); "
            "the ledger has each error: ziwo-reports deliveries --not-sent"
        )
    print(f"replayed {len(rows)} deliveries: all sent")
    return 0
