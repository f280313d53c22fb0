"""The file connector's entry point: write a computed report as files (xlsx, csv, parquet, json)
into a local folder or an fsspec URL, named by a template, each file atomically."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any

from connectors.files.csv_file import write_csv
from connectors.files.destination import open_destination
from connectors.files.excel import write_xlsx
from connectors.files.json_file import write_json
from connectors.files.naming import name_fields, render_name
from connectors.files.options import FileOptions, WrittenFile
from connectors.files.parquet_file import write_parquet
from ziwo_reports.report import Report

Writer = Callable[[Report, IO[bytes], FileOptions, datetime], Any]

WRITERS: dict[str, Writer] = {
    "xlsx": lambda report, file, options, generated_at: write_xlsx(
        report,
        file,
        thresholds=options.thresholds,
        max_rows_per_sheet=options.max_rows_per_sheet,
        generated_at=generated_at,
    ),
    "csv": lambda report, file, options, generated_at: write_csv(report, file, bom=options.csv_bom),
    "parquet": lambda report, file, options, generated_at: write_parquet(report, file, generated_at=generated_at),
    "json": lambda report, file, options, generated_at: write_json(report, file, generated_at=generated_at),
}


def write_report_files(
    report: Report,
    options: FileOptions | None = None,
    *,
    generated_at: datetime | None = None,
    **overrides: Any,
) -> list[WrittenFile]:
    """Write `report` once per format of `options` (FileOptions; keyword arguments override its
    fields, e.g. `formats=["xlsx"], destination="s3://bucket/reports"`). Every name is worked out
    and, with overwrite 'never', checked free before anything is written; then each file is written
    atomically. Returns what was written, in the order of the formats."""
    base = options.model_dump() if options else {}
    options = FileOptions.model_validate({**base, **overrides})
    generated_at = (generated_at or datetime.now(UTC)).astimezone(UTC)
    destination = open_destination(options.destination)
    targets = []
    for fmt in options.formats:
        name = render_name(options.template, name_fields(report, fmt, generated_at), fmt)
        targets.append((fmt, destination.target(name)))
    for _, path in targets:
        destination.check_free(path, options.overwrite)
    written = []
    for fmt, path in targets:
        with destination.atomic(path, options.overwrite) as staged:
            WRITERS[fmt](report, staged.file, options, generated_at)
        written.append(WrittenFile(format=fmt, path=staged.path, bytes=staged.bytes, rows=report.table.num_rows))
    return written
