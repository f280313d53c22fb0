"""What several commands share: the parsers and their one-line errors, the argument types (dates,
durations, numbers), the Ziwo connection options, the warehouse with `--wait`. Light to import:
anything heavy is imported inside the function that needs it."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

from ziwo_reports import redaction

log = logging.getLogger("ziwo_reports")


class OneLineParser(argparse.ArgumentParser):
    """Option errors as one line, `error: argument --x: ...`, like every other error (exit 2)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


class CommandParser(OneLineParser):
    """A command's parser, whose options are added the first time it parses or shows its help:
    `ziwo-reports --help` and every other command then never import what one command's options
    are made from (the report's models, the simulator's limits)."""

    def __init__(self, *args, add_options: Callable[[argparse.ArgumentParser], None] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._add_options = add_options

    def _complete(self) -> None:
        if self._add_options is not None:
            add, self._add_options = self._add_options, None
            add(self)

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        self._complete()
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self._complete()
        return super().format_usage()

    def format_help(self) -> str:
        self._complete()
        return super().format_help()


def one_line_error(problem: Exception) -> int:
    """A failed command's error as one line on stderr, secrets masked (the traceback only with -vv); exit 1."""
    log.debug("failed", exc_info=problem)
    message = re.sub(r"\s*\n\s*", " ", str(problem).strip())  # one line, whatever the exception held
    print(f"error: {redaction.redact(message)}", file=sys.stderr)
    return 1


# Argument types ---------------------------------------------------------------------------------


def _within_years(value: date, text: str) -> None:
    """Dates users give stay within the years timewindows allows: date sums never overflow."""
    from ziwo_reports.timewindows import FIRST_DAY, LAST_DAY

    if not FIRST_DAY <= value <= LAST_DAY:
        raise argparse.ArgumentTypeError(
            f"{text!r} is outside the years {FIRST_DAY.year} to {LAST_DAY.year} that dates may take"
        )


def day(text: str) -> date:
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date as YYYY-MM-DD") from None
    _within_years(value, text)
    return value


def instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 date-time") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset, e.g. {text}+04:00 or {text}Z")
    _within_years(value.date(), text)
    return value


def duration(text: str) -> timedelta:
    from ziwo_reports.timewindows import parse_duration

    try:
        return parse_duration(text)
    except ValueError as problem:
        raise argparse.ArgumentTypeError(str(problem)) from None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def days(text: str) -> int:
    """A number of days, 1 to timewindows.MAX_DAYS (ten years)."""
    from ziwo_reports.timewindows import MAX_DAYS

    value = positive_int(text)
    if value > MAX_DAYS:
        raise argparse.ArgumentTypeError(f"{text!r} is more than {MAX_DAYS} days (ten years)")
    return value


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number: 0 (any free port) to 65535")
    return value


# The warehouse ----------------------------------------------------------------------------------


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        type=Path,
        default=Path(os.environ.get("ZIWO_REPORTS_DB") or "reports_out/ziwo.duckdb"),
        help="warehouse file (default $ZIWO_REPORTS_DB or reports_out/ziwo.duckdb)",
    )


def _wait_seconds(text: str) -> float:
    from ziwo_reports.warehouse import lock_wait

    try:
        return lock_wait(text)
    except ValueError as problem:
        raise argparse.ArgumentTypeError(str(problem).removeprefix("--wait ")) from None


def add_wait_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        type=_wait_seconds,
        metavar="SECONDS",
        help="while another process holds the warehouse file, wait up to this long for it "
        "(default $ZIWO_REPORTS_DB_WAIT or 300)",
    )


def open_warehouse(db: Path, args: argparse.Namespace, *, read_only: bool):  # -> Warehouse
    """The warehouse of a command: waits for another process's lock, saying so once on stderr."""
    from ziwo_reports.warehouse import open_warehouse

    return open_warehouse(
        db, read_only=read_only, wait=args.wait, on_wait=lambda message: print(message, file=sys.stderr, flush=True)
    )


# Output files -----------------------------------------------------------------------------------


def check_output(option: str, path: Path) -> None:
    """Refuse, before any work, an output path that cannot become a file, naming the option."""
    from ziwo_reports.files import check_output_file

    try:
        check_output_file(path)
    except ValueError as problem:
        raise ValueError(f"{option} {str(path)!r}: {problem}") from None


def shown(path: str) -> str:
    """A written file as the user named it: relative to the current folder when inside it."""
    if "://" in path:
        return path
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def deliver_to(
    report,
    target,
    db: Path,
    args: argparse.Namespace,
    *,
    source: str,
    run_id: str | None = None,
    prefix: str = "",
    force: bool = False,
):  # -> Delivered
    """Deliver the report to one target, every item in the ledger of `db` (opened for a moment
    per ledger write). Files: one line `wrote <path> (<format>, <bytes> bytes, <rows> rows)` per
    file written; other targets: one line of items sent and not sent."""
    from ziwo_reports.deliveries import deliver_report, new_run_id

    def ledger():  # -> Warehouse
        return open_warehouse(db, args, read_only=False)

    delivered = deliver_report(report, target, ledger, run_id=run_id or new_run_id(), source=source, force=force)
    plan = delivered.plan
    if plan.target_type == "file":
        for item in delivered.results:
            if item.status == "sent":
                info = item.info
                what = f"{info['format']}, {info['bytes']:,} bytes, {info['rows']} rows"
                print(f"{prefix}wrote {shown(item.ref)} ({what})")
    else:
        sent = len(delivered.results) - len(delivered.failed) - len(delivered.held)
        again = len(delivered.already_sent)
        print(
            f"{prefix}{plan.target_type} {plan.target_name}: {sent} of {len(plan.items)} items sent"
            + (f", {len(delivered.failed)} not sent (in the ledger)" if delivered.failed else "")
            + (f", {again} of them sent before and not again (--force sends them again)" if again else "")
            + (f", {len(delivered.held)} held for the next digest" if delivered.held else "")
        )
    return delivered


# Dry runs and checks ----------------------------------------------------------------------------

#: Item lines a dry run prints per target.
SHOWN_ITEMS = 10


def print_plan(plan) -> None:  # plan: connectors.delivery.Plan
    """A target's dry run: its items (the first SHOWN_ITEMS) and the first requests exactly as they
    would go out (secrets masked), each list capped with a count of the rest."""
    import orjson

    rows = sum(item.rows for item in plan.items)
    print(f"\n{plan.target_type} {plan.target_name}: {len(plan.items)} items, {rows} rows")
    lines = plan.describe()
    for line in lines[:SHOWN_ITEMS]:
        print(f"  {line}")
    if len(lines) > SHOWN_ITEMS:
        print(f"  ... and {len(lines) - SHOWN_ITEMS} more items")
    for request in plan.requests:
        print(orjson.dumps(request, option=orjson.OPT_INDENT_2).decode())
    if plan.requests and len(plan.items) > len(plan.requests):
        print(f"(the first {len(plan.requests)} of {len(plan.items)} requests shown)")


def check_line(target, result) -> str:  # TargetOptions, CheckResult
    """A target's check as one line: `ok  webhook hook: HEAD ...: HTTP 200 in 3 ms, answers`."""
    return f"{'ok' if result.ok else 'FAILED'}  {target.type} {target.target_name}: {result.detail}"


# The Ziwo connection ----------------------------------------------------------------------------


def add_connection_options(parser: argparse.ArgumentParser, *, for_block: bool = False) -> None:
    group = parser.add_argument_group(
        "Ziwo connection (each also from the environment: ZIWO_INSTANCE or ZIWO_BASE_URL, "
        "ZIWO_USERNAME, ZIWO_PASSWORD, ZIWO_ACCESS_TOKEN, ZIWO_TIMEZONE, ZIWO_COUNTRY_CODE, ZIWO_PAGE_SIZE)"
    )
    group.add_argument("--instance", help="instance name: 'acme' means https://acme-api.aswat.co")
    group.add_argument("--base-url", help="API base URL, e.g. the simulator's http://127.0.0.1:8765")
    group.add_argument("--username", help="login e-mail")
    group.add_argument("--password", help="password (prefer ZIWO_PASSWORD: options show in `ps`)")
    group.add_argument("--access-token", help="an existing access token instead of a login")
    if not for_block:
        group.add_argument("--block", help="name of a saved 'Ziwo Credentials' Prefect block to use instead")
    group.add_argument("--timezone", help="the instance's IANA time zone, in which Ziwo reads dates (default UTC)")
    group.add_argument("--country-code", help="the instance's country calling code, for repeat callers (default 971)")
    if not for_block:
        group.add_argument("--page-size", type=positive_int, help="records per request (default 500)")


def ziwo_settings(args: argparse.Namespace):  # -> ZiwoSettings
    """The connection of the options, else of a block, else of the ZIWO_* variables."""
    from ziwo_reports.connectors.ziwo import ZiwoSettings
    from ziwo_reports.http import HttpPolicy

    http = HttpPolicy.from_env()
    extra = {"page_size": args.page_size} if args.page_size else {}
    if args.block:
        from ziwo_reports.connectors.ziwo.block import ZiwoCredentials

        if args.timezone:
            extra["timezone"] = args.timezone
        if args.country_code:
            extra["country_code"] = args.country_code
        return ZiwoCredentials.load(args.block).settings(http=http, **extra)
    options = {
        "instance": args.instance,
        "base_url": args.base_url,
        "timezone": args.timezone,
        "country_code": args.country_code,
        "username": args.username,
        "password": args.password,
        "access_token": args.access_token,
        **extra,
    }
    return ZiwoSettings.from_sources(options, http=http)
