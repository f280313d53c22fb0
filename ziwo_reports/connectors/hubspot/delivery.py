"""HubSpot's CRM as a delivery (type `hubspot`), with a private app's token.

- `job: upsert`: each report row is an item keyed by its stable row key, written with batch upsert
  (`POST /crm/v3/objects/{object_type}/batch/upsert`, at most 100 inputs a request) into the
  unique-value property `id_property`: a rerun of the period updates the same records. A 207
  Multi-Status answer is read input by input (each carries an `objectWriteTraceId` the answer
  echoes in its results and errors), so the valid rows are sent and each refused one is failed in
  the ledger with HubSpot's reason, for `replay`.
- `job: follow_up` (after_call workflows, an item per call): the contact is searched by the
  caller's number in `phone_properties`; none found, it is created (`on_no_match: create_contact`)
  or the call skipped. The task or call engagement is upserted by `call_key_property` holding the
  call's delivery key (a rerun updates it, never makes a second) and associated with the contact
  by the default association (`PUT /crm/v4/.../associations/default/...`, idempotent too).

Rate limits and tokens: see client.py. A DAILY 429 stops the delivery: what was not sent fails
with that message (replay sends it after the reset).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import orjson
import pyarrow as pa
import pyarrow.compute as pc

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
    MappingError,
    Template,
    compile_mapping,
    parse_template,
    render_value,
)
from ziwo_reports.connectors.http_delivery import (
    SHOWN_REQUESTS,
    OutboundRequest,
    delivery_policy,
    failure,
    shown_request,
)
from ziwo_reports.connectors.hubspot.block import HubSpotCredentials
from ziwo_reports.connectors.hubspot.client import (
    HubSpotApi,
    PrivateAppToken,
    association_path,
    contact_search,
    describe,
    phone_fields,
    upsert_path,
)
from ziwo_reports.connectors.hubspot.options import HubSpotTarget
from ziwo_reports.connectors.phone_numbers import same_number
from ziwo_reports.connectors.secrets import CredentialsError, load_credentials
from ziwo_reports.http import Auth, LimitExceeded, Reply
from ziwo_reports.redaction import MASK, redact
from ziwo_reports.report_model import Report, report_metadata, row_keys

KIND = "hubspot"
#: A batch's answer holds every record written; more than this is refused.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
#: Characters of HubSpot's message kept in an item's error.
ERROR_CHARS = 400

T = TypeVar("T")


@dataclass(frozen=True)
class _Row:
    key: str
    values: dict[str, Any]  # the row's columns (follow_up: and the report's fields, for templates)
    properties: dict[str, Any]  # upsert: the record's; follow_up: the engagement's
    number: str  # follow_up: the caller's number ("" when none)


def hubspot_value(value: Any) -> Any:
    """A mapped value as a HubSpot property takes it: text, a number or a boolean; null clears
    (""), a list is a multi-select (values joined with ';'), a time ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return ";".join(render_value(v) for v in value if v is not None)
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, dict):
        return orjson.dumps(value).decode()
    return render_value(value)


def _plain_properties(table: pa.Table, pairs: list[tuple[str, str]]) -> list[dict[str, Any]] | None:
    """Each row's properties when every one is a column of text, numbers or booleans, built by
    Arrow (a null is "", which clears the property, as `hubspot_value` does); None otherwise."""
    columns = []
    for _, name in pairs:
        column = table[name]
        kind = column.type
        if not (pa.types.is_string(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            return None
        if column.null_count:  # a column with nulls goes as text (HubSpot keeps every value as text)
            column = pc.fill_null(column.cast(pa.string()), "")
        columns.append(column)
    return pa.table(columns, names=[target for target, _ in pairs]).to_pylist()


def _iso(value: datetime) -> str:
    when = value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # the warehouse keeps UTC
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _parallel(work: Iterable[T], run: Callable[[T], list[ItemResult]], concurrency: int) -> Iterator[ItemResult]:
    """`run` over each piece of work, at most `concurrency` at a time; results as they complete."""
    for results in in_parallel(work, run, concurrency, "hubspot"):
        yield from results


def _json(reply: Reply) -> Any:
    try:
        return orjson.loads(reply.response.content or b"null")
    except orjson.JSONDecodeError:
        return None


def _failed_status(reply: Reply) -> str:
    return redact(f"HTTP {reply.status} {describe(reply.response)}"[: ERROR_CHARS + 40])


class HubSpotDelivery:
    type: ClassVar[str] = KIND

    def __init__(self, options: HubSpotTarget) -> None:
        self.options = options
        self._built: tuple[Report, list[_Row]] | None = None

    # --- the contract -------------------------------------------------------------------------

    def validate(self) -> None:
        validate_options(self.options)

    def check(self) -> CheckResult:
        """Read-only: the token is accepted, and the property the delivery keys by exists and is unique."""
        try:
            api = self._api()
        except DeliveryError as problem:
            return CheckResult(False, str(problem))
        options = self.options
        object_type, name = (
            (options.object_type or "", options.id_property)
            if options.job == "upsert"
            else (options.engagement_type, options.call_key_property)
        )
        where = f"GET /crm/v3/properties/{object_type}/{name}"
        try:
            reply = api.get_property(object_type, name)
        except Exception as problem:  # refused, unreachable: the check's answer, not a crash
            return CheckResult(False, f"{where}: {failure(problem)}")
        finally:
            api.close()
        if reply.status == 404:
            return CheckResult(
                False,
                f"{where}: HTTP 404, {object_type} has no property {name!r}: create it as a unique-value property "
                "(hasUniqueValue: true)",
            )
        if not reply.ok:
            return CheckResult(False, f"{where}: {_failed_status(reply)}")
        answer = _json(reply)
        if not isinstance(answer, dict) or answer.get("hasUniqueValue") is not True:
            return CheckResult(
                False,
                f"{where}: {object_type}.{name} is not a unique-value property (hasUniqueValue), so a rerun could "
                "not update the same record; use a property created with hasUniqueValue: true",
            )
        return CheckResult(True, f"{where}: the token is accepted; {object_type}.{name} exists and is unique")

    def plan(self, report: Report) -> Plan:
        """Every item (a row, or a call), and the first requests exactly as they would go out (the
        token masked); nothing is sent and no credentials are read."""
        rows = self._rows(report)
        options = self.options
        if options.job == "upsert":
            target, method = options.api_base + upsert_path(options.object_type or ""), "upsert"
        else:
            target, method = options.api_base + upsert_path(options.engagement_type), f"follow_up:{options.follow_up}"
        plan = Plan(
            KIND,
            options.target_name,
            [
                row_item(
                    row.key,
                    target,
                    method,
                    [row.key, row.number, row.properties],
                    sample=orjson.loads(orjson.dumps(row.properties)),
                )
                for row in rows
            ],
        )
        plan.requests = [shown_request(request, _MaskedToken()) for request in self._shown(rows)]
        return plan

    def deliver(self, report: Report, keys: Collection[str] | None = None) -> Iterator[ItemResult]:
        rows = [row for row in self._rows(report) if keys is None or row.key in keys]
        if not rows:
            return
        try:
            api = self._api()
        except DeliveryError as problem:
            for row in rows:
                yield ItemResult(row.key, "failed", error=str(problem))
            return
        stop: list[str] = []  # the DAILY limit's message, once hit
        try:
            if self.options.job == "upsert":
                size = self.options.batch_size
                batches = [rows[i : i + size] for i in range(0, len(rows), size)]
                yield from _parallel(batches, lambda b: self._upsert(api, b, stop), self.options.concurrency)
            else:
                # Calls from one number go in order in one worker: two workers could each find no
                # contact for a new number and each create one.
                by_number: dict[str, list[_Row]] = {}
                for row in rows:
                    by_number.setdefault(row.number or row.key, []).append(row)
                yield from _parallel(
                    by_number.values(),
                    lambda same: [self._follow_up(api, r, stop) for r in same],
                    self.options.concurrency,
                )
        finally:
            api.close()

    # --- building -------------------------------------------------------------------------------

    def _api(self) -> HubSpotApi:
        options = self.options
        reference = options.credentials

        def load() -> str:
            try:
                block = load_credentials(HubSpotCredentials, reference)
            except CredentialsError as problem:
                raise DeliveryError(f"{KIND} delivery {options.target_name!r}: {problem}") from None
            return block.access_token.get_secret_value()

        auth = PrivateAppToken(load)
        policy = delivery_policy(options.timeout_s, MAX_ANSWER_BYTES)
        return HubSpotApi(options.api_base, policy, auth, options.allow_private_urls)

    def _compile(self, report: Report, mapping: dict[str, Any], what: str) -> CompiledMapping:
        table = report.table
        lists = [f.name for f in table.schema if pa.types.is_list(f.type) or pa.types.is_large_list(f.type)]
        try:
            return compile_mapping(
                mapping, table.column_names, report=report.spec.report, zone=report.zone.tz, list_columns=lists
            )
        except MappingError as problem:
            raise DeliveryConfigError(f"{KIND} delivery: {what}{problem}") from None

    def _template(self, report: Report, text: str, field: str) -> Template:
        template = parse_template(text)
        for name in template.names:
            if name not in report.table.column_names and name not in META_FIELDS:
                raise DeliveryConfigError(
                    f"{KIND} delivery: {field} placeholder {{{name}}} is neither a report field nor a column of "
                    f"{report.spec.report} (columns: {', '.join(report.table.column_names)})"
                )
        return template

    def _rows(self, report: Report) -> list[_Row]:
        """The items of a report, built once per report (plan and deliver share them)."""
        if self._built is None or self._built[0] is not report:
            self._built = (report, self._build(report))
        return self._built[1]

    def _build(self, report: Report) -> list[_Row]:
        options = self.options
        metadata = report_metadata(report)
        meta = {name: metadata.get(name) for name in META_FIELDS if name != "row_key"}
        keys = [str(key) for key in row_keys(report).to_pylist()]
        mapping = self._compile(report, dict(options.mapping), "")
        # An empty mapping sends each row as it is for upsert; for a follow-up it adds nothing.
        extra = options.job == "upsert" or bool(options.mapping)
        if options.job == "follow_up":
            if "caller_number" not in report.table.column_names:
                raise DeliveryConfigError(
                    f"{KIND} delivery: job follow_up needs the column caller_number (an after_call workflow's "
                    f"calls); {report.spec.report} has {', '.join(report.table.column_names)}"
                )
            self._contact = self._compile(report, dict(options.contact_mapping), "contact_")
            subject = self._template(report, options.subject, "subject")
            body = self._template(report, options.body, "body") if options.body else None
        # Plain `property: column` pairs are read straight from the row: a 50,000-row upsert spends
        # most of its own time here otherwise.
        plain = [(f.target, f.name) for f in mapping.fields if f.source == "column" and f.spec is None]
        plain = plain if len(plain) == len(mapping.fields) and mapping.fields else None
        if plain is not None and options.job == "upsert":
            fast = _plain_properties(report.table, plain)
            if fast is not None:
                return [_Row(key, {}, properties, "") for key, properties in zip(keys, fast, strict=True)]
        rows = []
        try:
            for row, key in zip(report.table.to_pylist(), keys, strict=True):
                if plain is not None:
                    mapped = {target: hubspot_value(row[name]) for target, name in plain}
                elif extra:
                    mapped = {k: hubspot_value(v) for k, v in mapping.body(row, {**meta, "row_key": key}).items()}
                else:
                    mapped = {}
                if options.job == "upsert":
                    rows.append(_Row(key, row, mapped, ""))
                    continue
                values = {**meta, "row_key": key, **row}
                number = str(row.get("caller_number") or "").strip()
                defaults = self._engagement_defaults(row, subject.render(values), body.render(values) if body else None)
                rows.append(_Row(key, values, {**defaults, **mapped}, number))
        except (MappingError, ValueError) as problem:
            raise DeliveryConfigError(f"{KIND} delivery: {problem}") from None
        return rows

    def _engagement_defaults(self, row: dict[str, Any], subject: str, body: str | None) -> dict[str, Any]:
        """The task's or call's properties before the mapping's: subject, notes, when, and for a call
        its direction, number, duration and status."""
        started = row.get("started_at")
        when = _iso(started) if isinstance(started, datetime) else _iso(datetime.now(UTC))
        if self.options.follow_up == "task":
            out: dict[str, Any] = {
                "hs_timestamp": when,
                "hs_task_subject": subject,
                "hs_task_status": "NOT_STARTED",
                "hs_task_type": "CALL",
            }
            if body is not None:
                out["hs_task_body"] = body
            return out
        out = {
            "hs_timestamp": when,
            "hs_call_title": subject,
            "hs_call_from_number": str(row.get("caller_number") or ""),
        }
        if body is not None:
            out["hs_call_body"] = body
        if row.get("direction"):
            out["hs_call_direction"] = "OUTBOUND" if str(row["direction"]).lower().startswith("out") else "INBOUND"
        if isinstance(row.get("duration_s"), int | float):
            out["hs_call_duration"] = int(row["duration_s"] * 1000)
        if "answered_at" in row:
            out["hs_call_status"] = "COMPLETED" if row.get("answered_at") else "NO_ANSWER"
        return out

    def _upsert_input(self, row: _Row, trace: int, id_property: str) -> dict[str, Any]:
        return {
            "id": row.key,
            "idProperty": id_property,
            "properties": row.properties,
            "objectWriteTraceId": str(trace),
        }

    def _shown(self, rows: list[_Row]) -> list[OutboundRequest]:
        """The first requests as they would go out (follow_up: those of the first call)."""
        options, base = self.options, self.options.api_base
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if options.job == "upsert":
            size = options.batch_size
            shown = []
            for start in range(0, min(len(rows), size * SHOWN_REQUESTS), size):
                batch = rows[start : start + size]
                inputs = [self._upsert_input(r, i, options.id_property) for i, r in enumerate(batch)]
                shown.append(
                    OutboundRequest(
                        key=batch[0].key,
                        method="POST",
                        url=base + upsert_path(options.object_type or ""),
                        headers=headers,
                        body=orjson.dumps({"inputs": inputs}),
                        rows=len(batch),
                    )
                )
            return shown
        if not rows:
            return []
        first, kind = rows[0], options.engagement_type
        return [
            OutboundRequest(
                first.key,
                "POST",
                base + "/crm/v3/objects/contacts/search",
                headers,
                orjson.dumps(contact_search(options.phone_properties, first.number)),
            ),
            OutboundRequest(
                first.key,
                "POST",
                base + upsert_path(kind),
                headers,
                orjson.dumps({"inputs": [self._upsert_input(first, 0, options.call_key_property)]}),
            ),
            OutboundRequest(
                first.key, "PUT", base + association_path(kind, "{engagement id}", "contacts", "{contact id}"), headers
            ),
        ]

    # --- sending ---------------------------------------------------------------------------------

    def _stopped(self, keys: Iterable[str], stop: list[str]) -> list[ItemResult]:
        return [ItemResult(key, "failed", error=f"not sent: {stop[0]}") for key in keys]

    def _upsert(self, api: HubSpotApi, batch: list[_Row], stop: list[str]) -> list[ItemResult]:
        """One batch upsert; an ItemResult per row, from HubSpot's answer input by input."""
        if stop:
            return self._stopped((r.key for r in batch), stop)
        options = self.options
        inputs = [self._upsert_input(r, i, options.id_property) for i, r in enumerate(batch)]
        try:
            reply = api.batch_upsert(options.object_type or "", inputs)
        except LimitExceeded as problem:
            stop.append(failure(problem))
            return [ItemResult(r.key, "failed", error=failure(problem)) for r in batch]
        except Exception as problem:  # every failure is the batch's rows', in the ledger
            return [ItemResult(r.key, "failed", error=failure(problem)) for r in batch]
        if reply.status not in (200, 207):
            error = _failed_status(reply)
            return [ItemResult(r.key, "failed", error=error) for r in batch]
        return self._per_input(batch, reply, options.object_type or "", options.id_property)

    def _per_input(self, batch: list[_Row], reply: Reply, object_type: str, id_property: str) -> list[ItemResult]:
        answer = _json(reply)
        answer = answer if isinstance(answer, dict) else {}
        by_trace = {str(i): row for i, row in enumerate(batch)}
        by_key = {row.key: row for row in batch}
        results: dict[str, ItemResult] = {}
        for record in answer.get("results") or []:
            row = by_trace.get(str(record.get("objectWriteTraceId"))) or by_key.get(
                str((record.get("properties") or {}).get(id_property))
            )
            if row is not None:
                made = "created" if record.get("new") else "updated"
                results[row.key] = ItemResult(
                    row.key, "sent", ref=f"{object_type} {record.get('id')} {made}", info={"status": reply.status}
                )
        for error in answer.get("errors") or []:
            context = error.get("context") or {}
            rows = [by_trace.get(str(t)) for t in context.get("objectWriteTraceId") or []]
            rows += [by_key.get(str(i)) for i in context.get("ids") or []]
            message = redact(
                f"HTTP {reply.status} {error.get('category', 'error')}: {str(error.get('message', ''))[:ERROR_CHARS]}"
            )
            for row in rows:
                if row is not None and row.key not in results:
                    results[row.key] = ItemResult(row.key, "failed", error=message, info={"status": reply.status})
        return [
            results.get(row.key)
            or ItemResult(row.key, "failed", error=f"HTTP {reply.status}: HubSpot's answer did not mention this row")
            for row in batch
        ]

    def _follow_up(self, api: HubSpotApi, row: _Row, stop: list[str]) -> ItemResult:
        if stop:
            return self._stopped([row.key], stop)[0]
        try:
            return self._follow_up_steps(api, row)
        except LimitExceeded as problem:
            stop.append(failure(problem))
            return ItemResult(row.key, "failed", error=failure(problem))
        except _StepFailed as problem:
            return ItemResult(row.key, "failed", error=str(problem))
        except Exception as problem:
            return ItemResult(row.key, "failed", error=failure(problem))

    def _follow_up_steps(self, api: HubSpotApi, row: _Row) -> ItemResult:
        options, kind = self.options, self.options.engagement_type
        if not row.number:
            return ItemResult(row.key, "sent", ref="skipped: the call has no caller number", info={"skipped": True})
        found = _expect(api.search("contacts", contact_search(options.phone_properties, row.number)), "contact search")
        phones = phone_fields(options.phone_properties)
        matches = [
            hit
            for hit in found.get("results") or []
            if any(same_number(row.number, (hit.get("properties") or {}).get(p)) for p in phones)
        ]
        created = False
        if matches:
            contact = str(matches[0]["id"])
        elif options.on_no_match == "skip":
            return ItemResult(
                row.key, "sent", ref="skipped: no contact has the caller's number", info={"skipped": True}
            )
        else:
            properties = {
                options.phone_properties[0]: row.number,
                **(
                    {k: hubspot_value(v) for k, v in self._contact.body(row.values, row.values).items()}
                    if options.contact_mapping
                    else {}
                ),
            }
            contact = str(_expect(api.create("contacts", {"properties": properties}), "contact creation")["id"])
            created = True
        written = _expect(
            api.batch_upsert(kind, [self._upsert_input(row, 0, options.call_key_property)]),
            f"{options.follow_up} upsert",
        )
        if written.get("errors") or not written.get("results"):
            errors = written.get("errors") or [{}]
            raise _StepFailed(
                redact(f"{options.follow_up} upsert: {errors[0].get('category')}: {errors[0].get('message')}")[
                    :ERROR_CHARS
                ]
            )
        record = written["results"][0]
        engagement = str(record["id"])
        _expect(api.associate(kind, engagement, "contacts", contact), f"association of {kind} {engagement}")
        made = "created" if record.get("new") else "updated"
        on = f"new contact {contact}" if created else f"contact {contact}"
        return ItemResult(
            row.key,
            "sent",
            ref=f"{kind} {engagement} {made} on {on}",
            info={"contact": contact, "contact_created": created, "engagement": engagement},
        )


class _StepFailed(Exception):
    """A follow-up step HubSpot refused; the message is the item's error."""


def _expect(reply: Reply, step: str) -> dict[str, Any]:
    if reply.status not in (200, 201, 207):
        raise _StepFailed(f"{step}: {_failed_status(reply)}")
    answer = _json(reply)
    return answer if isinstance(answer, dict) else {}


class _MaskedToken(Auth):
    """What a plan shows of the token: masked, never read."""

    def __call__(self, r: Any) -> Any:
        r.headers["Authorization"] = f"Bearer {MASK}"
        return r


register(HubSpotTarget, HubSpotDelivery)
