"""`ziwo-reports report`: a report from the warehouse, as a table, CSV or JSON, or report files.

Its options are made from the models (see model_options): every field of ReportSpec, of its
filters and metric settings, and the FileOptions fields of FILE_FIELDS. A new field there is a
new option here, named, typed and described by the field; the model validates what is given."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ziwo_reports.cli.common import (
    add_db_option,
    add_wait_option,
    check_line,
    check_output,
    deliver_to,
    open_warehouse,
    print_plan,
)
from ziwo_reports.cli.model_options import Override, add_model_options, flag_of, in_option_terms, model_values

NAME = "report"
HELP = "compute a report from the warehouse"

#: The groups of the spec's options in --help, by ReportSpec field ("what and when": its own).
SPEC_GROUPS = {
    "filters": "filters (comma-separated lists; repeatable)",
    "settings": "metric settings (defaults in docs/metrics.md)",
}
#: The FileOptions fields the command line sets; the others keep their defaults.
FILE_FIELDS = ("formats", "destination", "template")


def _formats(text: str) -> list[str]:
    """--files: the formats, refused here as a whole (exit 2), as before the options were made."""
    from ziwo_reports.connectors.files.naming import EXTENSIONS

    formats = [part.strip() for part in text.split(",") if part.strip()]
    if not formats or set(formats) - set(EXTENSIONS):
        known = f"{', '.join(EXTENSIONS[:-1])} and {EXTENSIONS[-1]}"
        raise argparse.ArgumentTypeError(f"{text!r}: formats are {known}")
    return formats


#: Where a field's option departs from the rules. `formats` is `--files`, which also asks for
#: report files at all: FileOptions' default formats are the flows', not the command line's.
FILE_OVERRIDES = {
    "formats": Override(
        flag="--files", type=_formats, help="write these files, comma-separated: xlsx,csv,parquet,json"
    ),
}


def add_options(parser: argparse.ArgumentParser) -> None:
    from ziwo_reports.connectors.files import FileOptions
    from ziwo_reports.report_model import ReportSpec

    add_db_option(parser)
    spec = add_model_options(parser, ReportSpec, title="what and when", nested_titles=SPEC_GROUPS)
    parser.add_argument("--format", choices=("csv", "json"), help="print or write CSV or JSON instead of a table")
    parser.add_argument("--out", type=Path, help="write to this file (default: the terminal)")
    files = add_model_options(
        parser,
        FileOptions,
        title="report files (Excel, CSV, Parquet, JSON; see README)",
        only=FILE_FIELDS,
        overrides=FILE_OVERRIDES,
    )
    deliver = parser.add_argument_group("deliveries (webhooks, HTTP APIs, files; see README)")
    deliver.add_argument(
        "--deliver",
        type=Path,
        metavar="FILE",
        help="deliver the report to the targets of this YAML file (a list of targets, each with a type)",
    )
    deliver.add_argument(
        "--dry-run",
        action="store_true",
        help="with --deliver or --files: show what would be sent (items, the first requests, secrets masked); "
        "send and record nothing",
    )
    deliver.add_argument(
        "--check",
        action="store_true",
        help="with --deliver: test each target's connection (a harmless request, HEAD by default) and print "
        "its status and latency; no report is computed, nothing is sent",
    )
    deliver.add_argument(
        "--force",
        action="store_true",
        help="with --deliver: send again what the ledger shows as sent to targets that never send an item twice "
        "(e-mail: a rerun of the same period sends nothing without it)",
    )
    add_wait_option(parser)
    parser.set_defaults(spec_options=spec, file_options=files)


def report_spec_from(args: argparse.Namespace):  # -> ReportSpec
    """The report spec of the command's options; errors name the option and the value."""
    from ziwo_reports.report_model import ReportSpecError, make_spec

    try:
        return make_spec(**model_values(args, args.spec_options))
    except ReportSpecError as problem:
        raise ReportSpecError(in_option_terms(str(problem), args.spec_options)) from None


def run(args: argparse.Namespace) -> int:
    from ziwo_reports.connectors.files.delivery import FileTarget
    from ziwo_reports.report import compute_report
    from ziwo_reports.report_model import ReportSpecError
    from ziwo_reports.report_output import render, write

    spec, files = _report_request(args)
    targets = _delivery_targets(args)
    if args.check:
        return _check(targets)
    if not args.db.exists():
        raise ValueError(f"--db {str(args.db)!r}: no warehouse there; run `ziwo-reports ingest` first")
    # Read-only: reports run side by side, and beside nothing that writes; the file is never changed.
    with open_warehouse(args.db, args, read_only=True) as warehouse:
        try:
            report = compute_report(warehouse, spec)
        except ReportSpecError as problem:  # an instance the warehouse does not hold
            raise ReportSpecError(in_option_terms(str(problem), args.spec_options)) from None
    if args.dry_run:
        every = ([FileTarget(**files.model_dump())] if files else []) + targets
        _show_plans(report, every)
        return 0
    if files:
        # The files are a delivery: each one in the ledger before it is written and once it was (a
        # moment's write to the warehouse each), and `replay` writes again what failed.
        target = FileTarget(**files.model_dump())
        delivered = deliver_to(report, target, args.db, args, source=NAME, prefix=f"{report.title}: ")
        try:
            delivered.raise_for_failures()
        except Exception as problem:  # a full disk: nothing of this run is left in place, or the error lists it
            raise RuntimeError(f"--files {','.join(args.files)!r}: {problem}") from None
    elif args.out is not None or args.format is not None:
        try:
            write(report, args.format or "csv", args.out)
        except OSError as problem:
            raise OSError(f"--out {str(args.out)!r}: {problem}") from None
        if args.out is not None:
            print(f"{report.title}: {report.table.num_rows} rows -> {args.out}")
    elif not targets:
        render(report)
    if targets:
        _deliver(report, targets, args)
    return 0


def _delivery_targets(args: argparse.Namespace) -> list:  # -> list[TargetOptions]
    """The targets of --deliver, every one validated before the warehouse is opened."""
    from ziwo_reports.connectors.delivery import DeliveryConfigError
    from ziwo_reports.deliveries import read_targets

    if args.dry_run and not (args.deliver or args.files):
        raise ValueError("--dry-run shows what --deliver or --files would send: give one of them")
    if args.check and not args.deliver:
        raise ValueError("--check tests the targets of --deliver: give --deliver FILE")
    if args.force and not args.deliver:
        raise ValueError("--force sends again what --deliver sent before: give --deliver FILE")
    if args.deliver is None:
        return []
    try:
        return read_targets(args.deliver)
    except DeliveryConfigError as problem:
        raise ValueError(f"--deliver {str(args.deliver)!r}: {problem}") from None


def _check(targets: list) -> int:
    """Test each target's connection; 1 when any cannot take deliveries."""
    from ziwo_reports.connectors.delivery import delivery_for

    failed = 0
    for target in targets:
        result = delivery_for(target).check()
        failed += not result.ok
        print(check_line(target, result))
    return 1 if failed else 0


def _show_plans(report, targets: list) -> None:
    """The dry run: per target, its items and the first requests exactly as they would go out."""
    from ziwo_reports.connectors.delivery import delivery_for

    print(f"{report.title}: {report.table.num_rows} rows; dry run, nothing is sent or recorded")
    for target in targets:
        print_plan(delivery_for(target).plan(report))


def _deliver(report, targets: list, args: argparse.Namespace) -> None:
    """Deliver to every target (each item in the ledger), then fail naming the first that did not arrive."""
    from ziwo_reports.deliveries import new_run_id

    run_id, failed = new_run_id(), []
    for target in targets:
        delivered = deliver_to(
            report, target, args.db, args, source=NAME, run_id=run_id, prefix=f"{report.title}: ", force=args.force
        )
        failed += [delivered] if delivered.failed else []
    for delivered in failed[1:]:
        try:
            delivered.raise_for_failures()
        except Exception as problem:
            print(f"error: {problem}", file=sys.stderr)
    if failed:
        try:
            failed[0].raise_for_failures()
        except Exception as problem:
            raise RuntimeError(f"--deliver {str(args.deliver)!r}: {problem}") from None


def _report_request(args: argparse.Namespace):  # -> tuple[ReportSpec, FileOptions | None]
    """The spec and file options of `report`, with every option checked before the warehouse is
    opened: options that conflict, the window's size, the output file or folder and its names."""
    from ziwo_reports.report_model import ReportSpecError, report_window

    def given(*options: tuple[str, object]) -> list[str]:
        return [f"{option} {str(value)!r}" for option, value in options if value is not None]

    if args.files:
        clashing = given(("--format", args.format), ("--out", args.out))
        if clashing:
            raise ValueError(
                f"--files {','.join(args.files)!r} conflicts with {' and '.join(clashing)}: report files go to "
                "--destination, named by --template; give --files or --format/--out"
            )
    else:
        stray = given(("--destination", args.destination), ("--template", args.template))
        if stray:
            raise ValueError(f"{' and '.join(stray)}: only with --files, which is not given")
    spec = report_spec_from(args)
    try:
        _, window = report_window(spec)
    except ReportSpecError as problem:
        raise ReportSpecError(in_option_terms(str(problem), args.spec_options)) from None
    if not args.files:
        if args.out is not None:
            check_output("--out", args.out)
        return spec, None
    files = _file_options(args)
    _check_report_files(args, spec, window, files)
    return spec, files


def _check_report_files(args: argparse.Namespace, spec, window, files) -> None:
    """The destination is a folder (or can be made one) and every file name fits the file system."""
    from ziwo_reports.connectors.files.destination import DestinationError, OutsideDestinationError
    from ziwo_reports.connectors.files.naming import TemplateError
    from ziwo_reports.connectors.files.write import check_report_files

    try:
        check_report_files(spec, window, files)
    except DestinationError as problem:
        raise ValueError(f"--destination {files.destination!r}: {problem}") from None
    except (TemplateError, OutsideDestinationError) as problem:
        message = str(problem).removeprefix(f"file name template {files.template!r} ")
        default = "" if args.template else " (the default)"
        raise ValueError(f"--template {files.template!r}{default}: {message}") from None


def _file_options(args: argparse.Namespace):  # -> FileOptions
    """The report-file options; errors name the option and the value."""
    from pydantic import ValidationError

    from ziwo_reports.connectors.files import FileOptions

    # an empty --destination or --template means its default, as it always has
    values = {name: value for name, value in model_values(args, args.file_options).items() if value != ""}
    try:
        return FileOptions(**values)
    except ValidationError as problems:
        error = problems.errors()[0]
        option = flag_of(args.file_options, error["loc"]) or str(error["loc"][0])
        message = error["msg"].removeprefix("Value error, ").removeprefix(f"file name template {error['input']!r} ")
        raise ValueError(f"{option} {error['input']!r}: {message}") from None
