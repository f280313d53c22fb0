"""`ziwo-reports workflow list|validate|test|run`: the workflows of a folder, whether they would work,
what they would send (and a marked test send), and running one now."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

NAME = "workflow"
HELP = "list, validate, test, run, deploy or remove the workflows of a folder"
DESCRIPTION = (
    "Workflows are YAML files (one per workflow) in a folder, `workflows` by default. `list` shows them; "
    "`validate` checks one (by name or file) or all of them, conditions included, and prints `ok <name>` "
    "for each, or one line per error naming the file, the field and the value (exit 1). `test NAME` is a dry "
    "run: what its conditions keep and drop now, what each target would be sent, and each target's check "
    "(exit 1 when one fails); nothing is sent or written. With --send-test it then sends one marked test item "
    "to each target and prints its answer. `run NAME` runs one now against the warehouse: what its conditions "
    "kept, then one line per target (exit 1 naming the first failure, in the ledger for `replay`). `deploy NAME` "
    "creates or updates its Prefect deployment (ziwo-workflow/NAME: a cron schedule, a trigger after each "
    "ingest, or none for manual) on the Prefect API of PREFECT_API_URL, in a work pool (--pool); unchanged, it "
    "changes nothing. `remove NAME` deletes it."
)


def add_options(parser: argparse.ArgumentParser) -> None:
    from ziwo_reports.cli.common import add_db_option, add_wait_option, instant

    parser.add_argument(
        "action",
        choices=("list", "validate", "test", "run", "deploy", "remove"),
        help="list, validate, test, run, deploy or remove",
    )
    parser.add_argument(
        "workflow",
        nargs="?",
        help="validate: a workflow's name or its file (default: all); test, run: its name or file",
    )
    parser.add_argument(
        "--dir", type=Path, default=Path("workflows"), help="the folder of workflow files (default: workflows)"
    )
    add_db_option(parser)
    parser.add_argument(
        "--as-of",
        type=instant,
        metavar="ISO",
        help="test, run: the moment taken as now, with its offset (2026-11-11T06:00:00+04:00); default: now",
    )
    parser.add_argument(
        "--send-test",
        action="store_true",
        help="test: after the dry run, send one marked test item to each target (webhook: a .test event; "
        "http_api: X-Ziwo-Test: true, to test_url when set; file: -test file names) and print its answer",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="run: send again what the ledger shows as sent to targets that never send an item twice (e-mail)",
    )
    add_wait_option(parser)
    parser.add_argument(
        "--pool",
        default="ziwo-reports",
        help="deploy: the Prefect work pool its runs go to (default: ziwo-reports, as prefect.yaml's deployments)",
    )


def _operation(workflow) -> str:
    if workflow.operation.kind == "report":
        report = workflow.operation.report
        return f"report {report.report} {report.rolling_date}"
    if workflow.operation.kind == "export":
        return f"export call-details {workflow.operation.export.rolling_date}"
    return "call"


def run(args: argparse.Namespace) -> int:
    if args.send_test and args.action != "test":
        raise ValueError(f"--send-test: only with `workflow test`, not `workflow {args.action}`")
    if args.force and args.action != "run":
        raise ValueError(f"--force: only with `workflow run`, not `workflow {args.action}`")
    if args.action == "run":
        return _run(args)
    if args.action == "test":
        return _test(args)
    if args.action in ("deploy", "remove"):
        return _deploy(args) if args.action == "deploy" else _remove(args)
    return _list(args.dir) if args.action == "list" else _validate(args.dir, args.workflow)


def _list(folder: Path) -> int:
    from rich.console import Console
    from rich.table import Table

    from ziwo_reports.workflows.model import load_workflows

    workflows = load_workflows(folder)
    if not workflows:
        print(f"no workflows in {folder}")
        return 0
    table = Table(title=f"workflows in {folder}", title_justify="left")
    for header in ("name", "enabled", "trigger", "operation", "deliveries"):
        table.add_column(header, overflow="fold")
    for name, (_, workflow) in sorted(workflows.items()):
        targets = ", ".join(f"{t.type} {t.target_name}" if t.name else t.type for t in workflow.targets())
        table.add_row(name, "yes" if workflow.enabled else "no", workflow.trigger_text(), _operation(workflow), targets)
    Console(width=200).print(table)
    return 0


def _validate(folder: Path, which: str | None) -> int:
    from ziwo_reports.redaction import redact
    from ziwo_reports.workflows.model import (
        WorkflowError,
        check_workflow,
        load_workflow,
        workflow_files,
    )

    if which and (Path(which).suffix in (".yaml", ".yml") or Path(which).is_file()):
        workflow = load_workflow(Path(which))
        check_workflow(workflow, which)
        print(f"ok {workflow.name}")
        return 0
    if which:
        path, workflow = _named(folder, which)
        check_workflow(workflow, str(path))
        print(f"ok {workflow.name}")
        return 0
    failed, seen = 0, {}
    for path in workflow_files(folder):  # every file, each error on its own line
        try:
            workflow = check_workflow(load_workflow(path), str(path))
            if workflow.name in seen:
                raise WorkflowError(f"{path}: name {workflow.name!r} is taken by {seen[workflow.name]}")
            seen[workflow.name] = path
            print(f"ok {workflow.name}")
        except WorkflowError as problem:
            failed += 1
            print(f"error: {redact(' '.join(str(problem).split()))}", file=sys.stderr)
    if not seen and not failed:
        print(f"no workflows in {folder}")
    return 1 if failed else 0


def _named(folder: Path, which: str):  # -> tuple[Path, Workflow]
    """The workflow of a file, or of a name in the folder (another file that does not load stands not in its way)."""
    from ziwo_reports.workflows.model import WorkflowError, load_workflow, workflow_files

    if Path(which).suffix in (".yaml", ".yml") or Path(which).is_file():
        return Path(which), load_workflow(Path(which))
    loaded, broken = [], []
    for path in workflow_files(folder):
        try:
            loaded.append((path, load_workflow(path)))
        except WorkflowError:
            broken.append(path.name)
    named = [(path, workflow) for path, workflow in loaded if workflow.name == which]
    if not named:
        known = ", ".join(sorted(workflow.name for _, workflow in loaded)) or "none"
        unread = f"; not loaded: {', '.join(broken)}" if broken else ""
        raise WorkflowError(f"no workflow {which!r} in {folder} (there: {known}{unread})")
    if len(named) > 1:
        raise WorkflowError(f"{named[1][0]}: name {which!r} is taken by {named[0][0]}")
    return named[0]


def _checked(args: argparse.Namespace):  # -> Workflow
    """The workflow `test` or `run` names, checked against its columns, with a warehouse to run on."""
    from ziwo_reports.workflows.model import WorkflowError, check_workflow

    if not args.workflow:
        raise WorkflowError(f"workflow {args.action}: give the workflow's name or file")
    if not args.db.exists():
        raise ValueError(f"--db {str(args.db)!r}: no warehouse there; run `ziwo-reports ingest` first")
    path, workflow = _named(args.dir, args.workflow)
    return check_workflow(workflow, str(path))


def _run(args: argparse.Namespace) -> int:
    """Run one workflow now: what the conditions kept, one line per target; exit 1 naming the first failure."""
    from ziwo_reports.deliveries import new_run_id
    from ziwo_reports.timewindows import duration_text
    from ziwo_reports.workflows.run import run_workflow

    workflow = _checked(args)
    if workflow.delay is not None and workflow.enabled:
        print(f"delay {duration_text(workflow.delay)} is the deployment's: `run` sends now")
    result = run_workflow(
        workflow,
        args.db,
        now=args.as_of,
        run_id=new_run_id(),
        source=f"workflow:{workflow.name}",
        wait=args.wait,
        on_wait=lambda message: print(message, file=sys.stderr, flush=True),
        force=args.force,
    )
    print(f"kept {result.kept} of {result.seen} {result.unit} (conditions: {result.conditions})")
    for target in result.targets:
        not_sent = f", {len(target.failed_ids)} not sent (in the ledger)" if target.failed_ids else ""
        if target.already_sent:
            not_sent += f", {target.already_sent} of them sent before and not again (--force sends them again)"
        if target.held:
            not_sent += f", {target.held} held for the next digest"
        print(f"{target.type} {target.name}: {target.sent} of {target.items} items sent{not_sent}")
    if result.note:
        print(result.note)
    elif result.advanced_to is not None:
        print(f"cursor at ingest run {result.advanced_to}")
    if result.failed:
        try:
            result.failed[0].raise_for_failures()
        except Exception as problem:
            raise RuntimeError(f"workflow {workflow.name!r}: {problem}") from None
    return 0


def _prefect_api() -> str:
    """The Prefect API deployments go to; without PREFECT_API_URL there is no server to keep them."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise ValueError(
            "PREFECT_API_URL is not set: deployments live on a Prefect server "
            "(export PREFECT_API_URL=http://127.0.0.1:4200/api; see the README)"
        )
    return url


def _deploy(args: argparse.Namespace) -> int:
    """Create or update the workflow's deployment; print what changed."""
    from ziwo_reports.flows.workflow_deployments import deploy
    from ziwo_reports.workflows.model import WorkflowError, check_workflow

    if not args.workflow:
        raise WorkflowError("workflow deploy: give the workflow's name or file")
    path, workflow = _named(args.dir, args.workflow)
    check_workflow(workflow, str(path))
    api = _prefect_api()
    done = deploy(workflow, work_pool=args.pool)
    paused = " (paused: the workflow is disabled)" if not workflow.enabled else ""
    print(f"{done.action} {done.name} on {api}, work pool {args.pool}: runs {done.runs}{paused}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from ziwo_reports.flows.workflow_deployments import remove
    from ziwo_reports.workflows.model import NAME_PATTERN, WorkflowError

    if not args.workflow:
        raise WorkflowError("workflow remove: give the workflow's name")
    name = args.workflow
    if not re.fullmatch(NAME_PATTERN, name):  # a file: its workflow's name
        name = _named(args.dir, name)[1].name
    api = _prefect_api()
    removed = remove(name)
    if not removed.found:
        print(f"nothing to remove: no deployment {removed.name} on {api}")
        return 0
    pending = f", and {removed.scheduled_runs_deleted} runs still scheduled" if removed.scheduled_runs_deleted else ""
    print(f"removed {removed.name} from {api}, its trigger{pending}")
    return 0


#: Rows or calls `test` lists of those kept, and of those dropped.
SHOWN_ROWS = 10


def _test(args: argparse.Namespace) -> int:
    """The dry run (what is kept and dropped, each target's plan and check), then with --send-test
    one marked item to each target; exit 1 naming the first check or send that failed."""
    from ziwo_reports.cli.common import check_line, print_plan
    from ziwo_reports.workflows.dry_run import preview_workflow, select

    workflow = _checked(args)
    selection = select(
        workflow,
        args.db,
        now=args.as_of,
        wait=args.wait,
        on_wait=lambda message: print(message, file=sys.stderr, flush=True),
    )
    what = f"{workflow.trigger_text()}, {_operation(workflow)}"
    print(f"workflow {workflow.name}: {what}; dry run, nothing is sent or written")
    for note in selection.notes:
        print(f"note: {note}")
    _print_selection(selection)
    preview = preview_workflow(selection, workflow.targets())
    for target in preview.targets:
        if target.plan is not None:
            print_plan(target.plan)
        elif target.problem:
            print(f"\n{target.title}: no plan: {target.problem}")
    if not selection.kept_count:
        print(
            f"\nnothing would be sent: the conditions kept no {selection.unit}"
            if selection.seen
            else f"\nnothing would be sent: no {selection.unit}"
        )
    print("\ncheck the targets (read-only):")
    for target in preview.targets:
        print(f"  {check_line(target.target, target.check)}")
    problems = preview.problems()
    if args.send_test:
        problems += _send_test(selection, preview.targets)
    if problems:
        more = f" (and {len(problems) - 1} more above)" if len(problems) > 1 else ""
        raise RuntimeError(f"workflow test {workflow.name!r}: {problems[0]}{more}")
    return 0


def _print_selection(selection) -> None:  # Selection
    """`kept 3 of 12 rows; dropped 9 (conditions: ...)`, then which, capped with a count of the rest."""
    from ziwo_reports.workflows.dry_run import row_labels

    what = "sample calls" if selection.sample else selection.unit
    print(
        f"kept {selection.kept_count} of {selection.seen} {what}; dropped {selection.dropped_count} "
        f"(conditions: {selection.conditions})"
    )
    for word, report in (("kept", selection.kept), ("dropped", selection.dropped)):
        labels = row_labels(report)
        for label in labels[:SHOWN_ROWS]:
            print(f"  {word:<8}{label}")
        if len(labels) > SHOWN_ROWS:
            print(f"  {word:<8}... and {len(labels) - SHOWN_ROWS} more")


def _send_test(selection, previews: list) -> list[str]:  # Selection, list[TargetPreview] -> problems
    """One marked test item to each target whose check passed (a failed check is already a problem);
    the problems, one line each."""
    from ziwo_reports.cli.common import print_plan
    from ziwo_reports.workflows.marked_send import pick_item, send_test

    item = pick_item(selection)
    which = (
        f"the first kept {selection.unit[:-1]}"
        if item.kept
        else (f"the conditions kept no {selection.unit}, so the first {selection.unit[:-1]} at all")
    )
    print(f"\ntest send: one marked item to each target, {which}: {item.label} (not recorded in the ledger)")
    problems = []
    for preview in previews:
        if preview.check is not None and not preview.check.ok:
            print(f"{preview.title}: not sent: its check failed")
    checked = [p.target for p in previews if p.check is None or p.check.ok]
    for send in send_test(item, checked):
        for warning in send.warnings:
            print(f"\nwarning: {send.title}: {warning}")
        if send.plan is not None:
            print_plan(send.plan)
        if send.problem:
            print(f"{send.title}: not sent: {send.problem}")
            problems.append(f"test send to {send.title}: {send.problem}")
        for result in send.results:
            print(f"{send.title}: {_answer(result)}")
            if result.status != "sent":
                problems.append(f"test send to {send.title}: {result.error or result.status}")
    return problems


def _answer(result) -> str:  # ItemResult
    """A target's answer to a test item, for a person: the status (code) and the start of the body."""
    from ziwo_reports.cli.common import shown

    info = result.info
    if result.status != "sent":
        return f"{result.status}: {result.error}"
    if "format" in info:  # a file
        return f"wrote {shown(result.ref or '')} ({info['format']}, {info['bytes']:,} bytes, {info['rows']} rows)"
    ref = result.ref or ""
    if ref.startswith("HTTP"):  # an API's status and the id it gave
        said = ref
    else:
        said = ", ".join(
            part for part in (f"HTTP {info['status']}" if "status" in info else "", ref and f"id {ref}") if part
        )
    body = f"; answer: {info['answer']}" if info.get("answer") else ""
    return f"sent, {said}{body}" if said else f"sent{body}"
