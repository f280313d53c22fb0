"""The file connector's entry point: write a computed report as files (xlsx, csv, parquet, json)
into a local folder or an fsspec URL, named by a template, each file atomically."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any

import pyarrow as pa

from ziwo_reports.connectors.files.csv_file import write_csv
from ziwo_reports.connectors.files.destination import Destination, Staged, open_destination
from ziwo_reports.connectors.files.excel import write_xlsx
from ziwo_reports.connectors.files.json_file import write_json
from ziwo_reports.connectors.files.naming import name_fields, render_name
from ziwo_reports.connectors.files.options import FileOptions, WrittenFile
from ziwo_reports.connectors.files.parquet_file import write_parquet
from ziwo_reports.report_model import Report, ReportSpec
from ziwo_reports.timewindows import Window

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


class PartlyWrittenError(OSError):
    """A file of a run could not be moved into place after others were: they are named, and kept
    in `written`."""

    def __init__(self, message: str, written: list[WrittenFile]) -> None:
        super().__init__(message)
        self.written = written


def file_targets(
    report: Report, options: FileOptions, generated_at: datetime, *, check: bool = True
) -> tuple[Destination, list[tuple[str, str]]]:
    """The destination and each format's full path, every name rendered and kept inside the
    destination; with `check`, also the destination checked to be a folder (or one that can be
    made) and no name taken under overwrite 'never'."""
    destination = open_destination(options.destination)
    if check:
        destination.check()
    targets = []
    for fmt in options.formats:
        name = render_name(options.template, name_fields(report, fmt, generated_at), fmt)
        targets.append((fmt, destination.target(name)))
    if check:
        for _, path in targets:
            destination.check_free(path, options.overwrite)
    return destination, targets


def check_report_files(spec: ReportSpec, window: Window, options: FileOptions) -> list[str]:
    """Where a report's files would go, checked as `write_report_files` checks them, before the
    report is computed: a command refuses a bad destination or name before any work."""
    now = datetime.now(UTC)
    preview = Report(spec, spec.zone, window, now, now, pa.table({}))
    return [path for _, path in file_targets(preview, options, now)[1]]


def write_report_files(
    report: Report,
    options: FileOptions | None = None,
    *,
    generated_at: datetime | None = None,
    **overrides: Any,
) -> list[WrittenFile]:
    """Write `report` once per format of `options` (FileOptions; keyword arguments override its
    fields, e.g. `formats=["xlsx"], destination="s3://bucket/reports"`). Every name is worked out
    and checked first; then every format is written to a temporary file, and only when all are
    written are they moved into place, so a failure (a full disk) leaves the destination as it was.
    If a move fails after others, the error names the files already in place. Returns what was
    written, in the order of the formats."""
    base = options.model_dump() if options else {}
    options = FileOptions.model_validate({**base, **overrides})
    generated_at = (generated_at or datetime.now(UTC)).astimezone(UTC)
    destination, targets = file_targets(report, options, generated_at)
    staged: list[Staged] = []
    try:
        for fmt, path in targets:
            staged.append(destination.stage(path))
            WRITERS[fmt](report, staged[-1].file, options, generated_at)
        written: list[WrittenFile] = []
        for (fmt, path), file in zip(targets, staged, strict=True):
            try:
                destination.commit(file, options.overwrite)
            except Exception as error:
                if not written:
                    raise
                done = ", ".join(w.path for w in written)
                message = f"{path} was not written ({error}); already in place: {done}"
                raise PartlyWrittenError(message, written) from error
            written.append(WrittenFile(format=fmt, path=file.path, bytes=file.bytes, rows=report.table.num_rows))
        return written
    finally:
        for file in reversed(staged):
            destination.discard(file)
