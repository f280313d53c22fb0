"""Salesforce as a delivery (type `salesforce`), two jobs:

- `upsert`: each row of the report upserted into `sobject` by its stable row key in
  `external_id_field`, so a rerun of a period updates the same records. Up to `bulk_threshold`
  rows go in sObject Collections requests (200 records, `allOrNone: false`, results in input
  order); above it, one Bulk API 2.0 ingest job (CSV upload, UploadComplete, polled until it ends),
  whose failed and successful records are read back and matched to rows by the key column (their
  order is not guaranteed). Each row is an item of the ledger with its own result, so `replay`
  sends exactly the rows that failed.
- `follow_up`: for after_call workflows, one item per call: the Contact (for a Task, then a Lead)
  whose Phone or MobilePhone is the caller's number, a new Contact when none matches and
  `on_no_match: create_contact`, then a Task (WhoId) or Case (ContactId) upserted by the call's key
  in `follow_up_key_field`: a rerun updates the follow-up, never makes a second.

A spent API allowance (403 REQUEST_LIMIT_EXCEEDED), or usage at `api_usage_ceiling` of it (read
from every answer's Sforce-Limit-Info), stops the delivery: every row not yet done is failed with
the reason (for `replay`), then a DeliveryError says so.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
import pyarrow as pa

from ziwo_reports.connectors.delivery import (
    CheckResult,
    DeliveryConfigError,
    DeliveryError,
    ItemResult,
    Plan,
    in_parallel,
    register,
    row_item,
    validate_options,
)
from ziwo_reports.connectors.http_api.mapping import (
    META_FIELDS,
    CompiledMapping,
    FieldSpec,
    MappingError,
    compile_mapping,
    parse_mapping,
    render_value,
)
from ziwo_reports.connectors.http_delivery import SHOWN_BODY, delivery_policy, failure
from ziwo_reports.connectors.phone_numbers import national_number, same_number
from ziwo_reports.connectors.salesforce.block import SalesforceCredentials
from ziwo_reports.connectors.salesforce.client import (
    LOCK,
    SalesforceApi,
    SalesforceSession,
    describe_errors,
    describe_response,
    soql_literal,
)
from ziwo_reports.connectors.salesforce.options import DEFAULT_FOLLOW_UP_MAPPING, SalesforceTarget
from ziwo_reports.connectors.secrets import load_credentials
from ziwo_reports.http import HttpError, LimitExceeded, Reply
from ziwo_reports.redaction import MASK, redact
from ziwo_reports.report_model import Report, report_metadata, row_keys

KIND = "salesforce"
#: Answers are read for ids and per-record results; Bulk result CSVs can be large.
MAX_ANSWER_BYTES = 256 * 1024 * 1024
#: A Bulk API 2.0 upload may hold 150 MB; simple-salesforce splits at 100 MB, and so do we.
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
SHOWN_REQUESTS = 3
FINISHED = ("JobComplete", "Failed", "Aborted")


@dataclass(frozen=True)
class Row:
    """A row as Salesforce gets it: its key and the record (JSON-ready)."""

    key: str
    record: dict[str, Any]
    source: dict[str, Any]
    encoded: bytes = b""  # the record as JSON, keys sorted: hashed by the plan, sent by Collections


class Stop(Exception):
    """The org's API allowance is spent, or at the usage ceiling: nothing more is sent in this
    delivery. `reason` says which; `done`: the results of the chunk's rows done before."""

    def __init__(self, reason: str, done: list[ItemResult] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.done = done or []


_CREATED = {"created": True, "via": "collections"}
_UPDATED = {"created": False, "via": "collections"}


def stopped_item(key: str, reason: str) -> ItemResult:
    """A row not sent because the delivery stopped at a limit: failed, for replay."""
    return ItemResult(key, "failed", error=reason, info={"stopped": True})


def phone_forms(number: str) -> list[str]:
    """The forms of a caller's number looked for first in Phone and MobilePhone (SOQL compares
    exact strings): as given, digits only, +digits and 00digits: E.164 and plain digits match, and
    so does a Contact this delivery created. Numbers typed with spaces, dashes or without the
    country code are found next by a search (`_search`)."""
    given = number.strip()
    digits = re.sub(r"\D", "", given)
    if digits.startswith("00"):
        digits = digits[2:]
    forms = [given, digits, f"+{digits}", f"00{digits}"] if digits else [given]
    return list(dict.fromkeys(form for form in forms if form))


def _json_ready(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))


def _csv_value(value: Any) -> str:
    """A value in Bulk API 2.0's CSV: #N/A sets a field to null (an empty cell leaves it as it was)."""
    if value is None:
        return "#N/A"
    if isinstance(value, bool):
        return "true" if value else "false"
    return render_value(value)


class SalesforceDelivery:
    type: ClassVar[str] = KIND

    def __init__(self, options: SalesforceTarget) -> None:
        self.options = options
        self._built: tuple[Report, list[Row]] | None = None
        self._session: SalesforceSession | None = None
        self._contact: CompiledMapping | None = None

    # --- the contract -------------------------------------------------------------------------

    def validate(self) -> None:
        validate_options(self.options)

    def check(self) -> CheckResult:
        """Log in and describe the object (read-only): an upsert's key field must be External ID and
        Unique; a follow-up's key field must be one a query can filter on (External ID makes each
        follow-up a single upsert)."""
        options = self.options
        follow_up = options.job == "follow_up"
        sobject, field = (
            (options.follow_up_object, options.follow_up_key_field)
            if follow_up
            else (options.sobject, options.external_id_field)
        )
        assert sobject is not None and field is not None
        try:
            api = self._api()
            try:
                found = _key_field(api, sobject, field)
            finally:
                api.close()
        except (DeliveryError, HttpError) as problem:
            return CheckResult(False, f"{KIND} {options.target_name}: {failure(problem)}")
        except _Failed as problem:
            return CheckResult(False, str(problem))
        where = f"{api.instance_url} (API v{options.api_version})"
        if follow_up and found.get("externalId"):
            return CheckResult(
                True, f"{sobject}.{field} is an external id at {where}: each follow-up is upserted by it"
            )
        if follow_up and found.get("filterable", True):
            return CheckResult(
                True,
                f"{sobject}.{field} is not External ID: each follow-up is found by a query on it, then updated "
                f"or created, at {where}",
            )
        if follow_up:
            return CheckResult(False, f"{sobject}.{field} cannot be filtered in a query: make it a Text field")
        missing = [flag for flag in ("externalId", "unique") if not found.get(flag)]
        if missing:
            return CheckResult(
                False, f"{sobject}.{field} is not {' and '.join(missing)}: mark it External ID and Unique"
            )
        return CheckResult(True, f"{sobject}.{field} is an external id at {where}")

    def plan(self, report: Report) -> Plan:
        rows = self._rows(report)
        options = self.options
        target = self._target()
        method = "upsert" if options.job == "upsert" else f"follow_up {options.follow_up}"
        items = [row_item(row.key, target, method, row.record, encoded=row.encoded or None) for row in rows]
        plan = Plan(KIND, options.target_name, items)
        plan.requests = self._shown_requests(rows)
        return plan

    def deliver(self, report: Report, keys: Collection[str] | None = None) -> Iterator[ItemResult]:
        rows = [row for row in self._rows(report) if keys is None or row.key in keys]
        if not rows:
            return
        try:
            api = self._api()
        except (DeliveryError, HttpError) as problem:
            message = failure(problem)
            for row in rows:
                yield ItemResult(row.key, "failed", error=message)
            return
        stopped: str | None = None
        try:
            if self.options.job == "follow_up":
                work = self._follow_ups(api, rows)
            elif self._bulk(len(rows)):
                work = self._bulk_upsert(api, rows)
            else:
                work = self._collections(api, rows)
            for result in work:
                if stopped is None and result.info.get("stopped"):
                    stopped = result.error
                yield result
        finally:
            api.close()
        if stopped:
            raise DeliveryError(f"{KIND} delivery {self.options.target_name!r}: {stopped}")

    # --- building ----------------------------------------------------------------------------

    def _target(self) -> str:
        options = self.options
        if options.job == "upsert":
            return f"{options.sobject}/{options.external_id_field}"
        return f"{options.follow_up_object}/{options.follow_up_key_field}"

    def _bulk(self, count: int) -> bool:
        mode = self.options.mode
        return mode == "bulk" or (mode == "auto" and count > self.options.bulk_threshold)

    def _compile(self, report: Report, mapping: dict[str, str | FieldSpec], what: str) -> CompiledMapping:
        table = report.table
        lists = [f.name for f in table.schema if pa.types.is_list(f.type) or pa.types.is_large_list(f.type)]
        try:
            return compile_mapping(
                mapping, table.column_names, report=report.spec.report, zone=report.zone.tz, list_columns=lists
            )
        except MappingError as problem:
            raise DeliveryConfigError(f"{KIND} delivery: {what}{problem}") from None

    def _rows(self, report: Report) -> list[Row]:
        """Each row's record, built once per report (plan and deliver share them)."""
        if self._built is None or self._built[0] is not report:
            self._built = (report, self._build(report))
        return self._built[1]

    def _build(self, report: Report) -> list[Row]:
        options = self.options
        mapping = options.mapping
        if options.job == "follow_up":
            if options.phone_column not in report.table.column_names:
                raise DeliveryConfigError(
                    f"{KIND} delivery: phone_column {options.phone_column!r} is not a column of "
                    f"{report.spec.report}: follow_up is for after_call workflows (call rows with caller_number)"
                )
            mapping = mapping or parse_mapping(DEFAULT_FOLLOW_UP_MAPPING)
            self._contact = self._compile(report, options.contact_mapping, "contact_")
        compiled = self._compile(report, mapping, "")
        metadata = report_metadata(report)
        meta = {name: metadata.get(name) for name in META_FIELDS if name != "row_key"}
        keys = [str(key) for key in row_keys(report).to_pylist()]
        out = []
        try:
            for row, key in zip(report.table.to_pylist(), keys, strict=True):
                record = _json_ready(compiled.body(row, {**meta, "row_key": key}))
                source = {**row, "__meta__": {**meta, "row_key": key}}
                if options.job == "upsert":
                    record[options.external_id_field] = key
                    out.append(Row(key, record, source, orjson.dumps(record, option=orjson.OPT_SORT_KEYS)))
                else:
                    out.append(Row(key, record, source))
        except MappingError as problem:
            raise DeliveryConfigError(f"{KIND} delivery: {problem}") from None
        return out

    def _shown_requests(self, rows: list[Row]) -> list[dict[str, Any]]:
        """The first requests as they would go out (the instance URL comes from the login)."""
        options = self.options
        base = "{instance_url}/services/data/v" + options.api_version
        headers = {"Authorization": f"Bearer {MASK}", "Content-Type": "application/json"}

        def shown(method: str, path: str, body: Any, key: str, content_type: str = "application/json") -> dict:
            text = body if isinstance(body, str) else orjson.dumps(body).decode()
            return {
                "key": key,
                "method": method,
                "url": base + path,
                "headers": {**headers, "Content-Type": content_type},
                "body": redact(text[:SHOWN_BODY]),
            }

        if not rows:
            return []
        if options.job == "follow_up":
            row = rows[0]
            forms = phone_forms(str(row.source.get(options.phone_column) or ""))
            record = {**row.record, ("WhoId" if options.follow_up == "task" else "ContactId"): "{matched id}"}
            return [
                shown("GET", "/query?q=" + self._match_soql("Contact", forms), "", row.key),
                shown(
                    "PATCH",
                    f"/sobjects/{options.follow_up_object}/{options.follow_up_key_field}/{row.key}",
                    record,
                    row.key,
                ),
            ]
        if self._bulk(len(rows)):
            job = {"object": options.sobject, "externalIdFieldName": options.external_id_field,
                   "contentType": "CSV", "operation": "upsert", "lineEnding": "LF"}  # fmt: skip
            return [
                shown("POST", "/jobs/ingest", job, "bulk"),
                shown("PUT", "/jobs/ingest/{job id}/batches", self._csv(rows[:5]).decode(), "bulk", "text/csv"),
                shown("PATCH", "/jobs/ingest/{job id}", {"state": "UploadComplete"}, "bulk"),
            ]
        out = []
        for index in range(0, min(len(rows), SHOWN_REQUESTS * options.batch_size), options.batch_size):
            chunk = rows[index : index + options.batch_size]
            records = [{"attributes": {"type": options.sobject}, **r.record} for r in chunk]
            body = {"allOrNone": False, "records": records}
            out.append(
                shown("PATCH", f"/composite/sobjects/{options.sobject}/{options.external_id_field}", body, chunk[0].key)
            )
        return out

    # --- credentials ------------------------------------------------------------------------

    def _api(self) -> SalesforceApi:
        """The org's API, logged in (the session is kept: a replay or a second run reuses it)."""
        options = self.options
        if self._session is None:
            try:
                block = load_credentials(SalesforceCredentials, options.credentials)
            except ValueError as problem:
                raise DeliveryError(f"{KIND} delivery {options.target_name!r}: {problem}") from None
            policy = delivery_policy(options.timeout_s, MAX_ANSWER_BYTES)
            self._session = SalesforceSession(
                block, options.base_login_url, options.domain, policy, options.allow_private_urls
            )
        return SalesforceApi(self._session, options.api_version, options.api_usage_ceiling)

    # --- upsert by sObject Collections ----------------------------------------------------------

    def _collections(self, api: SalesforceApi, rows: list[Row]) -> Iterator[ItemResult]:
        size = self.options.batch_size
        chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
        yield from _parallel(chunks, lambda chunk: self._send_chunk(api, chunk), self.options.concurrency)

    def _send_chunk(self, api: SalesforceApi, chunk: list[Row]) -> list[ItemResult]:
        options = self.options
        assert options.sobject is not None and options.external_id_field is not None
        results: dict[str, ItemResult] = {}
        pending = chunk
        for attempt in range(options.lock_retries + 1):
            try:
                reply = api.upsert_collection(
                    options.sobject, options.external_id_field, [row.encoded for row in pending]
                )
            except LimitExceeded as problem:
                raise Stop(str(problem)) from None
            except Exception as problem:
                for row in pending:
                    results[row.key] = ItemResult(row.key, "failed", error=failure(problem))
                break
            answers = _answers(reply, len(pending))
            if isinstance(answers, str):
                for row in pending:
                    results[row.key] = ItemResult(row.key, "failed", error=answers)
                break
            locked = []
            prefix = f"{options.sobject} "
            for row, answer in zip(pending, answers, strict=True):
                if answer.get("success"):
                    # 50,000 rows make 50,000 results: the two infos are shared, never changed
                    info = _CREATED if answer.get("created") else _UPDATED
                    results[row.key] = ItemResult(row.key, "sent", prefix + str(answer.get("id")), None, info)
                    continue
                errors = answer.get("errors") or []
                if attempt < options.lock_retries and any(
                    (e.get("statusCode") or e.get("errorCode")) == LOCK for e in errors
                ):
                    locked.append(row)
                else:
                    results[row.key] = ItemResult(row.key, "failed", error=describe_errors(errors) or "failed")
            if not locked:
                break
            pending = locked
            time.sleep(min(5.0, 0.2 * 2**attempt))
        return [results[row.key] for row in chunk]

    # --- upsert by Bulk API 2.0 -------------------------------------------------------------------

    def _csv(self, rows: list[Row]) -> bytes:
        field = self.options.external_id_field
        columns = [field, *sorted({name for row in rows for name in row.record if name != field})]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_value(row.record.get(name)) for name in columns])
        return out.getvalue().encode("utf-8")

    def _uploads(self, rows: list[Row]) -> list[list[Row]]:
        """Rows in uploads of at most MAX_UPLOAD_BYTES of CSV (a job each)."""
        whole = self._csv(rows)
        if len(whole) <= MAX_UPLOAD_BYTES:
            return [rows]
        parts = -(-len(whole) // MAX_UPLOAD_BYTES) + 1
        size = -(-len(rows) // parts)
        return [rows[i : i + size] for i in range(0, len(rows), size)]

    def _bulk_upsert(self, api: SalesforceApi, rows: list[Row]) -> Iterator[ItemResult]:
        for part in self._uploads(rows):
            try:
                yield from self._bulk_job(api, part)
            except Stop as stopped:
                yield from (stopped_item(row.key, stopped.reason) for row in part)
                return

    def _bulk_job(self, api: SalesforceApi, rows: list[Row]) -> Iterator[ItemResult]:
        options = self.options
        assert options.sobject is not None and options.external_id_field is not None
        job_id = "?"

        def fail_all(message: str) -> Iterator[ItemResult]:
            yield from (ItemResult(row.key, "failed", error=redact(message)) for row in rows)

        try:
            reply = api.create_job(options.sobject, options.external_id_field)
            if reply.status != 200:
                yield from fail_all(f"Bulk API 2.0 job: HTTP {reply.status} {describe_response(reply.response)}")
                return
            job_id = str(reply.response.json()["id"])
            reply = api.upload(job_id, self._csv(rows))
            if reply.status != 201:
                api.close_job(job_id, "Aborted")
                why = describe_response(reply.response)
                yield from fail_all(f"Bulk job {job_id} upload: HTTP {reply.status} {why}")
                return
            reply = api.close_job(job_id)
            if reply.status != 200:
                yield from fail_all(f"Bulk job {job_id} close: HTTP {reply.status} {describe_response(reply.response)}")
                return
            info = self._wait(api, job_id)
            state = info.get("state", "?")
            done: dict[str, ItemResult] = {}
            if state in ("JobComplete", "Failed"):
                done = self._job_results(api, job_id)
        except LimitExceeded as problem:
            raise Stop(str(problem)) from None
        except Exception as problem:
            yield from fail_all(f"Bulk job {job_id}: {failure(problem)}")
            return
        why = info.get("errorMessage") or ""
        for row in rows:
            yield done.get(row.key) or ItemResult(
                row.key,
                "failed",
                error=redact(f"Bulk job {job_id} ended {state} without processing this record {why}".strip()),
            )

    def _wait(self, api: SalesforceApi, job_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.options.bulk_timeout_s
        while True:
            info = api.job(job_id).response.json()
            if info.get("state") in FINISHED or time.monotonic() > deadline:
                return info
            time.sleep(self.options.bulk_poll_s)

    def _job_results(self, api: SalesforceApi, job_id: str) -> dict[str, ItemResult]:
        """Each record's result by its key (the external id column: results are in no set order)."""
        field = self.options.external_id_field
        out: dict[str, ItemResult] = {}
        for which in ("successfulResults", "failedResults"):
            reply = api.results(job_id, which)
            if reply.status != 200:
                continue
            text = reply.response.content.decode("utf-8-sig")
            for record in csv.DictReader(io.StringIO(text)):
                key = record.get(field)
                if key is None:
                    continue
                if which == "successfulResults":
                    created = record.get("sf__Created", "").lower() == "true"
                    out[key] = ItemResult(
                        key,
                        "sent",
                        ref=f"{self.options.sobject} {record.get('sf__Id')}",
                        info={"created": created, "via": f"bulk job {job_id}"},
                    )
                else:
                    out[key] = ItemResult(key, "failed", error=redact(f"Bulk job {job_id}: {record.get('sf__Error')}"))
        return out

    # --- follow-ups ---------------------------------------------------------------------------------

    def _match_soql(self, sobject: str, forms: list[str]) -> str:
        values = ", ".join(soql_literal(form) for form in forms)
        where = f"(Phone IN ({values}) OR MobilePhone IN ({values}))"
        if sobject == "Lead":
            where = f"IsConverted = false AND {where}"
        return f"SELECT Id FROM {sobject} WHERE {where} ORDER BY LastModifiedDate DESC LIMIT 1"

    def _follow_ups(self, api: SalesforceApi, rows: list[Row]) -> Iterator[ItemResult]:
        """The calls of one number in order, in one worker: the first may create the Contact that
        the next ones then find (two workers would each create one)."""
        options = self.options
        try:
            found = _key_field(api, options.follow_up_object, options.follow_up_key_field)
        except LimitExceeded as problem:
            yield from (stopped_item(row.key, str(problem)) for row in rows)
            return
        except (_Failed, HttpError) as problem:
            message = redact(str(problem)) if isinstance(problem, _Failed) else failure(problem)
            yield from (ItemResult(row.key, "failed", error=message) for row in rows)
            return
        # Not every org can mark an activity field External ID: then the follow-up is looked up
        # by its key first (a rerun finds it), which two runs at the same moment could race.
        by_upsert = bool(found.get("externalId"))
        by_number: dict[str, list[Row]] = {}
        for row in rows:
            number = str(row.source.get(self.options.phone_column) or "").strip()
            forms = phone_forms(number) if number else [row.key]
            by_number.setdefault(forms[1] if len(forms) > 1 else forms[0], []).append(row)

        def send(group: list[Row]) -> list[ItemResult]:
            done: list[ItemResult] = []
            for row in group:
                try:
                    done.append(self._follow_up(api, row, by_upsert))
                except Stop as stopped:
                    raise Stop(stopped.reason, done) from None
            return done

        yield from _parallel(list(by_number.values()), send, self.options.concurrency)

    def _search(self, api: SalesforceApi, number: str) -> tuple[str, str] | tuple[None, None]:
        """SOSL over phone fields, which ignores how a number was typed, for the caller's national
        number (which `050 123 4567`, `(415) 555-1212` and `+971 50 …` end with); each hit is
        confirmed with same_number. A Contact first, then (for a Task) an unconverted Lead."""
        national = national_number(number)
        if not national.isdigit():  # digits only: nothing in it is SOSL syntax
            return None, None
        returning = "Contact(Id, Phone, MobilePhone ORDER BY LastModifiedDate DESC LIMIT 50)"
        if self.options.follow_up == "task":
            returning += (
                ", Lead(Id, Phone, MobilePhone WHERE IsConverted = false ORDER BY LastModifiedDate DESC LIMIT 50)"
            )
        reply = api.search(f"FIND {{{national}}} IN PHONE FIELDS RETURNING {returning}")
        if reply.status != 200:
            raise _Failed(f"search phone fields: HTTP {reply.status} {describe_response(reply.response)}")
        for sobject in ("Contact", "Lead"):
            for record in reply.response.json().get("searchRecords") or []:
                if (record.get("attributes") or {}).get("type") == sobject and any(
                    same_number(number, record.get(field)) for field in ("Phone", "MobilePhone")
                ):
                    return sobject, str(record["Id"])
        return None, None

    def _find(self, api: SalesforceApi, sobject: str, forms: list[str]) -> str | None:
        reply = api.query(self._match_soql(sobject, forms))
        if reply.status != 200:
            raise _Failed(f"query {sobject}: HTTP {reply.status} {describe_response(reply.response)}")
        records = reply.response.json().get("records") or []
        return str(records[0]["Id"]) if records else None

    def _follow_up(self, api: SalesforceApi, row: Row, by_upsert: bool) -> ItemResult:
        options = self.options
        number = str(row.source.get(options.phone_column) or "").strip()
        if not number:
            return ItemResult(row.key, "sent", ref=f"skipped: no {options.phone_column}", info={"skipped": True})
        forms = phone_forms(number)
        try:
            whom, who = "Contact", self._find(api, "Contact", forms)
            if who is None and options.follow_up == "task":
                whom, who = "Lead", self._find(api, "Lead", forms)
            if who is None:
                found_as, found_id = self._search(api, number)
                whom, who = (found_as, found_id) if found_id else (whom, None)
            if who is None:
                if options.on_no_match == "skip":
                    return ItemResult(
                        row.key, "sent", ref=f"skipped: no Contact or Lead with {number}", info={"skipped": True}
                    )
                whom, who = "new Contact", self._create_contact(api, row)
            record = {**row.record, ("WhoId" if options.follow_up == "task" else "ContactId"): who}
            how, reply, known_id = self._write_follow_up(api, row.key, record, by_upsert)
        except LimitExceeded as problem:
            raise Stop(str(problem)) from None
        except _Failed as problem:
            return ItemResult(row.key, "failed", error=redact(str(problem)))
        except Exception as problem:
            return ItemResult(row.key, "failed", error=failure(problem))
        if reply.status not in (200, 201, 204):
            return ItemResult(
                row.key,
                "failed",
                error=f"{how} {options.follow_up_object}: HTTP {reply.status} {describe_response(reply.response)}",
            )
        answer = reply.response.json() if reply.response.content else {}
        created = reply.status == 201
        answer.setdefault("id", known_id)
        return ItemResult(
            row.key,
            "sent",
            ref=f"{options.follow_up_object} {answer.get('id', '')} on {whom} {who}".replace("  ", " "),
            info={"created": created, "matched": whom},
        )

    def _write_follow_up(
        self, api: SalesforceApi, key: str, record: dict[str, Any], by_upsert: bool
    ) -> tuple[str, Reply, str | None]:
        """Upsert by the key field when it is External ID; else find the follow-up by its key
        and update it, or create it. What was done, the reply, and the id when it was known."""
        sobject, field = self.options.follow_up_object, self.options.follow_up_key_field
        if by_upsert:
            return "upsert", api.upsert_one(sobject, field, key, record), None
        reply = api.query(
            f"SELECT Id FROM {sobject} WHERE {field} = {soql_literal(key)} ORDER BY LastModifiedDate DESC LIMIT 1"
        )
        if reply.status != 200:
            raise _Failed(f"query {sobject}: HTTP {reply.status} {describe_response(reply.response)}")
        records = reply.response.json().get("records") or []
        if records:
            record_id = str(records[0]["Id"])
            return "update", api.update(sobject, record_id, record), record_id
        return "create", api.create(sobject, {**record, field: key}), None

    def _create_contact(self, api: SalesforceApi, row: Row) -> str:
        meta = row.source["__meta__"]
        source = {k: v for k, v in row.source.items() if k != "__meta__"}
        assert self._contact is not None
        record = _json_ready(self._contact.body(source, meta))
        reply = api.create("Contact", record)
        if reply.status != 201:
            raise _Failed(f"create Contact: HTTP {reply.status} {describe_response(reply.response)}")
        return str(reply.response.json()["id"])


class _Failed(Exception):
    """A step of a follow-up that Salesforce refused; the item fails with it."""


def _key_field(api: SalesforceApi, sobject: str, field: str) -> dict[str, Any]:
    """The key field as the object's describe shows it (externalId, unique, filterable)."""
    reply = api.describe(sobject)
    if reply.status != 200:
        raise _Failed(f"describe {sobject}: HTTP {reply.status} {describe_response(reply.response)}")
    fields = {f.get("name"): f for f in reply.response.json().get("fields", [])}
    if field not in fields:
        raise _Failed(f"{sobject} has no field {field}: create it as a Text field, External ID")
    return fields[field]


def _answers(reply: Reply, count: int) -> list[dict[str, Any]] | str:
    """A collection's per-record results (in input order), or why the whole request failed."""
    if reply.status != 200:
        return f"HTTP {reply.status} {describe_response(reply.response)}"
    try:
        answers = orjson.loads(reply.response.content)
    except orjson.JSONDecodeError:
        return "HTTP 200 but the answer is not JSON"
    if not isinstance(answers, list) or len(answers) != count:
        return f"HTTP 200 but {len(answers) if isinstance(answers, list) else 'no'} results for {count} records"
    return answers


def _parallel(chunks: list[list[Row]], send: Any, concurrency: int) -> Iterator[ItemResult]:
    """Send each chunk (at most `concurrency` at a time), yielding its results as it completes.
    A spent limit (Stop) stops the sending: what was not sent fails with the reason."""
    reasons: list[str] = []  # the first Stop's reason: what every row not sent after it fails with

    def one(chunk: list[Row]) -> list[ItemResult]:
        if reasons:
            return [stopped_item(row.key, reasons[0]) for row in chunk]
        try:
            return send(chunk)
        except Stop as stopped:
            reasons.append(stopped.reason)
            done = {result.key for result in stopped.done}
            return stopped.done + [stopped_item(row.key, stopped.reason) for row in chunk if row.key not in done]

    for results in in_parallel(chunks, one, concurrency, "salesforce"):
        yield from results


register(SalesforceTarget, SalesforceDelivery)
