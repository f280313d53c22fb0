"""`ziwo-reports pull`: call records of a date range to JSON Lines, with a rejects file beside."""

from __future__ import annotations

import argparse
from pathlib import Path

from ziwo_reports.cli.common import add_connection_options, check_output, day, ziwo_settings

NAME = "pull"
HELP = "pull call records of a date range to JSON Lines"


def add_options(parser: argparse.ArgumentParser) -> None:
    add_connection_options(parser)
    parser.add_argument("--from", dest="from_", type=day, required=True, help="first day, YYYY-MM-DD (instance time)")
    parser.add_argument("--to", type=day, help="last day, included (default: --from)")
    parser.add_argument("--out", type=Path, help="output file (default reports_out/calls_<from>_<to>.jsonl)")
    parser.add_argument("--no-agent-check", action="store_true", help="do not reject calls of unknown agents")


def run(args: argparse.Namespace) -> int:
    from ziwo_reports.connectors.ziwo import ZiwoClient, ZiwoListingError
    from ziwo_reports.files import check_output_file
    from ziwo_reports.pull import pull_to_jsonl, rejects_path

    end = args.to or args.from_
    if end < args.from_:
        raise ValueError(f"--to {end} is before --from {args.from_}")
    out = args.out or Path("reports_out") / f"calls_{args.from_}_{end}.jsonl"
    check_output("--out", out)
    try:
        check_output_file(rejects_path(out))
    except ValueError as problem:
        raise ValueError(f"--out {str(out)!r}: its rejects file {rejects_path(out).name!r}: {problem}") from None
    with ZiwoClient(ziwo_settings(args)) as client:
        try:
            result = pull_to_jsonl(client, args.from_, end, out, check_agents=not args.no_agent_check)
        except ZiwoListingError as unverified:
            raise RuntimeError(f"{unverified}; nothing written") from None
    print(result.summary() + (f" (rejects: {result.rejects_out})" if result.stats.rejects else ""))
    return 0
