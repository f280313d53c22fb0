"""The demo's workflows: two of the example workflows, re-targeted in memory at the demo's loopback
receiver and output folder, run with `run_workflow` (what `ziwo-reports workflow run` runs), and
what each delivered as the receiver saw it.

- `daily-agent-report` (schedule): yesterday's agent performance, as Excel and one webhook message;
- `long-complaint-calls` (after_call): each call over 10 minutes tagged complaint, one message per call.

A new after_call workflow starts at the newest finished ingest (it does not replay history), so
the demo runs it once before the first ingest, on the empty warehouse, as if it had been deployed
before the instance's calls were loaded: its cursor then sits at run 0 and, after the ingests,
it sees each call they loaded once.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ziwo_reports.cli.webhook_receiver import Summary, WebhookReceiver

#: The examples the demo runs, in order: a report, then a call-by-call workflow.
EXAMPLES = ("daily-agent-report", "long-complaint-calls")
#: The demo's webhook credentials: `env:ZIWO_DEMO_HOOK` reads ZIWO_DEMO_HOOK_SIGNING_SECRETS.
HOOK_REFERENCE = "env:ZIWO_DEMO_HOOK"
HOOK_SECRET_VARIABLE = "ZIWO_DEMO_HOOK_SIGNING_SECRETS"
INSTANCE = "simulator"


@dataclass
class DemoWorkflow:
    """An example workflow re-targeted for the demo, and where it came from."""

    path: Path
    workflow: Any  # Workflow (imported lazily: the command line starts without pydantic models)


def new_secret() -> str:
    """A fresh Standard Webhooks signing secret for this run: whsec_ and base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def use_secret(secret: str) -> None:
    """The demo's targets read their signing secret from this process's environment (env:ZIWO_DEMO_HOOK)."""
    os.environ[HOOK_SECRET_VARIABLE] = secret


def hook_path(workflow: str, target: str) -> str:
    """The receiver's path for one webhook target of a workflow."""
    return f"/{workflow}/{target}"


def load_examples(folder: Path) -> dict[str, Path]:
    """The demo's example files by name; ValueError naming --examples when one is not there."""
    from ziwo_reports.workflows.model import WorkflowError, workflow_files

    try:
        files = workflow_files(folder)
    except WorkflowError:
        raise ValueError(
            f"--examples {str(folder)!r}: no such folder; run the demo from the project's folder "
            "or name the folder of the example workflows"
        ) from None
    found = {path.stem: path for path in files}
    missing = [name for name in EXAMPLES if name not in found]
    if missing:
        raise ValueError(f"--examples {str(folder)!r}: no {missing[0]}.yaml in it")
    return {name: found[name] for name in EXAMPLES}


def retarget(path: Path, receiver: WebhookReceiver, out_dir: Path) -> DemoWorkflow:
    """The example of `path` for the demo (the file is not touched): webhooks to the receiver (loopback
    allowed, signed with the demo's secret), files into `out_dir`, the simulator's instance."""
    from ziwo_reports.workflows.model import check_workflow, load_workflow, parse_workflow

    workflow = load_workflow(path)
    document = workflow.model_dump(mode="json", exclude_unset=True)
    document["credentials_block"] = ""  # the simulator is this process's; no Ziwo block is read
    if "report" in document["operation"]:
        document["operation"]["report"]["instance"] = INSTANCE
    targets = []
    for target in workflow.targets():
        options = target.model_dump(mode="json", exclude_unset=True)
        if target.type == "webhook":
            options |= {
                "url": receiver.url(hook_path(workflow.name, target.target_name)),
                "allow_private_urls": True,
                "credentials": HOOK_REFERENCE,
                "check_url": None,
            }
        elif target.type == "file":
            options["destination"] = str(out_dir)
        else:  # the demo's receiver speaks webhooks only
            raise ValueError(
                f"{path}: target {target.target_name!r} is of type {target.type!r}; the demo sends "
                "to webhook and file targets only"
            )
        targets.append(options)
    document["deliveries"] = targets
    return DemoWorkflow(path, check_workflow(parse_workflow(document, f"{path} (for the demo)"), str(path)))


def _run(demo: DemoWorkflow, db: Path, now: datetime, wait: float | None, on_wait: Callable[[str], None]):
    from ziwo_reports.deliveries import new_run_id
    from ziwo_reports.workflows.run import run_workflow

    workflow = demo.workflow
    return run_workflow(
        workflow, db, now=now, run_id=new_run_id(), source=f"workflow:{workflow.name}", wait=wait, on_wait=on_wait
    )


def start_after_call(
    demo: DemoWorkflow, db: Path, now: datetime, wait: float | None, on_wait: Callable[[str], None]
) -> None:
    """Run the after_call workflow once before the first ingest (see the module's docstring), saying where
    its cursor stands."""
    from ziwo_reports.warehouse import open_warehouse
    from ziwo_reports.workflows.after_call import cursor_of

    with open_warehouse(db, read_only=False, wait=wait, on_wait=on_wait) as warehouse:  # the file, if new
        before = cursor_of(warehouse, demo.workflow.name)
    result = _run(demo, db, now, wait, on_wait)
    name = demo.workflow.name
    if before is None:
        print(
            f"workflow {name}, {demo.workflow.trigger_text()}, set up before the first ingest: "
            f"{result.note or 'ran'}; its cursor is at ingest run {result.advanced_to}, so it sees each call "
            "the ingests load from here on"
        )
    else:
        print(
            f"workflow {name}, {demo.workflow.trigger_text()}: its cursor was already at ingest run {before} "
            f"in {db}, from an earlier demo: it sees only calls loaded since (remove {db} to start afresh)"
        )


def _example(arrived) -> str:
    """A message, as a person recognizes it: the call it is about, or the report and its rows."""
    data = (arrived.envelope or {}).get("data") or {}
    row = data.get("row")
    if isinstance(row, dict) and "call_id" in row:
        tags = ",".join(row.get("tags") or []) or "no tags"
        return f"call {row['call_id']} ({row.get('duration_s')} s, {tags})"
    if "key" in data:
        return f"{data['key']} ({data.get('row_count')} rows)"
    return arrived.id


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _received_line(summary: Summary, examples: list[str]) -> str:
    types = ", ".join(f"{count} {kind}" for kind, count in sorted(summary.types.items())) or "none"
    shown = f"; e.g. {'; '.join(examples)}" if examples else ""
    return (
        f"receiver got {_count(summary.messages, 'message')} (types: {types}), "
        f"{_count(summary.distinct_ids, 'distinct id')}, "
        f"signatures verified {summary.messages - summary.unverified} of {summary.messages}{shown}"
    )


@dataclass
class Outcome:
    """What the demo's workflows did: each run by workflow name, and the problems found (none: all delivered)."""

    runs: dict[str, Any] = field(default_factory=dict)  # name -> WorkflowRun
    problems: list[str] = field(default_factory=list)


def run_examples(
    demos: list[DemoWorkflow],
    receiver: WebhookReceiver,
    db: Path,
    now: datetime,
    wait: float | None,
    on_wait: Callable[[str], None],
) -> Outcome:
    """Run each workflow and print what it kept, sent and what the receiver got; the problems are a
    target with items not sent, a message whose signature did not verify, one the receiver did not get."""
    from ziwo_reports.cli.common import shown

    outcome = Outcome()
    problems = outcome.problems
    for demo in demos:
        workflow = demo.workflow
        print(f"\nworkflow {workflow.name}, {workflow.trigger_text()}, from {demo.path}")
        result = outcome.runs[workflow.name] = _run(demo, db, now, wait, on_wait)
        print(f"  kept {result.kept} of {result.seen} {result.unit} (conditions: {result.conditions})")
        for target, delivered in zip(result.targets, result.delivered, strict=True):
            not_sent = f", {len(target.failed_ids)} not sent (in the ledger)" if target.failed_ids else ""
            print(f"  {target.type} {target.name}: {target.sent} of {target.items} items sent{not_sent}")
            if target.failed_ids:
                problems.append(f"{workflow.name}: {target.type} {target.name}: {len(target.failed_ids)} not sent")
            if target.type == "file":
                for item in delivered.results:
                    if item.status == "sent":
                        print(f"    wrote {shown(item.ref)} ({item.info['format']}, {item.info['bytes']:,} bytes)")
            elif target.type == "webhook":
                path = hook_path(workflow.name, target.name)
                summary = receiver.summary(path)
                examples = [_example(arrived) for arrived in receiver.received(path)[:2]]
                print(f"    {_received_line(summary, examples)}")
                if summary.unverified:
                    problems.append(f"{workflow.name}: {summary.unverified} messages failed the signature check")
                if summary.distinct_ids != target.sent:
                    problems.append(
                        f"{workflow.name}: {target.name} sent {target.sent}, the receiver got {summary.distinct_ids}"
                    )
        if result.note:
            print(f"  {result.note}")
        if result.advanced_to is not None:
            print(f"  cursor at ingest run {result.advanced_to}")
    return outcome
