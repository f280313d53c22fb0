"""The `ziwo-reports` command line: one module per command, each with `NAME`, `HELP` (and
optionally `DESCRIPTION`), `add_options(parser)` and `run(args)`; `common` holds what several
share. A command's options are added only when it runs or shows its help, and heavy imports happen
inside the commands, so that `--help` and quick commands stay fast."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from ziwo_reports import redaction
from ziwo_reports.cli import (
    deliveries,
    demo,
    ingest,
    pull,
    receive,
    replay,
    report,
    save_block,
    serve,
    simulator,
    workflow,
)
from ziwo_reports.cli.common import CommandParser, OneLineParser, one_line_error

#: The commands, in the order `--help` lists them. A new command is a module here.
COMMANDS = (pull, ingest, report, deliveries, replay, workflow, receive, serve, save_block, simulator, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="ziwo-reports", description="Reports on Ziwo call-center data.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=CommandParser)
    for command in COMMANDS:
        sub = commands.add_parser(
            command.NAME,
            help=command.HELP,
            description=getattr(command, "DESCRIPTION", None),
            add_options=command.add_options,
        )
        sub.set_defaults(func=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    redaction.install()
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as problem:  # one clean line for the user; the traceback only with -vv
        return one_line_error(problem)
