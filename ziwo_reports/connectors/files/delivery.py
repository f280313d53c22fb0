"""Files as a delivery (type `file`): the report as Excel, CSV, Parquet or JSON files in a folder or
at an fsspec URL. One item per file, keyed by its path: a rerun of the same period writes the same
names (with overwrite `replace`, the default), so it replaces what it wrote, never adds to it."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from ziwo_reports.connectors.delivery import (
    CheckResult,
    Item,
    ItemResult,
    Plan,
    TargetOptions,
    register,
    sample_rows,
    table_hash,
    validate_options,
)
from ziwo_reports.connectors.files.destination import LocalDestination, open_destination
from ziwo_reports.connectors.files.naming import marked_template
from ziwo_reports.connectors.files.options import FileOptions
from ziwo_reports.connectors.files.write import PartlyWrittenError, file_targets, write_report_files
from ziwo_reports.redaction import redact
from ziwo_reports.report_model import Report


class FileTarget(TargetOptions, FileOptions):
    """Report files as a delivery target: FileOptions, tagged `type: file`."""

    form_title: ClassVar[str] = "More report files"
    form_description: ClassVar[str] = (
        "Report files besides those above: in other formats, or to another folder or fsspec URL."
    )

    type: Literal["file"] = Field(default="file", title="Type", description="file: report files in a folder or URL.")
    test: bool = Field(
        default=False,
        title="Test send",
        description="Write test files: each name gets -test before its extension (..._Asia-Dubai-test.xlsx) and "
        "replaces an earlier test file; a real file is never written over.",
    )

    def file_options(self) -> FileOptions:
        """The file options; a test send's with its -test names, replacing an earlier test's files."""
        options = FileOptions.model_validate(self.model_dump(exclude={"type", "name", "test"}))
        if self.test:
            options = options.model_copy(update={"template": marked_template(self.template), "overwrite": "replace"})
        return options


class FileDelivery:
    type: ClassVar[str] = "file"

    def __init__(self, options: FileTarget) -> None:
        self.options = options

    def validate(self) -> None:
        """The options as the model checks them (formats, template, limits); no I/O."""
        validate_options(self.options)

    def check(self) -> CheckResult:
        """Whether the destination can take files, without writing: a folder (or one that can be
        made) we may write into; for an fsspec URL, that it answers."""
        destination = open_destination(self.options.destination)
        try:
            destination.check()
            if isinstance(destination, LocalDestination):
                folder = next(p for p in (destination.folder, *destination.folder.parents) if p.exists())
                if not os.access(folder, os.W_OK | os.X_OK):
                    return CheckResult(False, f"{folder} is not writable by this user")
                return CheckResult(True, f"{destination.folder} can take files (checked {folder})")
            exists = destination.exists(destination.root)  # type: ignore[attr-defined]
            return CheckResult(True, f"{self.options.destination} answers ({'exists' if exists else 'made on write'})")
        except Exception as problem:  # what a person needs to see: the destination and why not
            return CheckResult(False, redact(f"{self.options.destination}: {problem}"))

    def _files(self, report: Report, generated_at: datetime) -> list[tuple[str, str]]:
        """(format, path) of each file: names only, the destination is checked when writing."""
        return file_targets(report, self.options.file_options(), generated_at, check=False)[1]

    def plan(self, report: Report) -> Plan:
        """The files it would write (paths, rows, a hash of the data by format), nothing written."""
        data = table_hash(report.table)
        sample = sample_rows(report.table)
        items = [
            Item(
                key=path,
                target=path,
                method="write",
                rows=report.table.num_rows,
                payload_hash=hashlib.sha256(f"{fmt}:{data}".encode()).hexdigest(),
                sample=sample,
            )
            for fmt, path in self._files(report, datetime.now(UTC))
        ]
        return Plan(self.type, self.options.target_name, items)

    def deliver(self, report: Report, keys: Collection[str] | None = None) -> Iterator[ItemResult]:
        """Write the files (those of `keys`), all or none: each file is staged and all are moved
        into place only when all are written."""
        generated_at = datetime.now(UTC)
        files = [(fmt, path) for fmt, path in self._files(report, generated_at) if keys is None or path in keys]
        if not files:
            return
        error = None
        try:
            written = write_report_files(
                report, self.options.file_options(), formats=[fmt for fmt, _ in files], generated_at=generated_at
            )
        except PartlyWrittenError as problem:  # files in place before a move failed: those arrived
            written, error = problem.written, problem
        except Exception as problem:
            written, error = [], problem
        for (_, path), file in zip(files, written, strict=False):
            info = {"format": file.format, "bytes": file.bytes, "rows": file.rows, "name": Path(file.path).name}
            yield ItemResult(path, "sent", ref=file.path, info=info)
        if error is not None:
            shown = redact(" ".join(f"{type(error).__name__}: {error}".split()))
            for _, path in files[len(written) :]:
                yield ItemResult(path, "failed", error=shown)


register(FileTarget, FileDelivery)
