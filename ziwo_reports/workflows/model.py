"""A workflow as configuration: what to run (the operation), when (the trigger), whether to send
(conditions), when to send (delay) and where (deliveries). One YAML file per workflow in a folder
(`workflows/`); `load_workflow` reads one, `load_workflows` a folder, and `check_workflow` checks the
conditions against the columns the operation really yields (learnt by computing it on an empty
warehouse). Every error is one line naming the file, the field and the value.

Triggers and operations are picked by their key, as a person writes them in YAML::

    trigger: {schedule: {cron: "0 6 * * *", timezone: Asia/Dubai}}
    operation: {report: {report: agent-performance, rolling_date: yesterday}}

rather than by a `type: schedule` field next to the settings: the key is the choice, its mapping
holds only what that choice takes, and a setting of another kind cannot sit there unnoticed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    Tag,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from ziwo_reports.connectors.delivery import DeliveryConfigError, TargetOptions, deliveries_model, delivery_for
from ziwo_reports.report_model import ReportSpec
from ziwo_reports.timewindows import duration_text, parse_duration
from ziwo_reports.workflows.conditions import OPERATOR_ALIASES, AllOf, AnyOf, Condition, ConditionError, Node, check

if TYPE_CHECKING:
    import pyarrow as pa

#: A workflow's name is a slug: it names its Prefect deployment and its ledger source.
NAME_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
#: The longest delay: a follow-up waits hours, not weeks; a longer wait is a schedule.
MAX_DELAY = timedelta(days=7)
#: Workflow files in a folder.
SUFFIXES = (".yaml", ".yml")


class WorkflowError(ValueError):
    """A workflow that cannot load or cannot work: one line naming the file, the field and the value."""


def _by_key(*keys: str):
    """A discriminator reading which of `keys` a mapping (as in YAML) holds, or which model it is."""

    def which(value: Any) -> str | None:
        if isinstance(value, Mapping):
            found = [key for key in keys if key in value]
            return found[0] if len(found) == 1 else None
        return getattr(value, "kind", None)

    return which


def _nothing_is_empty(value: Any) -> Any:
    # `manual:` with nothing after it is YAML's null: it means "no settings", as {} does
    return {} if value is None else value


NothingIsEmpty = BeforeValidator(_nothing_is_empty)


# -- triggers --------------------------------------------------------------------------------------


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid", title="Schedule settings")

    cron: str = Field(
        title="Cron",
        description="When it runs, as cron: minute hour day-of-month month day-of-week ('0 6 * * *': 06:00 daily).",
        examples=["0 6 * * *"],
    )
    timezone: str = Field(
        default="UTC",
        title="Time zone",
        description="The IANA zone the cron is read in (Asia/Dubai); days with a DST change follow the zone.",
    )

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from prefect.client.schemas.schedules import CronSchedule  # what `deploy` schedules with: the same rules

        value = " ".join(value.split())
        try:
            CronSchedule(cron=value, timezone="UTC")
        except ValidationError as problem:
            raise ValueError(_first_message(problem)) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not an IANA time zone such as Asia/Dubai or Europe/London") from None
        return value


class ScheduleTrigger(BaseModel):
    """Runs on a cron schedule in a time zone (reports)."""

    model_config = ConfigDict(extra="forbid", title="Schedule")
    kind: ClassVar[str] = "schedule"

    schedule: Schedule = Field(title="Schedule", description="A cron schedule in an IANA time zone.")


class AfterCall(BaseModel):
    model_config = ConfigDict(extra="forbid", title="After-call settings")

    on_change: Literal["once", "again"] = Field(
        default="once",
        title="When a call changes",
        description="once: each call is handled once; again: a call changed later (a disposition arrives) "
        "is handled again.",
    )


class AfterCallTrigger(BaseModel):
    """Runs after each ingest, on every call completed (or changed) since the workflow last ran."""

    model_config = ConfigDict(extra="forbid", title="After a call")
    kind: ClassVar[str] = "after_call"

    after_call: Annotated[AfterCall, NothingIsEmpty] = Field(
        title="After a call", description="Each call that completed since the last run."
    )


class Manual(BaseModel):
    model_config = ConfigDict(extra="forbid", title="Manual settings")


class ManualTrigger(BaseModel):
    """Runs only when started from the Prefect UI or the command line."""

    model_config = ConfigDict(extra="forbid", title="Manual")
    kind: ClassVar[str] = "manual"

    manual: Annotated[Manual, NothingIsEmpty] = Field(title="Manual", description="Started by hand; nothing to set.")


Trigger = Annotated[
    Annotated[ScheduleTrigger, Tag("schedule")]
    | Annotated[AfterCallTrigger, Tag("after_call")]
    | Annotated[ManualTrigger, Tag("manual")],
    Discriminator(
        _by_key("schedule", "after_call", "manual"),
        custom_error_type="trigger",
        custom_error_message="a trigger is one of {schedule: {cron, timezone}}, {after_call: {on_change}}, "
        "{manual: {}}",
    ),
]


# -- operations ------------------------------------------------------------------------------------


class ReportSettings(ReportSpec):
    """A report, as the `report` command and flow take it, less `as_of`: a workflow runs for its own now."""

    model_config = ConfigDict(extra="forbid", title="Report settings")

    report: Literal["agent-performance", "queue-performance"] = Field(
        title="Report", description="agent-performance or queue-performance (call details: the export operation)."
    )
    as_of: SkipJsonSchema[None] = Field(default=None, exclude=True)


class ExportSettings(ReportSpec):
    """The call details (one row per call leg) of the window, filtered."""

    model_config = ConfigDict(extra="forbid", title="Export settings")

    report: SkipJsonSchema[Literal["call-details"]] = Field(default="call-details", exclude=True)
    as_of: SkipJsonSchema[None] = Field(default=None, exclude=True)


class ReportOperation(BaseModel):
    """Computes a report over the window; conditions see its rows and `totals.<name>`."""

    model_config = ConfigDict(extra="forbid", title="Report")
    kind: ClassVar[str] = "report"

    report: ReportSettings = Field(
        title="Report", description="The report, its filters, rolling date, time zone, group by, interval, settings."
    )

    def spec(self) -> ReportSpec:
        return ReportSpec.model_validate(self.report.model_dump())


class ExportOperation(BaseModel):
    """Exports the call details of the window; conditions see its rows (calls) and `totals.<name>`."""

    model_config = ConfigDict(extra="forbid", title="Export")
    kind: ClassVar[str] = "export"

    export: Annotated[ExportSettings, NothingIsEmpty] = Field(
        title="Export", description="The call details: filters, rolling date, time zone, interval."
    )

    def spec(self) -> ReportSpec:
        return ReportSpec.model_validate(self.export.model_dump() | {"report": "call-details"})


class CallSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", title="Call settings")


class CallOperation(BaseModel):
    """The call itself (after_call): its call-details fields (agent, queue, contact, caller, times, tags)."""

    model_config = ConfigDict(extra="forbid", title="The call")
    kind: ClassVar[str] = "call"

    call: Annotated[CallSettings, NothingIsEmpty] = Field(
        title="The call", description="Each new call, with its call-details fields."
    )

    def spec(self) -> ReportSpec:
        return ReportSpec(report="call-details")


Operation = Annotated[
    Annotated[ReportOperation, Tag("report")]
    | Annotated[ExportOperation, Tag("export")]
    | Annotated[CallOperation, Tag("call")],
    Discriminator(
        _by_key("report", "export", "call"),
        custom_error_type="operation",
        custom_error_message="an operation is one of {report: {report, ...}}, {export: {...}}, {call: {}}",
    ),
]

#: Which operations a trigger takes: a call-by-call workflow works on the call, the others on a window.
OPERATIONS_OF = {"schedule": ("report", "export"), "manual": ("report", "export"), "after_call": ("call",)}


# -- the workflow ----------------------------------------------------------------------------------


def _delay(value: Any) -> Any:
    if isinstance(value, str):
        if re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", value):  # parse_duration reads a bare number as hours: ambiguous
            raise ValueError("needs a unit: 90s, 60m, 1h, 1h30m")
        return parse_duration(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("needs a unit: 90s, 60m, 1h, 1h30m")
    return value


Delay = Annotated[
    timedelta,
    PlainSerializer(duration_text, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^\s*(?:\d+(?:\.\d+)?\s*[dhmsDHMS]\s*)+$"}),
]
Deliveries = deliveries_model()


def _choices_as_tabs(schema: dict[str, Any]) -> None:
    """Trigger and operation as `anyOf`: the Prefect UI's form shows `anyOf` as tabs, one form per
    choice, but `oneOf` only as raw JSON. Either is right: each choice needs its own key."""
    for name in ("trigger", "operation"):
        field = schema.get("properties", {}).get(name, {})
        if "oneOf" in field:
            field["anyOf"] = field.pop("oneOf")


class Workflow(BaseModel):
    """A workflow: a trigger, an operation, conditions, a delay and deliveries."""

    model_config = ConfigDict(extra="forbid", title="Workflow", json_schema_extra=_choices_as_tabs)

    name: str = Field(
        pattern=NAME_PATTERN,
        max_length=63,
        title="Name",
        description="Lowercase letters, digits and dashes (daily-agent-report): names its deployment and ledger.",
    )
    description: str = Field(default="", max_length=1000, title="Description", description="What it is for.")
    enabled: bool = Field(default=True, title="Enabled", description="A disabled workflow does nothing.")
    credentials_block: str = Field(
        default="",
        pattern=r"^$|^[a-z0-9][a-z0-9-]*$",
        max_length=100,
        title="Ziwo credentials block",
        description="The Ziwo Credentials block of the instance; empty: the ZIWO_* environment variables.",
    )
    trigger: Trigger = Field(
        title="Trigger",
        description="schedule (cron in a zone), after_call (each new call after an ingest) or manual.",
    )
    operation: Operation = Field(
        title="Operation",
        description="report (a report), export (call details), or call (after_call: the call itself).",
    )
    conditions: Node | None = Field(
        default=None,
        title="Conditions",
        description="Send only what meets them: rows (agents, queues, calls) and `totals.<name>`; text "
        "(duration_s > 300 and tags contains complaint) or {field, operator, value} grouped by all/any.",
    )
    delay: Annotated[Delay | None, Field(json_schema_extra={"default": None})] = Field(
        default=None,
        title="Delay",
        description=f"Send this long after the trigger (60m, 1h, 1h30m), at most {MAX_DELAY.days} days; "
        "empty: at once.",
    )
    deliveries: Deliveries = Field(  # type: ignore[valid-type]
        title="Deliveries",
        description="Where it goes: one list per connector type, or one list of targets each with a `type`.",
    )

    @field_validator("delay", mode="before")
    @classmethod
    def _delay_text(cls, value: Any) -> Any:
        return _delay(value)

    @field_validator("delay")
    @classmethod
    def _delay_bounds(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and not timedelta(0) <= value <= MAX_DELAY:
            raise ValueError(f"must be between 0s and {MAX_DELAY.days}d")
        return value

    @field_validator("deliveries")
    @classmethod
    def _targets(cls, value: Any) -> Any:
        targets: list[TargetOptions] = value.targets()
        if not targets:
            raise ValueError("needs at least one target")
        for target in targets:
            try:
                delivery_for(target)  # the connector's own static checks
            except DeliveryConfigError as problem:
                raise ValueError(f"{target.target_name}: {problem}") from None
        names = [target.target_name for target in targets]
        doubled = sorted({name for name in names if names.count(name) > 1})
        if doubled:
            raise ValueError(f"target name {doubled[0]!r} is given twice: the ledger tells targets apart by name")
        return value

    @model_validator(mode="after")
    def _trigger_fits_operation(self) -> Workflow:
        allowed = OPERATIONS_OF[self.trigger.kind]
        if self.operation.kind not in allowed:
            raise ValueError(
                f"operation {self.operation.kind!r}: does not go with trigger {self.trigger.kind!r}, "
                f"which takes {' or '.join(allowed)}"
            )
        return self

    def spec(self) -> ReportSpec:
        """What the operation computes, as a report spec (call: the call details)."""
        return self.operation.spec()

    def targets(self) -> list[TargetOptions]:
        return self.deliveries.targets()

    def trigger_text(self) -> str:
        """The trigger in a few words: `schedule 0 6 * * * Asia/Dubai`, `after_call (again)`, `manual`."""
        if self.trigger.kind == "schedule":
            return f"schedule {self.trigger.schedule.cron} {self.trigger.schedule.timezone}"
        if self.trigger.kind == "after_call":
            return f"after_call ({self.trigger.after_call.on_change})"
        return "manual"


# -- loading ---------------------------------------------------------------------------------------


def _first_message(problem: ValidationError) -> str:
    return problem.errors()[0]["msg"].removeprefix("Value error, ")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def describe_errors(problem: ValidationError) -> str:
    """pydantic's errors as one line: `field.path 'value': message; ...`."""
    lines = []
    for error in problem.errors():
        loc = [str(part) for part in error["loc"]]
        if len(loc) > 1 and loc[0] in ("trigger", "operation"):
            del loc[1]  # the union's tag, which repeats the key it was picked by
        parts: list[str] = []
        for part in loc:
            if loc[:1] == ["conditions"] and (part == "condition" or (parts and part == parts[-1])):
                continue  # the condition tree's tags, likewise
            parts.append(part)
        where = ".".join(parts)
        message = " ".join(error["msg"].removeprefix("Value error, ").split())
        if parts and message.startswith(parts[-1] + ": "):
            message = message[len(parts[-1]) + 2 :]
        given = error.get("input")
        hidden = isinstance(given, Mapping) or (isinstance(given, list) and given) or error["type"] == "missing"
        shown = "" if hidden else f" {_show(given)}"
        lines.append(f"{where}{shown}: {message}" if where else message)
    return "; ".join(lines)


def parse_workflow(document: Any, source: str = "workflow") -> Workflow:
    """A workflow from a mapping (as read from YAML); a WorkflowError names `source`, the field and the value."""
    if not isinstance(document, Mapping):
        raise WorkflowError(f"{source}: needs a mapping of workflow fields (name, trigger, operation, deliveries)")
    try:
        return Workflow.model_validate(document)
    except ValidationError as problem:
        from ziwo_reports.redaction import redact

        raise WorkflowError(redact(f"{source}: {describe_errors(problem)}")) from None


def load_workflow(path: Path | str) -> Workflow:
    """The workflow of a YAML file, validated (not yet checked against the columns: `check_workflow`)."""
    import yaml

    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as problem:
        raise WorkflowError(f"{path}: cannot read it: {problem.strerror or problem}") from None
    except UnicodeDecodeError:
        raise WorkflowError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise WorkflowError(f"{path}: not YAML{line}: {getattr(problem, 'problem', None) or problem}") from None
    return parse_workflow(document, str(path))


def workflow_files(folder: Path | str) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise WorkflowError(f"{folder}: no such folder of workflows")
    return sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and p.is_file())


def load_workflows(folder: Path | str) -> dict[str, tuple[Path, Workflow]]:
    """Every workflow of a folder by name, with its file; the first error stops it (one line), as do
    two files with the same name."""
    found: dict[str, tuple[Path, Workflow]] = {}
    for path in workflow_files(folder):
        workflow = load_workflow(path)
        if workflow.name in found:
            raise WorkflowError(f"{path}: name {workflow.name!r} is taken by {found[workflow.name][0]}")
        found[workflow.name] = (path, workflow)
    return found


# -- checking against the columns -----------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _columns(spec_json: str, with_totals: bool) -> tuple[tuple[str, pa.DataType], ...]:
    """The columns the spec's report yields, learnt by computing it on an empty in-memory warehouse
    (the same SQL as with data), and its headline totals as `totals.<name>`."""
    import pyarrow as pa

    from ziwo_reports.connectors.files.headline import totals
    from ziwo_reports.report import compute_report
    from ziwo_reports.warehouse import open_warehouse

    spec = ReportSpec.model_validate_json(spec_json)
    with open_warehouse(":memory:") as warehouse:
        report = compute_report(warehouse, spec)
    columns = [(field.name, field.type) for field in report.table.schema]
    if with_totals:
        for total in totals(report):
            columns.append((f"totals.{total.name}", pa.int64() if total.kind == "count" else pa.float64()))
    return tuple(columns)


def operation_columns(workflow: Workflow) -> dict[str, pa.DataType]:
    """The fields conditions may test: the report's (or the call details') columns, and for a report
    or an export its headline totals as `totals.<name>`; the call's fields for after_call."""
    # Only what shapes the columns: the report, its grouping and interval (filters and the window do not).
    spec = ReportSpec(
        report=workflow.spec().report, group_by=workflow.spec().group_by, interval=workflow.spec().interval
    )
    return dict(_columns(spec.model_dump_json(), workflow.operation.kind != "call"))


def check_workflow(workflow: Workflow, source: str = "workflow") -> Workflow:
    """The workflow, after checking its conditions against the columns of its operation; a WorkflowError
    names `source`, `conditions`, the field and what it may be."""
    if workflow.conditions is None:
        return workflow
    try:
        check(workflow.conditions, operation_columns(workflow))
    except ConditionError as problem:
        raise WorkflowError(f"{source}: conditions: {str(problem).removeprefix('conditions: ')}") from None
    return workflow


__all__ = [
    "AllOf",
    "AnyOf",
    "Condition",
    "Workflow",
    "WorkflowError",
    "check_workflow",
    "load_workflow",
    "load_workflows",
    "operation_columns",
    "parse_workflow",
]


# -- the JSON Schema -------------------------------------------------------------------------------

#: The committed schema editors check workflow files with (tests keep it equal to `schema_text()`).
SCHEMA_PATH = Path(__file__).with_name("workflow.schema.json")


def schema_text() -> str:
    """The JSON Schema of a workflow file, as committed in SCHEMA_PATH."""
    import json

    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **Workflow.model_json_schema()}
    # The model's schema is the form's (a list per type); files mostly hold the flat list tagged by `type`,
    # which DeliveriesBase reads too: the schema takes both.
    per_type = schema["$defs"]["Deliveries"]["properties"]
    flat = {
        "type": "array",
        "minItems": 1,
        "items": {"oneOf": [{"allOf": [item["items"], {"required": ["type"]}]} for item in per_type.values()]},
    }
    # Conditions read text ("duration_s > 300") and operator aliases (">", "not in") too: so does the schema.
    text = {"type": "string", "minLength": 1, "description": "The text form: duration_s > 300 and tags contains x"}
    schema["properties"]["conditions"]["anyOf"][0]["oneOf"].append(text)
    for group in ("AllOf", "AnyOf"):
        schema["$defs"][group]["properties"][group[:3].lower()]["items"]["oneOf"].append(text)
    operator = schema["$defs"]["Condition"]["properties"]["operator"]
    operator["enum"] = [*operator["enum"], *OPERATOR_ALIASES]
    field = schema["properties"]["deliveries"]
    schema["properties"]["deliveries"] = {
        "anyOf": [{"$ref": field.pop("$ref")}, flat],
        **field,
    }
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
