"""The report as JSON: the metadata envelope (report_metadata) and the rows, one a line.

The project's one JSON writer: `ziwo-reports report --format json` goes through it too."""

from __future__ import annotations

from datetime import datetime
from typing import IO

import orjson

from ziwo_reports.connectors.files.metadata import report_metadata
from ziwo_reports.report_model import Report

_BATCH_ROWS = 10_000


def write_json(report: Report, file: IO[bytes], *, generated_at: datetime | None = None) -> None:
    """`{"report": ..., "window": {...}, ..., "rows": [{...}, ...]}`, streamed a batch of rows at
    a time so a large call-details export never becomes one Python list. Times are ISO 8601 with
    their offset; lists stay lists; NaN becomes null."""
    file.write(b"{\n")
    for key, value in report_metadata(report, generated_at).items():
        file.write(b' "' + key.encode() + b'": ' + orjson.dumps(value) + b",\n")
    file.write(b' "rows": [')
    separator = b"\n  "
    for batch in report.table.to_batches(max_chunksize=_BATCH_ROWS):
        for row in batch.to_pylist():
            file.write(separator + orjson.dumps(row))
            separator = b",\n  "
    file.write(b"\n ]\n}\n")
