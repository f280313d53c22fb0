"""Typed Ziwo records to Arrow tables shaped like the warehouse tables, ready for DuckDB."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
import pyarrow as pa

from ziwo_reports.connectors.ziwo.records import CALL_COLUMNS, CallRecord, Column

ARROW_TYPES: dict[str, pa.DataType] = {
    "str": pa.string(),
    "int": pa.int64(),
    "seconds": pa.int32(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "tags": pa.list_(pa.string()),
}


def raw_json(raw: Any) -> str:
    """The record as compact JSON text: what the warehouse keeps in `raw`."""
    return orjson.dumps(raw).decode()


def record_hash(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


@dataclass(slots=True)
class Loadable:
    """A checked call leg on its way to the warehouse."""

    record: CallRecord
    raw: str
    hash: str


@dataclass(slots=True)
class QuarantineEntry:
    record_key: str
    call_id: str | None
    source_date: date | None
    check_stage: str  # 'parse' or 'validate'
    reason: str
    detail: str
    raw: str
    hash: str


def _digits(number: str | None) -> str:
    return "".join(ch for ch in number if ch.isdigit()) if number else ""


def calls_table(instance: str, day: date, legs: Sequence[Loadable]) -> pa.Table:
    columns: dict[str, pa.Array] = {
        "instance": pa.array([instance] * len(legs), pa.string()),
        "contact_id": pa.array([leg.record.contact_id for leg in legs], pa.string()),
    }
    for col in CALL_COLUMNS:
        columns[col.name] = pa.array([getattr(leg.record, col.name) for leg in legs], ARROW_TYPES[col.kind])
    columns["caller_digits"] = pa.array([_digits(leg.record.caller_number) for leg in legs], pa.string())
    columns["source_date"] = pa.array([day] * len(legs), pa.date32())
    columns["raw"] = pa.array([leg.raw for leg in legs], pa.string())
    columns["record_hash"] = pa.array([leg.hash for leg in legs], pa.string())
    return pa.table(columns)


def quarantine_table(instance: str, stream: str, entries: Sequence[QuarantineEntry]) -> pa.Table:
    n = len(entries)
    return pa.table(
        {
            "instance": pa.array([instance] * n, pa.string()),
            "stream": pa.array([stream] * n, pa.string()),
            "record_key": pa.array([e.record_key for e in entries], pa.string()),
            "call_id": pa.array([e.call_id for e in entries], pa.string()),
            "source_date": pa.array([e.source_date for e in entries], pa.date32()),
            "check_stage": pa.array([e.check_stage for e in entries], pa.string()),
            "reason": pa.array([e.reason for e in entries], pa.string()),
            "detail": pa.array([e.detail for e in entries], pa.string()),
            "raw": pa.array([e.raw for e in entries], pa.string()),
            "record_hash": pa.array([e.hash for e in entries], pa.string()),
        }
    )


def reference_table(instance: str, rows: Sequence[dict[str, Any]], columns: tuple[Column, ...]) -> pa.Table:
    """Agents, queues or numbers (rows from `parse_row`) as a table with `raw` and `record_hash`."""
    raws = [raw_json(row["raw"]) for row in rows]
    table = {"instance": pa.array([instance] * len(rows), pa.string())}
    for col in columns:
        table[col.name] = pa.array([row[col.name] for row in rows], ARROW_TYPES[col.kind])
    table["raw"] = pa.array(raws, pa.string())
    table["record_hash"] = pa.array([record_hash(r) for r in raws], pa.string())
    return pa.table(table)
