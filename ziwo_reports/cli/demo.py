"""`ziwo-reports demo`: a simulator in-process, two ingests, a check against its ground truth,
yesterday's agent-performance report on the terminal and as files, then two example workflows
delivering to a loopback webhook receiver the demo starts (see demo_workflows)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ziwo_reports.cli.common import add_wait_option, deliver_to, open_warehouse
from ziwo_reports.cli.simulator import add_simulator_options, simulator_config

NAME = "demo"
HELP = (
    "start the simulator, ingest its calls twice, check the warehouse, report on yesterday, "
    "run two example workflows into a loopback webhook receiver"
)


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out-dir", type=Path, default=Path("reports_out"), help="where files go (default reports_out)"
    )
    parser.add_argument(
        "--report-timezone",
        default="UTC-12:00",
        help="zone of the closing agent-performance report (default UTC-12:00)",
    )
    parser.add_argument(
        "--examples",
        type=Path,
        default=Path("workflows/examples"),
        help="the folder of the example workflows the demo runs (default workflows/examples)",
    )
    add_simulator_options(parser, faults="flaky", fault_rate=0.05, slow_seconds=0.3)
    add_wait_option(parser)


def run(args: argparse.Namespace) -> int:
    from ziwo_reports.cli import demo_workflows
    from ziwo_reports.cli.webhook_receiver import WebhookReceiver
    from ziwo_reports.connectors.files.delivery import FileTarget
    from ziwo_reports.connectors.files.headline import totals
    from ziwo_reports.connectors.ziwo import ZiwoClient, ZiwoSettings
    from ziwo_reports.connectors.ziwo.simulator import Simulator
    from ziwo_reports.http import HttpPolicy
    from ziwo_reports.ingest import IngestOptions, ingest, quarantine_lines, summary_line
    from ziwo_reports.report import compute_report
    from ziwo_reports.report_model import make_spec
    from ziwo_reports.report_output import format_value, render

    cfg = simulator_config(args)
    db = args.out_dir / "ziwo.duckdb"
    examples = demo_workflows.load_examples(args.examples)  # before any work: a missing file is one line
    if not args.verbose:  # the summaries count the retries; one line per retry is for -v
        logging.getLogger("ziwo_reports.http").setLevel(logging.ERROR)
    secret = demo_workflows.new_secret()
    demo_workflows.use_secret(secret)  # this process's environment only, never printed

    def on_wait(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    with WebhookReceiver(secret) as receiver:
        with Simulator(cfg) as simulator:
            print(
                f"simulator: {simulator.base_url}, {cfg.agents} agents, ~{cfg.calls_per_day} calls/day, "
                f"{simulator.first_day}..{simulator.last_day} in {cfg.timezone}, faults {cfg.faults}"
            )
            now = simulator.store.world.now
            settings = ZiwoSettings(
                base_url=simulator.base_url,
                instance="simulator",
                timezone=cfg.timezone,
                username=cfg.username,
                password=cfg.password,
                http=HttpPolicy.from_env(backoff_base=0.2),
            )
            demos = [demo_workflows.retarget(path, receiver, args.out_dir) for path in examples.values()]
            for demo in demos:  # deployed before the first ingest: it sees each call the ingests load
                if demo.workflow.trigger.kind == "after_call":
                    demo_workflows.start_after_call(demo, db, now, args.wait, on_wait)
            options = IngestOptions(initial_days=cfg.days)
            with open_warehouse(db, args, read_only=False) as warehouse:
                for label in ("first run", "next run"):
                    with ZiwoClient(settings) as client:
                        run = ingest(warehouse, client, options, now=now)
                    print(f"{label}: {summary_line(run)}")
                    for line in quarantine_lines(run):
                        print(line)
            first, last = simulator.first_day, simulator.last_day
            truth = simulator.truth(first, last)
        span = {"instance": "simulator", "first_day": first, "last_day": last}
        # The checks only read, as a report does: read-only, beside any other reader of the file.
        with open_warehouse(db, args, read_only=True) as warehouse:
            held = {call_id for (call_id,) in warehouse.run("held_calls", **span)}
            (quarantined,) = warehouse.one("quarantined_between", **span)
            tables = dict(warehouse.run("instance_row_counts", instance="simulator"))
            spec = make_spec(instance="simulator", rolling_date="yesterday", timezone=args.report_timezone)
            report = compute_report(warehouse, spec, now=now)
        print(f"warehouse {db}: " + ", ".join(f"{n} {name}" for name, n in tables.items()))
        missing, extra = len(truth.calls - held), len(held - truth.calls)
        print(
            f"check against the simulator's ground truth for {first}..{last}: {len(truth.calls)} calls served, "
            f"{len(held)} in the warehouse, {missing} missing, {extra} extra; "
            f"{len(truth.bad)} malformed served, {quarantined} in quarantine"
        )
        if missing or extra or quarantined != len(truth.bad):
            print("MISMATCH with the ground truth", file=sys.stderr)
            return 1
        print()
        render(report)
        print("totals: " + ", ".join(f"{t.label} {format_value(t.value, t.kind)}" for t in totals(report)))
        files = FileTarget(formats=["xlsx", "csv"], destination=str(args.out_dir))
        deliver_to(report, files, db, args, source=NAME).raise_for_failures()
        print(
            f"\nexample workflows from {args.examples}, re-targeted for the demo (the files are not changed): "
            f"webhooks to the receiver at {receiver.url('/')} (signed with a fresh secret, "
            f"{demo_workflows.HOOK_REFERENCE}), files to {args.out_dir}; now is the simulator's {now.isoformat()}"
        )
        outcome = demo_workflows.run_examples(demos, receiver, db, now, args.wait, on_wait)
    for problem in outcome.problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if outcome.problems else 0
