"""`ziwo-reports deliveries`: the delivery ledger, newest first."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from ziwo_reports.cli.common import (
    add_db_option,
    add_wait_option,
    duration,
    instant,
    open_warehouse,
    positive_int,
    shown,
)

NAME = "deliveries"
HELP = "list recent deliveries from the ledger (status, target, since)"


def _since(text: str) -> datetime:
    """An ISO 8601 instant with its offset, or a duration back from now (24h, 7d)."""
    if text[:1].isdigit() and ("-" in text or "T" in text):
        return instant(text)
    return datetime.now(UTC) - duration(text)


def add_options(parser: argparse.ArgumentParser) -> None:
    add_db_option(parser)
    parser.add_argument(
        "--status",
        choices=("planned", "sent", "failed", "gave_up", "gone", "held"),
        help="only deliveries in this status",
    )
    parser.add_argument("--not-sent", action="store_true", help="only those not sent: planned, failed, gave_up, gone")
    parser.add_argument("--target", help="only deliveries to this target: its name, or its type when it has none")
    parser.add_argument("--run", dest="run_id", help="only this run's (a flow run id)")
    parser.add_argument(
        "--since", type=_since, help="only those changed since: an instant with offset, or a duration (24h, 7d)"
    )
    parser.add_argument("--limit", type=positive_int, default=50, help="at most this many rows (default 50)")
    add_wait_option(parser)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from ziwo_reports.deliveries import list_deliveries

    with open_warehouse(args.db, args, read_only=True) as warehouse:
        rows = list_deliveries(
            warehouse, status=args.status, target=args.target, run_id=args.run_id, since=args.since,
            unsent=args.not_sent, limit=args.limit,
        )  # fmt: skip
    if not rows:
        print("no deliveries match")
        return 0
    table = Table(title=f"deliveries in {args.db}, newest first", title_justify="left")
    for header in ("id", "updated (UTC)", "source", "target", "item", "rows", "status", "tries", "error"):
        table.add_column(header, justify="right" if header in ("id", "rows", "tries") else "left")
    for row in rows:
        table.add_row(
            str(row.delivery_id), f"{row.updated_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}", row.source,
            row.target_type if row.target_name == row.target_type else f"{row.target_type} {row.target_name}",
            shown(row.target_ref or row.target), f"{row.row_count:,}", row.status,
            str(row.attempts), row.last_error or "",
        )  # fmt: skip
    Console(width=200).print(table)
    return 0
