"""The `ziwo-report` Prefect flow: bring the warehouse up to date (the ingest flow, incremental),
compute a report, write its files, and publish Prefect artifacts: the report as a table, a
markdown summary and a link to each file.

Its parameters are typed (Literal choices and pydantic models), so the Prefect UI shows a form
with dropdowns. Deployments are in prefect.yaml; `ziwo-reports serve` runs them without a work pool.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from pydantic import Field

from ziwo_reports import redaction
from ziwo_reports.connectors.delivery import ItemResult, TargetOptions, deliveries_model
from ziwo_reports.connectors.files import FileOptions, WrittenFile
from ziwo_reports.connectors.files.delivery import FileTarget
from ziwo_reports.connectors.files.headline import totals
from ziwo_reports.deliveries import Delivered, deliver_report, new_run_id
from ziwo_reports.flows.ingest import artifact_key, ingest, instance_settings
from ziwo_reports.flows.parameters import CredentialsBlock, DbPath, form, warehouse_path
from ziwo_reports.flows.slots import warehouse_slot
from ziwo_reports.report import compute_report
from ziwo_reports.report_model import (
    GroupBy,
    Interval,
    LastNDays,
    MetricSettings,
    Report,
    ReportFilters,
    ReportName,
    ReportSpec,
    RollingDate,
    make_spec,
)
from ziwo_reports.report_output import format_value
from ziwo_reports.warehouse import Warehouse, open_warehouse

STEP = {"retries": 0, "cache_policy": NO_CACHE}
#: Rows a table artifact shows; the files carry every row.
ARTIFACT_ROWS = 500
#: group_by's default: each report's own grouping.
AUTO = "auto"
#: The time zone parameter's default: the instance's own zone.
INSTANCE_ZONE = "instance"
#: The defaults of the model parameters (never changed in place: the models are only read).
NO_FILTERS, DEFAULT_SETTINGS, DEFAULT_FILES = ReportFilters(), MetricSettings(), FileOptions()
#: A list of targets per delivery type: a form per target in the Prefect UI.
Deliveries = deliveries_model()
NO_DELIVERIES = Deliveries()


@task(name="compute the report", **STEP)
def compute(db_path: str, spec: ReportSpec) -> Report:
    # Read-only: it never changes the file, and reads beside other readers of it.
    with open_warehouse(db_path, read_only=True, on_wait=get_run_logger().warning) as warehouse:
        return compute_report(warehouse, spec)


@contextmanager
def ledger_warehouse(db_path: str) -> Iterator[Warehouse]:
    """The warehouse, open to write a ledger row for a moment: in the warehouse's slot, so the
    write queues behind a flow run that holds the file instead of failing."""
    with warehouse_slot(db_path), open_warehouse(db_path, on_wait=get_run_logger().warning) as warehouse:
        yield warehouse


@task(name="deliver", task_run_name="deliver to {target.type} {target.target_name}", **STEP)
def deliver(report: Report, target: TargetOptions, db_path: str) -> Delivered:
    """One target: its items planned in the ledger, sent, and each result recorded."""
    run_id = str(flow_run.get_id() or new_run_id())
    return deliver_report(report, target, lambda: ledger_warehouse(db_path), run_id=run_id, source="ziwo-report")


def _link(path: str) -> str:
    return path if "://" in path else Path(path).resolve().as_uri()


def _file(result: ItemResult) -> WrittenFile:
    return WrittenFile(
        format=result.info["format"], path=result.ref, bytes=result.info["bytes"], rows=result.info["rows"]
    )


def publish(report: Report, delivered: list[Delivered]) -> None:
    """A table artifact of the report, a markdown summary, and a link artifact per file."""
    written = [_file(r) for d in delivered if d.plan.target_type == "file" for r in d.results if r.status == "sent"]
    spec = report.spec
    key = artifact_key("ziwo-report", spec.report, spec.instance or "all")
    rows = orjson.loads(orjson.dumps(report.table.slice(0, ARTIFACT_ROWS).to_pylist()))  # ISO times, lists kept
    shown = "" if report.table.num_rows <= ARTIFACT_ROWS else f", the first {ARTIFACT_ROWS} of {report.table.num_rows}"
    create_table_artifact(rows, key=key, description=f"{report.title}{shown}")
    lines = [
        f"# {spec.report} of `{spec.instance or 'all instances'}`",
        "",
        f"{report.zone.iso(report.window.start)} .. {report.zone.iso(report.window.end)} "
        f"({spec.rolling_date}, {report.zone.label}), by {spec.group_by}, interval {spec.interval}; "
        f"{report.table.num_rows} rows.",
        "",
        "| total | value |",
        "|---|---:|",
        *(f"| {total.label} | {format_value(total.value, total.kind)} |" for total in totals(report)),
        "",
        "| file | format | bytes |",
        "|---|---|---:|",
        *(f"| [{Path(f.path).name}]({_link(f.path)}) | {f.format} | {f.bytes:,} |" for f in written),
        "",
        "| delivery | items | sent | not sent |",
        "|---|---:|---:|---:|",
        *(
            f"| {d.plan.target_type} `{d.plan.target_name}` | {len(d.plan.items)} | "
            f"{len(d.results) - len(d.failed)} | {len(d.failed)} |"
            for d in delivered
        ),
    ]
    create_markdown_artifact("\n".join(lines), key=f"{key}-summary", description=report.title)
    for file in written:
        create_link_artifact(
            _link(file.path),
            link_text=Path(file.path).name,
            key=artifact_key(key, file.format),
            description=report.title,
        )


@flow(name="ziwo-report")
def report(
    credentials_block: CredentialsBlock = "",
    report: Annotated[
        ReportName,
        form(
            "Report",
            "agent-performance: one row per agent (or team, queue); queue-performance: one row per queue; "
            "call-details: one row per call leg.",
        ),
    ] = "agent-performance",
    rolling_date: Annotated[
        Annotated[RollingDate, Field(title="preset")] | LastNDays,
        form(
            "Period",
            "A preset, or last_n_days:N for the N full days before today; custom: from the start to the end day.",
        ),
    ] = "yesterday",
    start: Annotated[
        date | None, form("Start (custom)", "The first day of a custom period, included; None for the presets.")
    ] = None,
    end: Annotated[
        date | None, form("End (custom)", "The last day of a custom period, included; None for the presets.")
    ] = None,
    timezone: Annotated[
        str,
        form(
            "Time zone",
            "instance: the Ziwo instance's own zone (of the credentials block, else ZIWO_TIMEZONE); or an IANA "
            "zone (Asia/Dubai) or a UTC offset (UTC-12:00, +04:00). Days, weeks and intervals are counted in it.",
        ),
    ] = INSTANCE_ZONE,
    group_by: Annotated[
        Literal["auto", GroupBy],
        form(
            "Group by",
            "One row per group: auto is by agent for agent-performance and by queue for queue-performance "
            "(which groups by queue or none); call-details lists every leg and ignores it.",
        ),
    ] = AUTO,
    interval: Annotated[
        Interval,
        form("Interval", "Rows per period of this length (15m to month) for each group; none: one row per group."),
    ] = "none",
    filters: Annotated[
        ReportFilters, form("Filters", "Which call legs count; a filter left empty lets every leg through.")
    ] = NO_FILTERS,
    settings: Annotated[
        MetricSettings, form("Metric settings", "How the metrics are counted; the defaults are in docs/metrics.md.")
    ] = DEFAULT_SETTINGS,
    files: Annotated[FileOptions, form("Files", "Which report files to write, where, and how.")] = DEFAULT_FILES,
    deliveries: Annotated[
        Deliveries,  # type: ignore[valid-type]
        form(
            "More deliveries",
            "Further targets for the report beside the files above, a list per type: more report files, "
            "webhooks (signed Standard Webhooks messages), HTTP APIs (any REST API, with a field mapping); "
            "secrets come from the credentials block each names. A flat list of targets with their `type` "
            "works too. Every item is kept in the delivery ledger: `ziwo-reports deliveries` lists them, "
            "`ziwo-reports replay` sends what failed again.",
        ),
    ] = NO_DELIVERIES,
    ingest_first: Annotated[
        bool, form("Ingest first", "Bring the warehouse up to date from Ziwo first; off: report on it as it is.")
    ] = True,
    as_of: Annotated[
        datetime | None, form("As of", "'Now' for the period, with a UTC offset; None: the time the run starts.")
    ] = None,
    db_path: DbPath = "",
) -> list[dict[str, Any]]:
    """Ingest (incremental), compute the report of the instance, deliver it (its files, then each of
    `deliveries`, every item in the ledger), publish artifacts."""
    redaction.install()
    logger = get_run_logger()
    db_path = warehouse_path(db_path)
    instance = instance_settings(credentials_block)
    spec = make_spec(
        report=report,
        instance=instance.instance,
        rolling_date=rolling_date,
        start=start,
        end=end,
        timezone=instance.timezone if timezone.strip().lower() in ("", INSTANCE_ZONE) else timezone,
        group_by=None if group_by == AUTO else group_by,
        interval=interval,
        filters=filters,
        settings=settings,
        as_of=as_of,
    )
    if ingest_first:
        ingest(credentials_block=credentials_block, db_path=db_path)
    # The slot only around the reading: the ingest subflow takes it for itself, and holding it
    # across the subflow would leave that waiting for its own parent.
    with warehouse_slot(db_path):
        computed = compute(db_path, spec)
    # The report files are the first delivery, of type file; `deliveries` adds more targets.
    targets = [FileTarget(**files.model_dump()), *deliveries.targets()]
    delivered = [deliver(computed, target, db_path) for target in targets]
    publish(computed, delivered)
    for item in (r for d in delivered for r in d.results if r.status == "sent"):
        logger.info("delivered %s", item.ref)
    for done in delivered:
        done.raise_for_failures()
    files_written = [_file(r) for r in delivered[0].results]
    return [json.loads(file.model_dump_json()) for file in files_written]


if __name__ == "__main__":
    report()
