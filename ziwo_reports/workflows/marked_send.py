"""`workflow test --send-test`: one marked test delivery per target, of one item, and the target's
answer.

The item is the first row or call the conditions kept (with none kept, the first one at all, and
the caller says so). Each target's options are copied with `test: true`, which every connector
reads its own way:

- webhook: the event type ends in `.test`, and the message's key (`test:<key>`) and so its
  `webhook-id` differ from the real message's;
- http_api: the header `X-Ziwo-Test: true`, sent to `test_url` (the API's sandbox) when the target
  has one, else to the real URL (with a warning); the key (`test:<key>`) and so the
  Idempotency-Key differ from the real request's;
- file: the files are named with `-test` before their extension, next to the real ones.
- email: the subject starts with `[TEST]` and it goes to the target's `test_to` only (a target
  without it takes no test), never to its to/cc/bcc; its Message-ID differs from the real one's.

A test send is **not recorded in the ledger**: its answer is printed at once, and the ledger is what
`replay` completes and `deliveries --not-sent` reports, where a test has no business. Its keys never
equal a real item's, so a receiver that dedups by id, or an API by Idempotency-Key, still takes the
real item later; the after_call cursor never moves. Nothing of a real run is marked sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ziwo_reports.connectors.delivery import (
    DeliveryConfigError,
    DeliveryError,
    ItemResult,
    Plan,
    TargetOptions,
    delivery_for,
)
from ziwo_reports.connectors.sandbox import in_sandbox
from ziwo_reports.redaction import redact
from ziwo_reports.report_model import Report, row_keys
from ziwo_reports.workflows.dry_run import Selection, row_labels
from ziwo_reports.workflows.model import WorkflowError


@dataclass
class MarkedItem:
    """The one row or call a test sends, and which it is."""

    report: Report  # of one row, under its real key
    label: str
    kept: bool  # False: the conditions kept nothing; this is the first row they dropped


@dataclass
class MarkedSend:
    """What one target was sent as a test and what it answered."""

    target: TargetOptions  # the marked options
    plan: Plan | None = None  # the test request(s) exactly as sent, secrets masked
    results: list[ItemResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problem: str | None = None  # nothing sent, and why

    @property
    def title(self) -> str:
        return f"{self.target.type} {self.target.target_name}"

    @property
    def failed(self) -> bool:
        return self.problem is not None or any(result.status != "sent" for result in self.results)


def pick_item(selection: Selection) -> MarkedItem:
    """The first kept row or call, else the first one at all; WorkflowError when there is none."""
    for report, kept in ((selection.kept, True), (selection.dropped, False)):
        if report.table.num_rows:
            one = replace(report, table=report.table.slice(0, 1), keys=row_keys(report).slice(0, 1))
            return MarkedItem(one, row_labels(one)[0], kept)
    raise WorkflowError(
        f"workflow {selection.workflow!r}: --send-test: no {selection.unit} to send a test with "
        f"(the operation yields none now)"
    )


def marked(target: TargetOptions) -> TargetOptions:
    """The target's options as a test send: marked (`test`), or a CRM's sandbox (`sandbox`);
    WorkflowError for a target that has neither."""
    fields = type(target).model_fields
    if "test" in fields:
        return target.model_copy(update={"test": True})
    if "sandbox" in fields:
        try:
            return in_sandbox(target)
        except ValueError as problem:  # no sandbox, or one the options refuse
            raise WorkflowError(" ".join(str(problem).split())) from None
    raise WorkflowError(f"{target.type} target {target.target_name!r} has no test mode: no test sent to it")


def _warnings(target: TargetOptions) -> list[str]:
    if target.type == "http_api" and getattr(target, "test_url", None) is None:
        return [
            "no test_url (sandbox) on this target: the test goes to the real URL, marked only by the header "
            "X-Ziwo-Test: true"
        ]
    return []


def send_test(item: MarkedItem, targets: list[TargetOptions]) -> list[MarkedSend]:
    """One marked delivery of `item` to each target, in order; a failure is that target's answer
    (it never stops the others)."""
    sends = []
    for target in targets:
        try:
            options = marked(target)
        except WorkflowError as problem:
            sends.append(MarkedSend(target, problem=str(problem)))
            continue
        send = MarkedSend(options, warnings=_warnings(options))
        try:
            delivery = delivery_for(options)
            send.plan = delivery.plan(item.report)
            send.results = list(delivery.deliver(item.report))
        except (DeliveryConfigError, DeliveryError) as problem:
            send.problem = str(problem)
        except Exception as problem:  # a target's failure is its own answer; the others are still tested
            send.problem = redact(" ".join(f"{type(problem).__name__}: {problem}".split()))
        sends.append(send)
    return sends
