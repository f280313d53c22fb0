"""`ziwo-reports simulator`: the built-in Ziwo API simulator, served until Ctrl-C; its options,
which `demo` shares."""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable

from ziwo_reports.cli.common import instant, port

NAME = "simulator"
HELP = "serve the built-in Ziwo API simulator"


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=port, default=8765, help="port (default 8765; 0: any free port)")
    add_simulator_options(parser, faults="none", fault_rate=0.05, slow_seconds=1.0)


def _limited(name: str, kind: type[int] | type[float]) -> Callable[[str], int | float]:
    """An argparse type for a numeric simulator setting, checked against SimConfig's own LIMITS."""

    def parse(text: str) -> int | float:
        from ziwo_reports.connectors.ziwo.simulator.world import check_limit

        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
        try:
            check_limit(name, value)
        except ValueError as problem:
            reason = str(problem).split(" is ", 1)[1]  # "<name> <value> is out of range: ..."
            raise argparse.ArgumentTypeError(f"{text!r} is {reason}") from None
        return value

    return parse


def add_simulator_options(parser: argparse.ArgumentParser, *, faults: str, fault_rate: float, slow_seconds: float):
    """The simulated instance's options, with the defaults of the command (simulator or demo)."""
    from ziwo_reports.connectors.ziwo.simulator import DEFAULT_PASSWORD, DEFAULT_USERNAME, FAULT_MODES

    def whole(name: str) -> Callable[[str], int | float]:
        return _limited(name, int)

    def number(name: str) -> Callable[[str], int | float]:
        return _limited(name, float)

    g = parser.add_argument_group("simulated instance")
    g.add_argument("--seed", type=whole("seed"), default=42, help="same seed, same data (default 42)")
    g.add_argument("--days", type=whole("days"), default=30, help="days of history up to today (default 30)")
    g.add_argument("--agents", type=whole("agents"), default=25, help="number of agents (default 25)")
    g.add_argument(
        "--calls-per-day",
        type=whole("calls_per_day"),
        default=2000,
        help="average contacts a day (default 2000)",
    )
    g.add_argument("--timezone", default="Asia/Dubai", help="the instance's IANA time zone (default Asia/Dubai)")
    g.add_argument("--now", type=instant, help="simulated current time, ISO 8601 with offset (default: now)")
    g.add_argument("--faults", choices=FAULT_MODES, default=faults, help=f"fault mode (default {faults})")
    g.add_argument(
        "--fault-rate",
        type=number("fault_rate"),
        default=fault_rate,
        help=f"share of requests with a fault (default {fault_rate})",
    )
    g.add_argument(
        "--bad-record-rate",
        type=number("bad_record_rate"),
        default=0.005,
        help="share of malformed records, hostile mode (default 0.005)",
    )
    g.add_argument(
        "--retry-after",
        type=whole("retry_after"),
        default=1,
        help="Retry-After seconds sent with 429 (default 1)",
    )
    g.add_argument(
        "--slow-seconds",
        type=number("slow_seconds"),
        default=slow_seconds,
        help=f"delay of a slow response (default {slow_seconds})",
    )
    g.add_argument(
        "--token-ttl",
        type=number("token_ttl"),
        default=3600.0,
        help="access-token lifetime in seconds (default 3600)",
    )
    g.add_argument(
        "--max-page-size", type=whole("max_page_size"), help="largest page served (default 1000; hostile faults: 100)"
    )
    g.add_argument(
        "--no-totals", dest="totals", action="store_false", help="call-history pages say no info.totalRecords"
    )
    g.add_argument(
        "--cache-days",
        type=whole("cache_days"),
        default=4,
        help="days kept in memory (default 4; benchmarks: all)",
    )
    g.add_argument(
        "--username",
        dest="sim_username",
        default=DEFAULT_USERNAME,
        help=f"login accepted (default {DEFAULT_USERNAME})",
    )
    g.add_argument(
        "--password",
        dest="sim_password",
        default=DEFAULT_PASSWORD,
        help="password accepted (default in README)",
    )


def simulator_config(args: argparse.Namespace):  # -> SimConfig
    from ziwo_reports.connectors.ziwo.simulator import SimConfig

    return SimConfig(
        seed=args.seed,
        days=args.days,
        agents=args.agents,
        calls_per_day=args.calls_per_day,
        timezone=args.timezone,
        faults=args.faults,
        fault_rate=args.fault_rate,
        bad_record_rate=args.bad_record_rate,
        username=args.sim_username,
        password=args.sim_password,
        token_ttl=args.token_ttl,
        retry_after=args.retry_after,
        slow_seconds=args.slow_seconds,
        max_page_size=args.max_page_size,
        totals=args.totals,
        now=args.now,
        cache_days=args.cache_days,
    )


def run(args: argparse.Namespace) -> int:
    from ziwo_reports.connectors.ziwo.simulator import Simulator

    simulator = Simulator(simulator_config(args), host=args.host, port=args.port)
    try:
        simulator.start()  # bind first: the banner promises an address that answers
    except OSError as problem:
        reason = problem.strerror or str(problem)
        raise ValueError(f"--host {args.host} --port {args.port}: cannot listen there: {reason}") from None
    try:
        cfg = simulator.config
        print(
            f"Ziwo simulator on {simulator.base_url}: seed {cfg.seed}, {cfg.agents} agents, "
            f"~{cfg.calls_per_day} calls/day, {simulator.first_day}..{simulator.last_day} in {cfg.timezone}, "
            f"faults {cfg.faults}; log in as {cfg.username}. Ctrl-C stops it.",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    finally:
        simulator.stop()
    return 0
