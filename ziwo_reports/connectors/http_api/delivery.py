"""An HTTP API as a delivery (type `http_api`): a request per row, or per batch of rows, its body
built by the field mapping (mapping.py), sent under the one HTTP policy with the credentials of an
"HTTP API Credentials" block.

Idempotency: a row's item is keyed by the row's stable key (`row_keys`), a batch's by the report's
key and its position; POST and PATCH carry an `Idempotency-Key` derived from it, the same on every
rerun and replay, so an API that honours it (or upserts on a PUT to a row's URL) holds each row once.
A 2xx counts as delivered, or only when `success_field` of the JSON answer says so; `id_field` of
the answer goes into the ledger as the item's reference.

A test send (`test: true`) carries the header `X-Ziwo-Test: true`, goes to `test_url` when the
options have one (the API's sandbox), and keys each item `test:<key>`: its Idempotency-Key differs
from the real item's, so an API that dedups by it still takes the real send afterwards.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import orjson
import pyarrow as pa
import requests

from ziwo_reports.connectors.delivery import (
    CheckResult,
    DeliveryConfigError,
    DeliveryError,
    ItemResult,
    Plan,
    register,
    validate_options,
)
from ziwo_reports.connectors.http_api.block import HttpApiCredentials
from ziwo_reports.connectors.http_api.mapping import (
    META_FIELDS,
    CompiledMapping,
    MappingError,
    Template,
    capped,
    compile_mapping,
    parse_template,
    render_value,
)
from ziwo_reports.connectors.http_api.options import NO_BODY, TEST_HEADER, HttpApiTarget
from ziwo_reports.connectors.http_delivery import (
    SHOWN_REQUESTS,
    OutboundRequest,
    client_factory,
    delivery_policy,
    judge_status,
    mask_url,
    probe,
    send_requests,
    short_answer,
    shown_request,
)
from ziwo_reports.connectors.secrets import load_credentials
from ziwo_reports.http import Auth, Reply
from ziwo_reports.redaction import redact
from ziwo_reports.report_model import Report, report_key, report_metadata, row_keys

KIND = "http_api"
#: Methods that carry an Idempotency-Key (PUT and DELETE are idempotent by themselves).
KEYED_METHODS = ("POST", "PATCH")
#: An API's answer is read for success_field and id_field: more than this is refused (the item fails).
MAX_ANSWER_BYTES = 16 * 1024 * 1024
SAMPLE = 5
#: What a test send's keys start with (as a webhook's test messages' do).
TEST_KEY_PREFIX = "test:"


def idempotency_key(target_name: str, key: str) -> str:
    """The Idempotency-Key of an item: stable across reruns, the same for the same target and item."""
    return hashlib.sha256(f"{target_name}\n{key}".encode()).hexdigest()[:48]


class _WithHeaders(Auth):
    """The block's auth with its secret headers added to every request; the rest is the auth's."""

    def __init__(self, inner: Auth | None, headers: Mapping[str, str]) -> None:
        super().__init__()
        self.inner, self.headers = inner, dict(headers)
        if inner is not None:
            self.refused_statuses, self.expired_statuses = inner.refused_statuses, inner.expired_statuses
            self.renewal = inner.renewal

    @property
    def token(self) -> Any:  # shown_request masks an OAuth2 token not yet fetched
        return getattr(self.inner, "token", "")

    @property
    def can_renew(self) -> bool:
        return self.inner is not None and self.inner.can_renew

    def ensure(self, client: Any) -> None:
        if self.inner is not None:
            self.inner.ensure(client)

    def expired(self, response: requests.Response) -> bool:
        return self.inner.expired(response) if self.inner is not None else False

    def refused(self, response: requests.Response) -> bool:
        return self.inner.refused(response) if self.inner is not None else super().refused(response)

    def renew(self, client: Any) -> None:
        assert self.inner is not None
        self.inner.renew(client)

    def hint(self, renewed: bool) -> str:
        return self.inner.hint(renewed) if self.inner is not None else "the secret headers were refused"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers.update(self.headers)
        return self.inner(r) if self.inner is not None else r


def lookup(answer: Any, path: str) -> tuple[bool, Any]:
    """The value at a dotted path of a JSON answer (a digit indexes a list; a name on a list reads
    it from each element), and whether it is there."""
    node = answer
    for part in path.split("."):
        if isinstance(node, Mapping):
            if part not in node:
                return False, None
            node = node[part]
        elif isinstance(node, list):
            if part.isdigit():
                if int(part) >= len(node):
                    return False, None
                node = node[int(part)]
            else:
                found = [lookup(element, part) for element in node]
                node = [value for ok, value in found if ok]
                if not node:
                    return False, None
        else:
            return False, None
    return True, node


def _flat(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """A mapped row as query parameters: nested fields by their dotted name, lists repeated."""
    if isinstance(value, Mapping):
        return [pair for key, v in value.items() for pair in _flat(v, f"{prefix}.{key}" if prefix else str(key))]
    if isinstance(value, list | tuple):
        return [(prefix, render_value(v)) for v in value]
    return [(prefix, render_value(value))]


class _UrlTemplate:
    """The URL and query templates, filled per row (or per batch): placeholders quoted whole."""

    def __init__(self, options: HttpApiTarget) -> None:
        parts = urlsplit(options.send_url)
        self.where = "test_url" if options.send_url != options.url else "url"
        self.parts = parts
        self.path = parse_template(parts.path)
        self.url_query = parse_template(parts.query)
        self.query = {name: parse_template(text) for name, text in options.query.items()}

    @staticmethod
    def _fill(template: Template, values: Mapping[str, Any], where: str, key: str) -> str:
        out = []
        for literal, name, spec in template.parts:
            out.append(literal)
            if name is not None:
                value = values.get(name)
                if value is None:
                    raise MappingError(f"{where}: placeholder {{{name}}} is null in row {key}: a URL needs a value")
                out.append(quote(render_value(value, spec), safe=""))
        return "".join(out)

    def url(self, values: Mapping[str, Any], extra: Sequence[tuple[str, str]], key: str) -> str:
        path = self._fill(self.path, values, self.where, key)
        query = self._fill(self.url_query, values, self.where, key)
        params = [(name, template.render(values)) for name, template in self.query.items()] + list(extra)
        if params:
            query = "&".join(part for part in (query, urlencode(params)) if part)
        return urlunsplit((self.parts.scheme, self.parts.netloc, path, query, ""))


class HttpApiDelivery:
    type: ClassVar[str] = KIND

    def __init__(self, options: HttpApiTarget) -> None:
        self.options = options
        self._auth: Auth | None = None
        self._auth_loaded = False
        self._built: tuple[Report, list[OutboundRequest]] | None = None

    # --- the contract -------------------------------------------------------------------------

    def validate(self) -> None:
        """The options as the model checks them (URL, headers, mapping syntax); no I/O."""
        validate_options(self.options)

    def check(self) -> CheckResult:
        """A harmless request (check_method to check_url or the URL's fixed part), with the credentials."""
        try:
            auth = self._credentials()
        except DeliveryError as problem:
            return CheckResult(False, str(problem))
        url = self.options.probe_url()
        return probe(self._client(auth)(), self.options.check_method, url)

    def plan(self, report: Report) -> Plan:
        """Every request it would send (the mapping checked against the report's columns first),
        the first ones shown exactly, credentials masked; nothing is sent."""
        outbound = self._requests(report)
        auth = self._credentials()
        plan = Plan(KIND, self.options.target_name, [request.item() for request in outbound])
        plan.requests = [shown_request(request, auth) for request in outbound[:SHOWN_REQUESTS]]
        return plan

    def deliver(self, report: Report, keys: Collection[str] | None = None) -> Iterator[ItemResult]:
        """Send the requests (only those of `keys` when given), one ItemResult each."""
        outbound = [r for r in self._requests(report) if keys is None or r.key in keys]
        if not outbound:
            return
        try:
            auth = self._credentials()
        except DeliveryError as problem:
            for request in outbound:
                yield ItemResult(request.key, "failed", error=str(problem))
            return
        yield from send_requests(
            outbound, client=self._client(auth), judge=self._judge, concurrency=self.options.concurrency
        )

    # --- building the requests -------------------------------------------------------------

    def _credentials(self) -> Auth | None:
        """The auth of the credentials block (with its secret headers), loaded once."""
        if not self._auth_loaded:
            reference = self.options.credentials
            if reference is not None:
                try:
                    block = load_credentials(HttpApiCredentials, reference)
                    auth, headers = block.auth_object()
                except ValueError as problem:  # CredentialsError, or the toolkit refusing a value
                    raise DeliveryError(f"{KIND} delivery {self.options.target_name!r}: {problem}") from None
                self._auth = _WithHeaders(auth, headers) if headers else auth
            self._auth_loaded = True
        return self._auth

    def _client(self, auth: Auth | None) -> Any:
        options = self.options
        policy = delivery_policy(options.timeout_s, MAX_ANSWER_BYTES)
        parts = urlsplit(options.send_url)
        return client_factory(f"{parts.scheme}://{parts.netloc}", policy, auth, options.allow_private_urls)

    def _compile(self, report: Report) -> CompiledMapping:
        table = report.table
        columns = table.column_names
        lists = [f.name for f in table.schema if pa.types.is_list(f.type) or pa.types.is_large_list(f.type)]
        try:
            compiled = compile_mapping(
                self.options.mapping, columns, report=report.spec.report, zone=report.zone.tz, list_columns=lists
            )
        except MappingError as problem:
            raise DeliveryConfigError(f"{KIND} delivery: {problem}") from None
        for name in self.options.placeholders():
            if name not in columns and name not in META_FIELDS:
                raise DeliveryConfigError(
                    f"{KIND} delivery: url or query placeholder {{{name}}} is neither a report field "
                    f"({', '.join(META_FIELDS)}) nor a column of {report.spec.report} (columns: {', '.join(columns)})"
                )
        return compiled

    def _requests(self, report: Report) -> list[OutboundRequest]:
        """One request per row, or per batch; DeliveryConfigError naming the field when the mapping
        does not fit the report. Built once per report: plan() and deliver() share them."""
        if self._built is None or self._built[0] is not report:
            self._built = (report, self._build(report))
        return self._built[1]

    def _build(self, report: Report) -> list[OutboundRequest]:
        options = self.options
        compiled = self._compile(report)
        metadata = report_metadata(report)
        meta = {name: metadata.get(name) for name in META_FIELDS if name != "row_key"}
        rows = report.table.to_pylist()
        keys = [str(key) for key in row_keys(report).to_pylist()]
        urls = _UrlTemplate(options)
        prefix = TEST_KEY_PREFIX if options.test else ""
        try:
            if options.batch_size == 1:
                return [
                    self._row_request(compiled, urls, row, {**meta, "row_key": key}, key, prefix + key)
                    for row, key in zip(rows, keys, strict=True)
                ]
            return self._batch_requests(compiled, urls, rows, keys, meta, prefix + report_key(report))
        except MappingError as problem:
            raise DeliveryConfigError(f"{KIND} delivery: {problem}") from None

    def _headers(self, key: str, body: bool) -> dict[str, str]:
        headers = {"Accept": "application/json", **self.options.headers}
        if body:
            headers["Content-Type"] = "application/json"
        if self.options.method in KEYED_METHODS:
            headers["Idempotency-Key"] = idempotency_key(self.options.target_name, key)
        if self.options.test:
            headers[TEST_HEADER] = "true"
        return headers

    def _row_request(
        self,
        compiled: CompiledMapping,
        urls: _UrlTemplate,
        row: dict[str, Any],
        meta: dict[str, Any],
        key: str,
        item_key: str,
    ) -> OutboundRequest:
        """The request of one row, keyed `item_key` (the row's key, `test:`-prefixed for a test send)."""
        mapped = compiled.body(row, meta)
        sample = orjson.loads(orjson.dumps(mapped))
        values = {**meta, **row}
        if self.options.method in NO_BODY:
            return OutboundRequest(
                key=item_key,
                method=self.options.method,
                url=urls.url(values, _flat(sample), key),
                headers=self._headers(item_key, body=False),
                rows=1,
                row_keys=(key,),
                sample=(sample,),
            )
        return OutboundRequest(
            key=item_key,
            method=self.options.method,
            url=urls.url(values, (), key),
            headers=self._headers(item_key, body=True),
            body=orjson.dumps(mapped),
            rows=1,
            row_keys=(key,),
            sample=(sample,),
        )

    def _batch_requests(
        self,
        compiled: CompiledMapping,
        urls: _UrlTemplate,
        rows: list[dict[str, Any]],
        keys: list[str],
        meta: dict[str, Any],
        whole: str,
    ) -> list[OutboundRequest]:
        size = self.options.batch_size
        count = math.ceil(len(rows) / size)
        url = urls.url(meta, (), whole)
        out = []
        for index in range(count):
            chunk = slice(index * size, (index + 1) * size)
            chunk_keys = keys[chunk]
            bodies = [
                compiled.body(row, {**meta, "row_key": k}) for row, k in zip(rows[chunk], chunk_keys, strict=True)
            ]
            payload: Any = {self.options.batch_wrapper: bodies} if self.options.batch_wrapper else bodies
            key = f"{whole}:batch:{index + 1}/{count}"
            out.append(
                OutboundRequest(
                    key=key,
                    method=self.options.method,
                    url=url,
                    headers=self._headers(key, body=True),
                    body=orjson.dumps(payload),
                    rows=len(bodies),
                    row_keys=tuple(chunk_keys),
                    sample=tuple(orjson.loads(orjson.dumps(bodies[:SAMPLE]))),
                )
            )
        return out

    # --- judging the answers ----------------------------------------------------------------

    def _judge(self, request: OutboundRequest, reply: Reply) -> ItemResult:
        verdict = judge_status(request, reply)  # no `gone` for an API: a 410 is a row's answer
        if verdict is not None:
            return verdict
        options = self.options
        status = reply.status
        answer: Any = None
        if options.success_field or options.id_field:
            try:
                answer = reply.response.json()
            except ValueError:
                answer = None
        if options.success_field:
            found, value = lookup(answer, options.success_field)
            wanted = options.success_value
            ok = found and (
                bool(value)
                if wanted is None
                else value == wanted
                or (isinstance(wanted, str) and not isinstance(value, str) and render_value(value) == wanted)
            )
            if not ok:
                shown = "missing" if found is False else f"{value!r}"[:100]
                if answer is None:
                    shown = "missing (the answer is not JSON)"
                expected = "a true value" if wanted is None else repr(wanted)
                return ItemResult(
                    request.key,
                    "failed",
                    error=redact(
                        f"HTTP {status} but success_field {options.success_field!r} is {shown}, not {expected}"
                    ),
                    info={"status": status},
                )
        ref = f"HTTP {status}"
        if options.id_field:
            found, value = lookup(answer, options.id_field)
            if found and value is not None:
                ids = [render_value(v) for v in value] if isinstance(value, list) else [render_value(value)]
                ref += f" id={capped(ids)}"
        info = {"status": status, "url": mask_url(request.url), "answer": short_answer(reply)}
        return ItemResult(request.key, "sent", ref=redact(ref), info=info)


register(HttpApiTarget, HttpApiDelivery)
