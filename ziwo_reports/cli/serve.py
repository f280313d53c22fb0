"""`ziwo-reports serve`: the deployments of prefect.yaml, schedules included, in this process."""

from __future__ import annotations

import argparse

from ziwo_reports.cli.common import positive_int

NAME = "serve"
HELP = "run the deployments of prefect.yaml (schedules included) in this process, without a work pool"


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--deployment", action="append", help="only this deployment (repeatable; default: all)")
    parser.add_argument("--limit", type=positive_int, help="at most this many flow runs at once")


def run(args: argparse.Namespace) -> int:
    from prefect import serve
    from prefect.settings import PREFECT_API_URL

    from ziwo_reports.flows.deployments import runner_deployments, work_pool_deployments

    deployments = runner_deployments(names=args.deployment or None)
    # serve() would replace a work pool's deployment of the same name: its pull steps lost, the
    # next worker run failing, and the deployment paused when serve stops. Refuse instead.
    held = work_pool_deployments(deployments)
    if held:
        where = "; ".join(f"{', '.join(names)} in work pool {pool!r}" for pool, names in held.items())
        raise ValueError(
            f"not serving: {PREFECT_API_URL.value() or 'the Prefect API'} has {where} (prefect deploy), and serve "
            "would replace them; `prefect deployment delete` them first, or serve on another Prefect server"
        )
    print("serving " + ", ".join(d.name for d in deployments) + " (Ctrl-C stops)")
    serve(*deployments, limit=args.limit)
    return 0
