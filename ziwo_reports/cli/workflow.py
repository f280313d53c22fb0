"""`ziwo-reports workflow list|validate`: the workflows of a folder, and whether they would work."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "workflow"
HELP = "list the workflows of a folder, or validate one or all of them"
DESCRIPTION = (
    "Workflows are YAML files (one per workflow) in a folder, `workflows` by default. `list` shows them; "
    "`validate` checks one (by name or file) or all of them, conditions included, and prints `ok <name>` "
    "for each, or one line per error naming the file, the field and the value (exit 1)."
)


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("list", "validate"), help="list or validate")
    parser.add_argument("workflow", nargs="?", help="validate: a workflow's name or its file; default: all")
    parser.add_argument(
        "--dir", type=Path, default=Path("workflows"), help="the folder of workflow files (default: workflows)"
    )


def _trigger(workflow) -> str:
    if workflow.trigger.kind == "schedule":
        return f"schedule {workflow.trigger.schedule.cron} {workflow.trigger.schedule.timezone}"
    if workflow.trigger.kind == "after_call":
        return f"after_call ({workflow.trigger.after_call.on_change})"
    return "manual"


def _operation(workflow) -> str:
    if workflow.operation.kind == "report":
        report = workflow.operation.report
        return f"report {report.report} {report.rolling_date}"
    if workflow.operation.kind == "export":
        return f"export call-details {workflow.operation.export.rolling_date}"
    return "call"


def run(args: argparse.Namespace) -> int:
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
        table.add_row(name, "yes" if workflow.enabled else "no", _trigger(workflow), _operation(workflow), targets)
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
    if which:  # a name: another file that does not load stands not in its way
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
        path, workflow = named[0]
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
