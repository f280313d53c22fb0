"""CSV, Parquet and JSON files of real reports, read back."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.file_reports import AT_TAG, EVIL_NAME, EVIL_TAG, hostile_reports, simulator_reports
from ziwo_reports.connectors.files import FileOptions, write_report_files
from ziwo_reports.connectors.files.csv_file import write_csv
from ziwo_reports.connectors.files.parquet_file import METADATA_KEY
from ziwo_reports.report_output import to_text

GENERATED = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def write(report, tmp_path, fmt, **options):
    (written,) = write_report_files(report, formats=[fmt], destination=tmp_path, generated_at=GENERATED, **options)
    assert written.rows == report.table.num_rows and written.path.endswith(f".{fmt}")
    return written


def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def as_csv(value) -> str:
    """A report value as CSV should carry it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, list):
        return "; ".join(value)
    return str(value)


@pytest.mark.parametrize("name", ["agent-performance-daily", "queue-performance", "call-details"])
def test_csv_equals_the_report(tmp_path, name):
    report = simulator_reports()[name]
    data = Path(write(report, tmp_path, "csv").path).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    rows = csv_rows(data)
    assert list(rows[0]) == report.table.column_names
    for expected, got in zip(report.table.to_pylist(), rows, strict=True):
        for column, value in expected.items():
            if isinstance(value, float):
                assert float(got[column]) == pytest.approx(value), column
            else:
                assert got[column] == as_csv(value), column
    if name == "call-details":
        assert rows[0]["started_at"].endswith("+00:00") and rows[0]["started_at_local"].endswith("+04:00")


def test_csv_without_a_byte_order_mark(tmp_path):
    report = simulator_reports()["queue-performance"]
    data = Path(write(report, tmp_path, "csv", csv_bom=False).path).read_bytes()
    assert data.startswith(b"instance,group_id,")


def test_csv_formulas_are_inert_and_numbers_stay_numbers(tmp_path):
    details = hostile_reports()["call-details"]
    rows = {r["call_id"]: r for r in csv_rows(Path(write(details, tmp_path, "csv").path).read_bytes())}
    assert rows["c2b"]["agent_name"] == "'" + EVIL_NAME
    assert rows["c5"]["tags"] == "'" + AT_TAG
    assert rows["c1"]["tags"] == f"vip; {EVIL_TAG}"  # starts with a letter: nothing to neutralise
    assert rows["c1"]["caller_number"] == "+971501111111"  # a number written as text is not a formula

    agents = hostile_reports()["agent-performance"]
    table = agents.table
    column = table.schema.get_field_index("total_talk_time_s")
    negative = table.set_column(column, "total_talk_time_s", pa.array([-5] * table.num_rows, pa.int64()))
    names = table["group_name"].to_pylist()
    text = io.BytesIO()
    write_csv(dataclasses.replace(agents, table=negative), text)
    rows = csv_rows(text.getvalue())
    assert [r["total_talk_time_s"] for r in rows] == ["-5"] * table.num_rows
    assert [r["group_name"] for r in rows] == ["'" + n if n.startswith("=") else n for n in names]
    for bad in ("+SUM(A1)", "-1+cmd", "@x", "\tx", "\rx"):
        weird = table.set_column(
            table.schema.get_field_index("group_name"), "group_name", pa.array([bad] * table.num_rows)
        )
        text = io.BytesIO()
        write_csv(dataclasses.replace(agents, table=weird), text, bom=False)
        assert csv_rows(text.getvalue())[0]["group_name"] == "'" + bad


def test_parquet_keeps_the_types_and_the_metadata(tmp_path):
    report = simulator_reports()["call-details"]
    back = pq.read_table(write(report, tmp_path, "parquet").path)
    assert back.equals(report.table, check_metadata=False)
    assert back.schema.field("started_at").type == pa.timestamp("us", tz="UTC")
    assert back.schema.field("talk_time_s").type == report.table.schema.field("talk_time_s").type
    assert pa.types.is_list(back.schema.field("tags").type)
    talk = back.schema.field("talk_time_s").metadata
    assert talk[b"kind"] == b"duration" and talk[b"unit"] == b"s"
    meta = json.loads(back.schema.metadata[METADATA_KEY])
    assert meta["report"] == "call-details" and meta["instance"] == "sim" and meta["timezone"] == "Asia/Dubai"
    assert meta["window"]["start"] == report.zone.iso(report.window.start)
    assert meta["generated_at"] == GENERATED.isoformat() and meta["spec"]["rolling_date"] == "last_7_days"

    agents = simulator_reports()["agent-performance"]
    back = pq.read_table(write(agents, tmp_path, "parquet").path)
    assert back.schema.field("fcr_rate").metadata[b"unit"] == b"fraction 0-1"
    # durations are integer seconds: averages rounded, everything else as the report has it
    averages = [f.name for f in agents.table.schema if f.name.endswith("_s") and pa.types.is_floating(f.type)]
    assert "avg_handle_time_s" in averages and all(back.schema.field(n).type == pa.int64() for n in averages)
    for name in averages:
        expected = [None if v is None else round(v) for v in agents.table[name].to_pylist()]
        assert [None if v is None else round(v) for v in back[name].to_pylist()] == expected
    rest = [n for n in agents.table.column_names if n not in averages]
    assert back.select(rest).equals(agents.table.select(rest), check_metadata=False)


def test_json_is_the_envelope_and_the_rows(tmp_path):
    report = simulator_reports()["call-details"]
    document = json.loads(Path(write(report, tmp_path, "json").path).read_bytes())
    assert document["report"] == "call-details" and document["instance"] == "sim"
    assert document["window"] == {
        "start": report.zone.iso(report.window.start),
        "end": report.zone.iso(report.window.end),
    }
    assert document["timezone"] == "Asia/Dubai" and document["as_of"] == report.as_of.isoformat()
    assert document["generated_at"] == GENERATED.isoformat() and document["spec"]["report"] == "call-details"
    assert len(document["rows"]) == report.table.num_rows
    first = report.table.slice(0, 1).to_pylist()[0]
    assert document["rows"][0]["started_at"] == first["started_at"].isoformat()
    assert document["rows"][0]["tags"] == first["tags"]
    # one JSON writer: the command line's --format json is the same document
    cli = json.loads(to_text(report, "json"))
    assert cli["rows"] == document["rows"] and cli.keys() == document.keys()


def test_options_are_a_typed_json_schema():
    schema = FileOptions.model_json_schema()
    props = schema["properties"]
    assert props["overwrite"]["enum"] == ["replace", "never", "version"]
    assert props["formats"]["items"]["enum"] == ["xlsx", "csv", "parquet", "json"]
    assert all(props[name].get("description") for name in props)
    assert FileOptions(formats=["csv", "csv", "json"]).formats == ["csv", "json"]


def test_an_empty_report_in_every_format(tmp_path):
    empty = hostile_reports()["empty"]
    written = write_report_files(empty, formats=["csv", "parquet", "json"], destination=tmp_path)
    assert [w.rows for w in written] == [0, 0, 0]
    assert Path(written[0].path).read_bytes().decode("utf-8-sig").strip() == ",".join(empty.table.column_names)
    assert pq.read_table(written[1].path).schema.names == empty.table.column_names
    assert json.loads(Path(written[2].path).read_bytes())["rows"] == []
