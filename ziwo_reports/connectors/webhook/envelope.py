"""The messages of a report, as Standard Webhooks envelopes `{"type", "timestamp", "data"}`:

- mode `report`: one message, `data` = the report's metadata and `rows`; its key is the report's key;
- mode `row`: one message per row, `data` = metadata, `row_key` and `row`; its key is the row's key;
- mode `chunks`: consecutive rows, `data` = metadata, `chunk` {sequence (1-based), count,
  first_row (0-based), rows} and `rows`, each body at most max_body_bytes; key `<report key>:chunk:i/n`.

`timestamp` is the report's "now" (as_of), so a rerun of the same period sends the same bytes.
Each message's id (`webhook-id`, also its `Idempotency-Key`) is derived from its type and key:
a retry, a rerun and a replay carry the same id, a test send (type `*.test`) another one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import orjson

from ziwo_reports.connectors.delivery import SAMPLE_ROWS, DeliveryConfigError
from ziwo_reports.connectors.webhook.options import WebhookTarget
from ziwo_reports.report_model import Report, report_key, report_metadata, row_keys

TEST_KEY_PREFIX = "test:"


@dataclass(frozen=True)
class Message:
    key: str  # the ledger's chunk key, stable across reruns
    id: str  # webhook-id
    type: str
    envelope: dict[str, Any]  # {"type", "timestamp", "data"}
    body: bytes  # the envelope as JSON
    rows: int
    row_keys: tuple[str, ...]
    sample: tuple[dict[str, Any], ...]


def message_id(event_type: str, key: str) -> str:
    return "msg_" + hashlib.sha256(f"{event_type}\n{key}".encode()).hexdigest()


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=str)


def _too_large(options: WebhookTarget, what: str, size: int) -> DeliveryConfigError:
    return DeliveryConfigError(
        f"webhook delivery: max_body_bytes {options.max_body_bytes} with mode {options.mode!r}: {what} takes "
        f"{size} bytes; raise max_body_bytes" + (" or use mode 'chunks'" if options.mode == "report" else "")
    )


def messages(report: Report, options: WebhookTarget) -> list[Message]:
    """Every message of the report, in order; DeliveryConfigError when one cannot fit max_body_bytes."""
    kind = options.message_type
    prefix = TEST_KEY_PREFIX if options.test else ""
    timestamp = report.as_of.astimezone(UTC).isoformat()
    metadata = report_metadata(report)
    rows = report.table.to_pylist()
    keys = [str(k) for k in row_keys(report).to_pylist()]

    def message(key: str, data: dict[str, Any], first: int, count: int) -> Message:
        key = prefix + key
        envelope = {"type": kind, "timestamp": timestamp, "data": data}
        return Message(
            key=key,
            id=message_id(kind, key),
            type=kind,
            envelope=envelope,
            body=_dumps(envelope),
            rows=count,
            row_keys=tuple(keys[first : first + count]),
            sample=tuple(orjson.loads(_dumps(rows[first : first + min(count, SAMPLE_ROWS)]))),
        )

    if options.mode == "report":
        made = [message(report_key(report), {**metadata, "rows": rows}, 0, len(rows))]
        if len(made[0].body) > options.max_body_bytes:
            raise _too_large(options, f"the report of {len(rows)} rows", len(made[0].body))
        return made
    if options.mode == "row":
        made = []
        for position, (key, row) in enumerate(zip(keys, rows, strict=True)):
            made.append(message(key, {**metadata, "row_key": key, "row": row}, position, 1))
            if len(made[-1].body) > options.max_body_bytes:
                raise _too_large(options, f"row {position} ({key})", len(made[-1].body))
        return made
    return list(_chunks(options, report_key(report), timestamp, metadata, rows, message))


def _chunks(
    options: WebhookTarget,
    key: str,
    timestamp: str,
    metadata: dict[str, Any],
    rows: list[dict[str, Any]],
    message: Callable[[str, dict[str, Any], int, int], Message],
) -> Iterator[Message]:
    """Rows cut into chunks whose bodies fit max_body_bytes exactly: the envelope's size without rows
    is bounded above by numbering every field with the largest number any takes, and orjson
    writes a list as `[a,b,...]`, so each further row adds its own JSON and one comma."""
    limit = options.max_body_bytes
    top = max(len(rows), 1)
    empty = {**metadata, "chunk": {"sequence": top, "count": top, "first_row": top, "rows": top}, "rows": []}
    overhead = len(_dumps({"type": options.message_type, "timestamp": timestamp, "data": empty}))
    sizes = [len(_dumps(row)) for row in rows]
    bounds: list[tuple[int, int]] = []  # (first row, row count)
    first, size = 0, overhead
    for position, row_size in enumerate(sizes):
        if overhead + row_size > limit:
            raise _too_large(options, f"row {position}", overhead + row_size)
        added = row_size + (1 if position > first else 0)
        if size + added > limit:
            bounds.append((first, position - first))
            first, size = position, overhead + row_size
        else:
            size += added
    bounds.append((first, len(rows) - first))
    count = len(bounds)
    for sequence, (start, length) in enumerate(bounds, start=1):
        chunk = {"sequence": sequence, "count": count, "first_row": start, "rows": length}
        data = {**metadata, "chunk": chunk, "rows": rows[start : start + length]}
        made = message(f"{key}:chunk:{sequence}/{count}", data, start, length)
        if len(made.body) > limit:  # the bound above makes this impossible; never send one over the limit
            raise _too_large(options, f"chunk {sequence} of {count}", len(made.body))
        yield made
