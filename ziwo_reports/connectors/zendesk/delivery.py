"""Zendesk as a delivery (type `zendesk`), three jobs:

- `upsert`: each report row a record of a custom object, keyed by the row's stable key in the
  record's `external_id`. Rows go in bulk jobs (`create_or_update_by_external_id`, at most 100
  items each), at most `max_queued_jobs` queued at a time (Zendesk queues 30 per account); the
  jobs are polled together (`job_statuses/show_many`) and each item's result (by its index) is the
  row's ledger entry: a record Zendesk refused fails alone, the others are sent. A rerun updates
  the same records (same external ids), never adds.
- `user_fields`: each row's values into the user fields of one Zendesk user (an agent's), found by
  the external_id that `user_key` renders (`users/show_many?external_ids=`, 100 a request), then
  updated in background jobs (`users/update_many`, 100 users each, polled as above, results
  matched by user id). A row whose user is not found fails alone (replay sends it once the user
  has that external_id); two rows for one user are refused before anything is sent (a field holds
  one value). Setting the same values again changes nothing: a rerun is harmless.
- `follow_up` (after_call workflows): per call, the requester found by the caller's number
  (users search `role:end-user phone:*<national number>`, see connectors/phone_numbers.py; a user
  whose phone is the same number first, then the oldest), or created (`on_no_match:
  create_contact`: `users/create_or_update` keyed `external_id: ziwo-phone:<digits>`, so a rerun
  finds the same user even before the search index has it), then:
  - `ticket`: a ticket whose `external_id` is the call's key (first comment private); a rerun
    lists tickets by that external_id first and creates none when one is there;
  - `internal_note`: a private comment on the requester's latest open ticket, added in one update
    with the tag `ziwo_call_<hash of the call's key>`; a rerun finds the tag on the requester's
    tickets (read from the tickets API, not the search index) and adds nothing. With no open
    ticket, a ticket is created as for `ticket`.
  Each item is the call (its key is the call's delivery key); a call skipped (no match, `skip`)
  counts as sent, its reference says `skipped: ...`.

Rate limits: 429 with Retry-After is retried by the HTTP policy after the wait Zendesk asks
(up to the policy's cap). Credentials: see block.py; an expired OAuth client-credentials token is
renewed once (401), a fixed token or API token refused fails the items with a clear error and
sends nothing more.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote

import orjson
import pyarrow as pa

from ziwo_reports.connectors.delivery import (
    CheckResult,
    DeliveryConfigError,
    DeliveryError,
    ItemResult,
    Plan,
    register,
    row_item,
    validate_options,
)
from ziwo_reports.connectors.http_api.mapping import (
    META_FIELDS,
    CompiledMapping,
    MappingError,
    compile_mapping,
    parse_template,
)
from ziwo_reports.connectors.http_delivery import (
    SHOWN_REQUESTS,
    OutboundRequest,
    ThreadClients,
    delivery_policy,
    failure,
    make_session,
    shown_request,
)
from ziwo_reports.connectors.phone_numbers import national_number, same_number, significant_digits
from ziwo_reports.connectors.secrets import load_credentials
from ziwo_reports.connectors.zendesk.block import ZendeskCredentials
from ziwo_reports.connectors.zendesk.client import OPEN_STATUSES, ZendeskApi, zendesk_error
from ziwo_reports.connectors.zendesk.options import MAX_JOB_ITEMS, ZendeskTarget
from ziwo_reports.http import ApiClient, Auth, AuthError
from ziwo_reports.redaction import redact
from ziwo_reports.report_model import Report, report_metadata, row_keys

KIND = "zendesk"
#: Zendesk answers are read for ids and results: more than this is refused.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
#: Job ids per show_many request.
POLL_IDS = 100
#: The shortest wait between job polls, however fast jobs finish.
MIN_POLL_S = 0.01
#: The wait before the first poll of a delivery's jobs.
FIRST_POLL_S = 0.05
#: The tag every follow-up ticket or note carries, and the prefix of the per-call tag.
TAG = "ziwo"
CALL_TAG_PREFIX = "ziwo_call_"
USER_KEY_PREFIX = "ziwo-phone:"


def call_tag(key: str) -> str:
    """The tag that marks a call's follow-up (Zendesk tags: lowercase, no spaces or colons)."""
    return CALL_TAG_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class _Row:
    """One item: its key and what is sent for it (a record, or a call's follow-up)."""

    key: str
    payload: dict[str, Any]


class _Clients(ThreadClients):
    """The thread's ApiClient, as the Zendesk endpoints."""

    def api(self) -> ZendeskApi:
        return ZendeskApi(self.get())


class ZendeskDelivery:
    type: ClassVar[str] = KIND

    def __init__(self, options: ZendeskTarget) -> None:
        self.options = options
        self._auth: Auth | None = None
        self._built: tuple[Report, list[_Row]] | None = None

    # --- the contract -------------------------------------------------------------------------

    def validate(self) -> None:
        validate_options(self.options)

    def check(self) -> CheckResult:
        """Read-only: who the credentials sign in as (users/me), and for upsert the custom object and
        its fields (every mapped field must be one of them)."""
        try:
            clients = _Clients(self._client_factory())
        except DeliveryError as problem:
            return CheckResult(False, str(problem))
        try:
            api = clients.api()
            me = api.me()
            if not me.get("id"):
                return CheckResult(False, f"{self._where()}: signed in as an anonymous user: credentials not accepted")
            who = f"signed in as user {me.get('id')} ({me.get('role', '?')})"
            if self.options.job == "follow_up":
                if me.get("role") not in ("agent", "admin"):
                    return CheckResult(False, f"{self._where()}: {who}: follow-ups need an agent or admin")
                return CheckResult(True, f"{self._where()}: {who}; follow-ups as {self.options.follow_up_as}")
            if self.options.job == "user_fields":
                where = "user fields"
                fields = {field["key"] for field in api.user_fields() if field.get("active", True)}
            else:
                key = self.options.custom_object_key or ""
                obj = api.custom_object(key)
                where = f"custom object {key!r} ({obj.get('title') or key})"
                fields = {field["key"] for field in api.custom_object_fields(key)}
            missing = sorted({target.split(".")[0] for target in self.options.mapping} - fields)
            if missing:
                return CheckResult(
                    False,
                    f"{self._where()}: {where} has no field {', '.join(missing)} "
                    f"(its fields: {', '.join(sorted(fields)) or 'none'})",
                )
            return CheckResult(True, f"{self._where()}: {who}; {where} has the mapped fields")
        except Exception as problem:  # a probe reports, never raises
            return CheckResult(False, f"{self._where()}: {failure(problem)}")
        finally:
            clients.close()

    def plan(self, report: Report) -> Plan:
        rows = self._rows(report)
        options = self.options
        target = self._target()
        method = {"upsert": "create_or_update_by_external_id", "user_fields": "update_many user_fields"}.get(
            options.job, f"follow_up {options.follow_up_as}"
        )
        items = [row_item(row.key, target, method, row.payload) for row in rows]
        plan = Plan(KIND, options.target_name, items)
        auth = self._credentials()
        plan.requests = [shown_request(request, auth) for request in self._shown(rows)]
        return plan

    def deliver(self, report: Report, keys: Collection[str] | None = None) -> Iterator[ItemResult]:
        rows = [row for row in self._rows(report) if keys is None or row.key in keys]
        if not rows:
            return
        try:
            clients = _Clients(self._client_factory())
        except DeliveryError as problem:
            for row in rows:
                yield ItemResult(row.key, "failed", error=str(problem))
            return
        try:
            if self.options.job == "upsert":
                yield from _Upsert(self.options, clients).run(rows)
            elif self.options.job == "user_fields":
                yield from self._user_fields(clients, rows)
            else:
                yield from self._follow_ups(clients, rows)
        finally:
            clients.close()

    # --- credentials and clients ----------------------------------------------------------------

    def _where(self) -> str:
        return f"{KIND} {self.options.origin}"

    def _target(self) -> str:
        origin = self.options.origin
        if self.options.job == "upsert":
            return f"{origin}/api/v2/custom_objects/{self.options.custom_object_key}/records"
        if self.options.job == "user_fields":
            return f"{origin}/api/v2/users"
        return f"{origin}/api/v2/tickets"

    def _credentials(self) -> Auth:
        if self._auth is None:
            try:
                block = load_credentials(ZendeskCredentials, self.options.credentials)
                self._auth = block.auth_object(self.options.origin)
            except ValueError as problem:  # CredentialsError, or the toolkit refusing a value
                raise DeliveryError(f"{KIND} delivery {self.options.target_name!r}: {problem}") from None
        return self._auth

    def _client_factory(self) -> Callable[[], ApiClient]:
        auth = self._credentials()
        policy = delivery_policy(self.options.timeout_s, MAX_ANSWER_BYTES)
        origin, private = self.options.origin, self.options.allow_private_urls
        return lambda: ApiClient(
            origin, policy=policy, auth=auth, describe=zendesk_error, session=make_session(private)
        )

    # --- building the items -------------------------------------------------------------------

    def _rows(self, report: Report) -> list[_Row]:
        if self._built is None or self._built[0] is not report:
            try:
                self._built = (report, self._build(report))
            except MappingError as problem:
                raise DeliveryConfigError(f"{KIND} delivery: {problem}") from None
        return self._built[1]

    def _compile(self, report: Report) -> CompiledMapping:
        table = report.table
        columns = table.column_names
        lists = [f.name for f in table.schema if pa.types.is_list(f.type) or pa.types.is_large_list(f.type)]
        templates = {"record_name": self.options.record_name}
        if self.options.job == "user_fields":
            templates = {"user_key": self.options.user_key}
        if self.options.job == "follow_up":
            templates = {"subject": self.options.subject, "body": self.options.body}
            if self.options.phone_column not in columns:
                raise MappingError(
                    f"phone_column {self.options.phone_column!r} is not a column of {report.spec.report} "
                    f"(columns: {', '.join(columns)}); follow_up is for after_call workflows"
                )
        for option, text in templates.items():
            for name in parse_template(text).names:
                if name not in columns and name not in META_FIELDS:
                    raise MappingError(
                        f"{option}: placeholder {{{name}}} is neither a report field ({', '.join(META_FIELDS)}) "
                        f"nor a column of {report.spec.report} (columns: {', '.join(columns)})"
                    )
        return compile_mapping(
            self.options.mapping, columns, report=report.spec.report, zone=report.zone.tz, list_columns=lists
        )

    def _build(self, report: Report) -> list[_Row]:
        options = self.options
        compiled = self._compile(report)
        metadata = report_metadata(report)
        meta = {name: metadata.get(name) for name in META_FIELDS if name != "row_key"}
        keys = [str(key) for key in row_keys(report).to_pylist()]
        if options.job == "upsert":
            templates = {"name": parse_template(options.record_name)}
        elif options.job == "user_fields":
            templates = {"user": parse_template(options.user_key)}
        else:
            templates = {"subject": parse_template(options.subject), "body": parse_template(options.body)}
        # Only the columns the mapping and templates read are turned into Python values (50,000
        # rows of every column, times and all, cost more than the sending).
        used = {f.name for f in compiled.fields if f.source == "column"}
        used |= {f_name for f in compiled.fields if f.template is not None for f_name in f.template.names}
        used |= {name for template in templates.values() for name in template.names}
        if options.job == "follow_up":
            used.add(options.phone_column)
        table = report.table
        rows = table.select([c for c in table.column_names if c in used]).to_pylist()
        out = []
        for row, key in zip(rows, keys, strict=True):
            row_meta = {**meta, "row_key": key}
            values = {**row_meta, **row}
            texts = {name: template.render(values) for name, template in templates.items()}
            mapped = orjson.loads(orjson.dumps(compiled.body(row, row_meta))) if compiled.fields else {}
            if options.job == "upsert":
                payload = {"external_id": key, "name": texts["name"][:255], "custom_object_fields": mapped}
            elif options.job == "user_fields":
                payload = {"user": texts["user"], "user_fields": mapped}
            else:
                payload = {
                    "phone": str(row.get(options.phone_column) or ""),
                    "subject": texts["subject"][:255],
                    "body": texts["body"],
                    "fields": mapped,
                }
            out.append(_Row(key, payload))
        if options.job == "user_fields":
            _one_row_per_user(out, report)
        return out

    def _shown(self, rows: list[_Row]) -> list[OutboundRequest]:
        """The first requests as they would go out (a plan shows them; nothing is sent)."""
        origin, options = self.options.origin, self.options
        json_headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if options.job == "upsert":
            url = f"{origin}/api/v2/custom_objects/{options.custom_object_key}/jobs"
            return [
                OutboundRequest(
                    key=chunk[0].key,
                    method="POST",
                    url=url,
                    headers=json_headers,
                    body=orjson.dumps(
                        {"job": {"action": "create_or_update_by_external_id", "items": [r.payload for r in chunk]}}
                    ),
                    rows=len(chunk),
                )
                for chunk in _chunks(rows[: options.batch_size * SHOWN_REQUESTS], options.batch_size)
            ]
        if options.job == "user_fields":
            shown_rows = rows[: options.batch_size]
            wanted = quote(",".join(row.payload["user"] for row in shown_rows), safe=",")
            users = [
                {"id": "{user id of " + row.payload["user"] + "}", "user_fields": row.payload["user_fields"]}
                for row in shown_rows
            ]
            find = f"{origin}/api/v2/users/show_many?external_ids={wanted}"
            return [
                OutboundRequest(rows[0].key, "GET", find, {"Accept": "application/json"}, None, len(shown_rows)),
                OutboundRequest(
                    rows[0].key,
                    "PUT",
                    f"{origin}/api/v2/users/update_many",
                    json_headers,
                    orjson.dumps({"users": users}),
                    len(shown_rows),
                ),
            ]
        shown = []
        for row in rows[:SHOWN_REQUESTS]:
            ticket = _ticket(row, requester_id=0)  # the requester is found (or created) when sending
            shown.append(
                OutboundRequest(
                    key=row.key,
                    method="POST",
                    url=f"{origin}/api/v2/tickets",
                    headers=json_headers,
                    body=orjson.dumps({"ticket": ticket}),
                    rows=1,
                )
            )
        return shown

    # --- user fields ------------------------------------------------------------------------------

    def _user_fields(self, clients: _Clients, rows: list[_Row]) -> Iterator[ItemResult]:
        """Each row's user found by external_id (100 a request), then the found ones updated in jobs."""
        found: list[_Row] = []
        refused: str | None = None  # credentials refused: nothing more is asked
        for chunk in _chunks(rows, MAX_JOB_ITEMS):
            if refused:
                yield from _failed(chunk, f"not sent: {refused}")
                continue
            try:
                users = clients.api().users_by_external_ids(sorted({row.payload["user"] for row in chunk}))
            except Exception as problem:
                yield from _failed(chunk, f"finding the users: {failure(problem)}")
                refused = failure(problem) if isinstance(problem, AuthError) else None
                continue
            ids = {str(user.get("external_id")): user["id"] for user in users if user.get("external_id")}
            for row in chunk:
                user_id = ids.get(row.payload["user"])
                if user_id is None:
                    error = (
                        f"no Zendesk user has external_id {row.payload['user']!r} (user_key {self.options.user_key!r})"
                    )
                    yield ItemResult(row.key, "failed", error=error)
                else:
                    found.append(_Row(row.key, {"id": user_id, "user_fields": row.payload["user_fields"]}))
        if found:
            submit = lambda chunk: clients.api().submit_users_update([row.payload for row in chunk])  # noqa: E731
            yield from _Upsert(self.options, clients, submit).run(found)

    # --- follow-ups ---------------------------------------------------------------------------

    def _follow_ups(self, clients: _Clients, rows: list[_Row]) -> Iterator[ItemResult]:
        stop: list[str] = []

        def one(row: _Row) -> ItemResult:
            if stop:
                return ItemResult(row.key, "failed", error=f"not sent: {stop[0]}")
            try:
                return self._follow_up(clients.api(), row)
            except AuthError as refused:
                stop.append(failure(refused))
                return ItemResult(row.key, "failed", error=failure(refused))
            except Exception as problem:  # the item's failure, in the ledger; the others go on
                return ItemResult(row.key, "failed", error=failure(problem))

        with ThreadPoolExecutor(max_workers=self.options.concurrency, thread_name_prefix="zendesk") as pool:
            futures = [pool.submit(one, row) for row in rows]
            for future in futures:
                yield future.result()

    def _follow_up(self, api: ZendeskApi, row: _Row) -> ItemResult:
        key, options = row.key, self.options
        existing = api.tickets_by_external_id(key)
        if existing:
            return ItemResult(key, "sent", ref=f"ticket {existing[0]['id']} (already there)")
        number = row.payload["phone"]
        digits, national = significant_digits(number), national_number(number)
        if not digits or not national:
            return ItemResult(key, "sent", ref="skipped: the call has no caller number")
        # Searched by the national number, which `050 123 4567` and `+971 50 123 4567` both end
        # with; a user whose phone is the same number comes first, then the oldest.
        found = api.users_by_phone(national)
        users = sorted(found, key=lambda user: (not same_number(number, user.get("phone")), user["id"]))
        if users:
            user = users[0]
        elif options.on_no_match == "skip":
            return ItemResult(key, "sent", ref="skipped: no end user with this number")
        else:
            user = api.create_or_update_user(
                {
                    "name": row.payload["phone"] or digits,
                    "phone": row.payload["phone"] or digits,
                    "role": "end-user",
                    "external_id": USER_KEY_PREFIX + digits,
                }
            )
        if options.follow_up_as == "internal_note":
            tag = call_tag(key)
            tickets = api.requested_tickets(user["id"])
            noted = [t for t in tickets if tag in (t.get("tags") or [])]
            if noted:
                return ItemResult(key, "sent", ref=f"ticket {noted[0]['id']} note (already there)")
            open_tickets = [t for t in tickets if t.get("status") in OPEN_STATUSES]
            if open_tickets:
                latest = max(open_tickets, key=lambda t: (t.get("created_at") or "", t["id"]))
                body = f"{row.payload['body']}\n\n[ziwo call {key}]"
                api.add_private_note(latest["id"], body, [TAG, tag])
                return ItemResult(key, "sent", ref=f"ticket {latest['id']} note")
        ticket = api.create_ticket(_ticket(row, requester_id=user["id"]))
        return ItemResult(key, "sent", ref=f"ticket {ticket['id']}")


def _ticket(row: _Row, requester_id: int) -> dict[str, Any]:
    """The ticket of a call: its key in external_id, a private first comment, our tags."""
    fields = dict(row.payload["fields"])
    extra_tags = fields.pop("tags", None) or []
    if isinstance(extra_tags, str):
        extra_tags = extra_tags.split()
    return {
        **fields,
        "subject": row.payload["subject"],
        "comment": {"body": row.payload["body"], "public": False},
        "requester_id": requester_id,
        "external_id": row.key,
        "tags": [TAG, call_tag(row.key), *extra_tags],
    }


def _one_row_per_user(rows: list[_Row], report: Report) -> None:
    """A user field holds one value: two rows for the same user would overwrite each other."""
    seen: dict[str, str] = {}
    for row in rows:
        user = row.payload["user"]
        if not user.strip():
            raise DeliveryConfigError(f"{KIND} delivery: user_key renders empty for row {row.key!r}")
        if user in seen:
            raise DeliveryConfigError(
                f"{KIND} delivery: user_key {user!r} for rows {seen[user]!r} and {row.key!r}: a user's fields hold "
                f"one value; deliver a {report.spec.report} report with one row per agent (interval none)"
            )
        seen[user] = row.key


def _chunks(rows: list[_Row], size: int) -> list[list[_Row]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


class _Upsert:
    """Records in bulk jobs: submitted in parallel (at most max_queued_jobs unfinished), polled
    together, each item's result mapped back to its row."""

    def __init__(
        self,
        options: ZendeskTarget,
        clients: _Clients,
        submit: Callable[[list[_Row]], dict[str, Any]] | None = None,
    ) -> None:
        self.options, self.clients = options, clients
        self.key = options.custom_object_key or ""
        self._submit = submit or self._submit_records
        self.stop: list[str] = []  # credentials refused: nothing more is sent
        self.unfinished = False  # the last poll found a job not yet finished

    def _submit_records(self, chunk: list[_Row]) -> dict[str, Any]:
        return self.clients.api().submit_records_job(self.key, [row.payload for row in chunk])

    def run(self, rows: list[_Row]) -> Iterator[ItemResult]:
        options = self.options
        queue = deque(_chunks(rows, options.batch_size))
        inflight: dict[Future[dict[str, Any]], list[_Row]] = {}
        pending: dict[str, tuple[list[_Row], float]] = {}  # job id -> its rows, when submitted
        # The first polls come soon (the adaptive interval grows to job_poll_interval_s while jobs are queued).
        next_poll, interval = 0.0, min(options.job_poll_interval_s, FIRST_POLL_S)
        with ThreadPoolExecutor(max_workers=options.concurrency, thread_name_prefix="zendesk-jobs") as pool:
            while queue or inflight or pending:
                while queue and len(inflight) + len(pending) < options.max_queued_jobs:
                    chunk = queue.popleft()
                    if self.stop:
                        yield from _failed(chunk, f"not sent: {self.stop[0]}")
                    else:
                        inflight[pool.submit(self._submit, chunk)] = chunk
                if inflight:
                    timeout = max(0.0, next_poll - time.monotonic()) if pending else None
                    done, _ = wait(inflight, timeout=timeout, return_when=FIRST_COMPLETED)
                    for future in done:
                        yield from self._submitted(inflight.pop(future), future, pending)
                elif pending:
                    time.sleep(max(0.0, next_poll - time.monotonic()))
                if pending and time.monotonic() >= next_poll:
                    self.unfinished = False
                    yield from self._poll(pending)
                    # Jobs that finish between polls: poll sooner (a queue of 30 jobs waits for the
                    # poll); jobs still queued: back off again, up to job_poll_interval_s.
                    ceiling = options.job_poll_interval_s
                    interval = min(ceiling, interval * 2) if self.unfinished else max(MIN_POLL_S, interval / 2)
                    next_poll = time.monotonic() + min(interval, ceiling)

    def _submitted(
        self, chunk: list[_Row], future: Future[dict[str, Any]], pending: dict[str, tuple[list[_Row], float]]
    ) -> Iterator[ItemResult]:
        try:
            status = future.result()
        except Exception as problem:
            if isinstance(problem, AuthError):
                self.stop.append(failure(problem))
            yield from _failed(chunk, failure(problem))
            return
        if status.get("status") in ("completed", "failed", "killed"):
            yield from self._finished(chunk, status)
        else:
            pending[str(status["id"])] = (chunk, time.monotonic())

    def _poll(self, pending: dict[str, tuple[list[_Row], float]]) -> Iterator[ItemResult]:
        ids = list(pending)
        for start in range(0, len(ids), POLL_IDS):
            asked = ids[start : start + POLL_IDS]
            try:
                statuses = {str(s["id"]): s for s in self.clients.api().job_statuses(asked)}
            except Exception as problem:
                for job_id in asked:
                    chunk, _ = pending.pop(job_id)
                    yield from _failed(chunk, f"job {job_id}: its status could not be read: {failure(problem)}")
                continue
            for job_id in asked:
                chunk, since = pending[job_id]
                status = statuses.get(job_id)
                if status is None:
                    del pending[job_id]
                    yield from _failed(chunk, f"job {job_id}: Zendesk no longer knows it (job statuses expire)")
                elif status.get("status") in ("completed", "failed", "killed"):
                    del pending[job_id]
                    yield from self._finished(chunk, status)
                elif time.monotonic() - since > self.options.job_poll_timeout_s:
                    del pending[job_id]
                    yield from _failed(
                        chunk,
                        f"job {job_id} still {status.get('status')} after {self.options.job_poll_timeout_s:g} s "
                        "(job_poll_timeout_s); replay sends the records again (upserted by external_id)",
                    )
                else:
                    self.unfinished = True

    def _finished(self, chunk: list[_Row], status: dict[str, Any]) -> Iterator[ItemResult]:
        job_id = status.get("id")
        if status.get("status") != "completed":
            message = redact(str(status.get("message") or "no message"))
            yield from _failed(chunk, f"job {job_id} {status.get('status')}: {message}")
            return
        results = status.get("results") or []
        by_index = {r["index"]: r for r in results if isinstance(r, dict) and isinstance(r.get("index"), int)}
        by_external = {r.get("external_id"): r for r in results if isinstance(r, dict) and r.get("external_id")}
        # update_many's results name the user (id), not the item's index
        by_id = {r.get("id"): r for r in results if isinstance(r, dict) and "index" not in r}
        for index, row in enumerate(chunk):
            result = by_index.get(index) or by_external.get(row.key) or by_id.get(row.payload.get("id"))
            if result is None:
                yield ItemResult(row.key, "failed", error=f"job {job_id} completed without a result for this record")
            elif result.get("success") is False or result.get("error") or result.get("status") == "Failed":
                what = ": ".join(str(result[k]) for k in ("error", "details") if result.get(k)) or "refused"
                yield ItemResult(row.key, "failed", error=redact(f"job {job_id}: {what}")[:500])
            else:
                yield ItemResult(row.key, "sent", ref=str(result.get("id") or job_id), info={"job": job_id})


def _failed(chunk: list[_Row], error: str) -> Iterator[ItemResult]:
    for row in chunk:
        yield ItemResult(row.key, "failed", error=error)


register(ZendeskTarget, ZendeskDelivery)
