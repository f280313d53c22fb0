"""A local fake of the parts of HubSpot's CRM API the hubspot delivery uses: a real threaded HTTP
server on 127.0.0.1, small and faithful to the public reference pages it follows:

- Authentication (private apps, `Authorization: Bearer <token>`; 401 bodies with category
  INVALID_AUTHENTICATION / EXPIRED_AUTHENTICATION):
  https://developers.hubspot.com/docs/apps/legacy-apps/authentication/intro-to-auth
- Error bodies `{status, message, correlationId, category, errors[...]}` and the 429 body with
  `errorType: RATE_LIMIT` and `policyName` (SECONDLY or DAILY), limits per 10 s and per day:
  https://developers.hubspot.com/docs/api/usage-details ; https://developers.hubspot.com/apisbytier
- Read a property, `GET /crm/v3/properties/{objectType}/{propertyName}` (`hasUniqueValue`):
  https://developers.hubspot.com/docs/api-reference/legacy/crm/properties/get-property
- Batch upsert, `POST /crm/v3/objects/{objectType}/batch/upsert`, `inputs[{id, idProperty,
  properties, objectWriteTraceId}]` (at most 100), 200 or 207 Multi-Status with `results` and
  `errors[{status, category, message, context, errors}]`, `numErrors`:
  https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/contacts/batch/upsert-contacts
- Search, `POST /crm/v3/objects/{objectType}/search` (filterGroups OR-ed, filters AND-ed, limit
  at most 200, `total`, `paging.next.after`): https://developers.hubspot.com/docs-beta/crm/search
- Contacts' calculated `hs_searchable_calculated_phone_number` and `hs_searchable_calculated_mobile_number`:
  `phone` and `mobilephone` without country code or formatting, set on every write (read-only):
  https://knowledge.hubspot.com/properties/hubspots-default-contact-properties
- Create, `POST /crm/v3/objects/{objectType}` with `associations[{to: {id}, types:
  [{associationCategory, associationTypeId}]}]` (calls: https://developers.hubspot.com/docs/api/crm/calls;
  tasks alike); default association, `PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}`.

What a real account does that this one does not: search lags writes by seconds (this index is
immediate), property validation knows only string, number, datetime, bool and enumeration, and
one portal is served. Tests look at `records(...)`, `associations`, `requests`, and inject faults:
`rate_limit(policy, times)`, `expire(token)`, `accept(token)`, `on_request(hook)`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import phonenumbers

MAX_BATCH = 100
MAX_SEARCH_LIMIT = 200
#: HUBSPOT_DEFINED default association type ids (v4 "Association type IDs" table).
DEFAULT_ASSOCIATION = {
    ("calls", "contacts"): 194,
    ("contacts", "calls"): 193,
    ("tasks", "contacts"): 204,
    ("contacts", "tasks"): 203,
}
OBJECT_TYPE_IDS = {"contacts": "0-1", "calls": "0-48", "tasks": "0-27"}


@dataclass
class Property:
    name: str
    type: str = "string"  # string, number, datetime, bool, enumeration
    unique: bool = False
    options: tuple[str, ...] = ()

    def as_json(self, object_type: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.name.replace("_", " ").title(),
            "type": self.type,
            "fieldType": {"number": "number", "datetime": "date", "bool": "booleancheckbox"}.get(self.type, "text"),
            "groupName": f"{object_type}information",
            "hasUniqueValue": self.unique,
            "hidden": False,
            "formField": False,
            "options": [
                {"label": o, "value": o, "hidden": False, "displayOrder": i} for i, o in enumerate(self.options)
            ],
            "modificationMetadata": {"archivable": True, "readOnlyDefinition": False, "readOnlyValue": False},
        }

    def problem(self, value: Any) -> str | None:
        """The HubSpot error code of a value this property refuses, or None ("" clears any property)."""
        if value is None or value == "":
            return None
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if self.type == "number":
            try:
                float(text)
            except ValueError:
                return "INVALID_INTEGER" if not re.search(r"[.eE]", text) else "INVALID_FLOAT"
        elif self.type == "bool" and text not in ("true", "false"):
            return "INVALID_BOOLEAN"
        elif self.type == "enumeration" and self.options and text not in self.options:
            return "INVALID_OPTION"
        elif self.type == "datetime" and not text.isdigit():
            try:
                datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return "INVALID_DATE"
        return None


def _contact_properties() -> list[Property]:
    return [Property(n) for n in ("phone", "mobilephone", "email", "firstname", "lastname", "company")]


def _engagement_properties(prefix: str, extra: tuple[str, ...]) -> list[Property]:
    return [
        Property("hs_timestamp", "datetime"),
        Property("hubspot_owner_id"),
        Property("ziwo_call_key", unique=True),
        *(Property(f"{prefix}_{name}") for name in extra),
    ]


@dataclass
class Record:
    id: str
    properties: dict[str, str]
    created: str
    updated: str

    def as_json(self, wanted: list[str] | None = None) -> dict[str, Any]:
        props = self.properties if wanted is None else {k: self.properties.get(k) for k in wanted}
        return {
            "id": self.id,
            "properties": {**props, "hs_object_id": self.id},
            "createdAt": self.created,
            "updatedAt": self.updated,
            "archived": False,
        }


@dataclass
class Seen:
    method: str
    path: str
    status: int
    authorization: str
    body: Any


class ApiError(Exception):
    def __init__(self, status: int, message: str, category: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.body = status, {"status": "error", "message": message, "category": category, **extra}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class _State:
    tokens: set[str] = field(default_factory=set)
    expired: set[str] = field(default_factory=set)
    schema: dict[str, dict[str, Property]] = field(default_factory=dict)
    store: dict[str, dict[str, Record]] = field(default_factory=dict)
    unique: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)  # (type, property): value -> id
    associations: set[tuple[str, str, str, str, int]] = field(default_factory=set)
    limited: list[str] = field(default_factory=list)  # policies of the next 429s
    daily_spent: bool = False
    per_window: int | None = None
    window_s: float = 10.0
    window: list[float] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    hooks: list[Callable[[int], None]] = field(default_factory=list)
    handled: int = 0
    down: int | None = None


class HubSpotFake:
    """`with HubSpotFake(tokens=["pat-..."]) as hs: hs.url` — see the module's docstring."""

    def __init__(self, tokens: list[str] | tuple[str, ...] = ()) -> None:
        self.state = _State(tokens=set(tokens))
        self.lock = threading.RLock()
        self.ids = itertools.count(1001)
        self.define("contacts", _contact_properties())
        self.define(
            "calls",
            _engagement_properties("hs_call", ("title", "body", "direction", "duration", "from_number", "status")),
        )
        self.define("tasks", _engagement_properties("hs_task", ("subject", "body", "status", "priority", "type")))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.server.request_queue_size = 256
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="hubspot-fake")

    # --- lifecycle --------------------------------------------------------------------------------

    def __enter__(self) -> HubSpotFake:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    # --- setting it up, and faults ------------------------------------------------------------------

    def define(self, object_type: str, properties: list[Property]) -> None:
        """An object type (a custom object's name, or a standard one) and its properties."""
        with self.lock:
            self.state.schema.setdefault(object_type, {}).update({p.name: p for p in properties})
            self.state.store.setdefault(object_type, {})

    def accept(self, token: str) -> None:
        with self.lock:
            self.state.tokens.add(token)
            self.state.expired.discard(token)

    def expire(self, token: str) -> None:
        """The token answers 401 EXPIRED_AUTHENTICATION from now on (a rotated private-app token)."""
        with self.lock:
            self.state.tokens.discard(token)
            self.state.expired.add(token)

    def revoke_all(self) -> list[str]:
        with self.lock:
            tokens, self.state.tokens = sorted(self.state.tokens), set()
            return tokens

    def rate_limit(self, policy: str = "SECONDLY", times: int = 1) -> None:
        """The next `times` requests get 429 with this policyName; DAILY stays until `reset_daily`."""
        with self.lock:
            if policy == "DAILY":
                self.state.daily_spent = True
            else:
                self.state.limited += [policy] * times

    def reset_daily(self) -> None:
        with self.lock:
            self.state.daily_spent = False

    def limit_rolling(self, requests: int | None, seconds: float = 10.0) -> None:
        """A rolling limit of `requests` per `seconds` (HubSpot's burst limit is per 10 s; 429
        policyName TEN_SECONDLY_ROLLING); refused requests do not count."""
        with self.lock:
            self.state.per_window, self.state.window_s, self.state.window = requests, seconds, []

    def fail_all(self, status: int | None) -> None:
        """Every request answers this status (5xx: HubSpot's INTERNAL_ERROR body); None: normal again."""
        with self.lock:
            self.state.down = status

    def on_request(self, hook: Callable[[int], None]) -> None:
        """`hook(n)` before the n-th authenticated API request is handled (1-based)."""
        with self.lock:
            self.state.hooks.append(hook)

    # --- looking --------------------------------------------------------------------------------------

    def records(self, object_type: str) -> dict[str, dict[str, str]]:
        with self.lock:
            return {r.id: dict(r.properties) for r in self.state.store.get(object_type, {}).values()}

    def by(self, object_type: str, prop: str) -> dict[str, dict[str, str]]:
        """Records keyed by a property's value."""
        return {p[prop]: {**p, "id": i} for i, p in self.records(object_type).items() if p.get(prop)}

    @property
    def associations(self) -> set[tuple[str, str, str, str, int]]:
        with self.lock:
            return set(self.state.associations)

    def requests(self, path_part: str = "") -> list[Seen]:
        with self.lock:
            return [s for s in self.state.seen if path_part in s.path]

    def add(self, object_type: str, properties: dict[str, str]) -> str:
        """A record put there directly (a contact that exists before the test)."""
        with self.lock:
            return self._create(object_type, properties).id

    # --- the API ----------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        with self.lock:
            down = self.state.down
        if down is not None:
            raise ApiError(down, "internal error", "INTERNAL_ERROR")
        self._authenticate(headers.get("authorization", ""))
        with self.lock:
            self.state.handled += 1
            count = self.state.handled
            hooks = list(self.state.hooks)
        for hook in hooks:
            hook(count)
        self._authenticate(headers.get("authorization", ""))  # a hook may have expired it
        self._rate_limit()
        parts = [p for p in urlsplit(path).path.split("/") if p]
        with self.lock:
            return self._route(method, parts, body)

    def _authenticate(self, header: str) -> None:
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        with self.lock:
            if token in self.state.tokens:
                return
            if token in self.state.expired:
                raise ApiError(
                    401,
                    "The OAuth token used to make this call expired 0 second(s) ago.",
                    "EXPIRED_AUTHENTICATION",
                )
        raise ApiError(
            401,
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
            "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            "INVALID_AUTHENTICATION",
        )

    def _rate_limit(self) -> None:
        with self.lock:
            state = self.state
            policy = None
            if state.daily_spent:
                policy = "DAILY"
            elif state.limited:
                policy = state.limited.pop(0)
            elif state.per_window is not None:
                now = time.monotonic()
                state.window = [t for t in state.window if now - t < state.window_s]
                if len(state.window) >= state.per_window:
                    policy = "TEN_SECONDLY_ROLLING"
                else:
                    state.window.append(now)
        if policy is not None:
            which = "daily" if policy == "DAILY" else "secondly"
            raise ApiError(
                429, f"You have reached your {which} limit.", "RATE_LIMITS", errorType="RATE_LIMIT", policyName=policy
            )

    def _route(self, method: str, parts: list[str], body: Any) -> tuple[int, Any]:
        match (method, parts):
            case ("GET", ["crm", "v3", "properties", object_type, name]):
                prop = self._schema(object_type).get(name)
                if prop is None:
                    raise ApiError(
                        404, f"Unable to find property {name} for object type {object_type}", "OBJECT_NOT_FOUND"
                    )
                return 200, prop.as_json(object_type)
            case ("POST", ["crm", "v3", "objects", object_type, "batch", "upsert"]):
                return self._upsert(object_type, body)
            case ("POST", ["crm", "v3", "objects", object_type, "search"]):
                return self._search(object_type, body)
            case ("POST", ["crm", "v3", "objects", object_type]):
                return self._create_one(object_type, body)
            case ("PUT", ["crm", "v4", "objects", from_type, from_id, "associations", "default", to_type, to_id]):
                return self._associate(from_type, from_id, to_type, to_id)
        raise ApiError(404, f"{method} /{'/'.join(parts)} is not an endpoint of this API", "OBJECT_NOT_FOUND")

    def _schema(self, object_type: str) -> dict[str, Property]:
        schema = self.state.schema.get(object_type)
        if schema is None:
            raise ApiError(400, f"Unable to infer object type from: {object_type}", "VALIDATION_ERROR")
        return schema

    def _invalid(self, object_type: str, properties: dict[str, Any]) -> list[dict[str, Any]]:
        schema = self._schema(object_type)
        problems = []
        for name, value in properties.items():
            prop = schema.get(name)
            if prop is None:
                problems.append(
                    {"name": name, "error": "PROPERTY_DOESNT_EXIST", "message": f'Property "{name}" does not exist'}
                )
            elif (code := prop.problem(value)) is not None:
                problems.append({"name": name, "error": code, "message": f"{value!r} is not a valid {prop.type}"})
        return problems

    def _validation_error(self, problems: list[dict[str, Any]], context: dict[str, list[str]]) -> dict[str, Any]:
        details = [{"isValid": False, **p} for p in problems]
        return {
            "status": "error",
            "category": "VALIDATION_ERROR",
            "message": f"Property values were not valid: {json.dumps(details)}",
            "context": context,
            "errors": [{"message": p["message"], "code": p["error"], "in": p["name"]} for p in problems],
        }

    def _create(self, object_type: str, properties: dict[str, Any]) -> Record:
        now = _now()
        record = Record(str(next(self.ids)), {}, now, now)
        self.state.store[object_type][record.id] = record
        self._set(object_type, record, properties)
        return record

    def _set(self, object_type: str, record: Record, properties: dict[str, Any]) -> None:
        schema = self.state.schema[object_type]
        for name, value in properties.items():
            text = _text(value)
            if name in schema and schema[name].unique:
                index = self.state.unique.setdefault((object_type, name), {})
                index.pop(record.properties.get(name, ""), None)
                if text:
                    index[text] = record.id
            record.properties[name] = text
            if object_type == "contacts" and name in SEARCHABLE:
                record.properties[SEARCHABLE[name]] = _without_country_code(text)

    def _find(self, object_type: str, prop: str, value: str) -> Record | None:
        if self.state.schema[object_type].get(prop, Property(prop)).unique:
            found = self.state.unique.get((object_type, prop), {}).get(value)
            return self.state.store[object_type].get(found) if found else None
        for record in self.state.store[object_type].values():
            if record.properties.get(prop) == value:
                return record
        return None

    def _upsert(self, object_type: str, body: Any) -> tuple[int, Any]:
        schema = self._schema(object_type)
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or not inputs:
            raise ApiError(400, "Invalid input JSON: inputs must be a non-empty array", "VALIDATION_ERROR")
        if len(inputs) > MAX_BATCH:
            raise ApiError(
                400, f"Too many inputs: {len(inputs)} > the limit of {MAX_BATCH} per batch", "VALIDATION_ERROR"
            )
        ids = [str(i.get("id")) for i in inputs]
        if len(set(ids)) != len(ids):
            raise ApiError(400, "Duplicate IDs found in batch input", "VALIDATION_ERROR")
        started = _now()
        results, errors = [], []
        for position, entry in enumerate(inputs):
            id_property, value = entry.get("idProperty"), str(entry.get("id") or "")
            prop = schema.get(id_property or "")
            trace = str(entry.get("objectWriteTraceId", position))
            if prop is None or not prop.unique:
                raise ApiError(
                    400,
                    f"idProperty {id_property!r} is not a unique-value property of {object_type}",
                    "VALIDATION_ERROR",
                )
            properties = dict(entry.get("properties") or {})
            problems = self._invalid(object_type, properties)
            if problems:
                errors.append(self._validation_error(problems, {"objectWriteTraceId": [trace], "ids": [value]}))
                continue
            record = self._find(object_type, id_property, value)
            new = record is None
            if record is None:
                record = self._create(object_type, {**properties, id_property: value})
            else:
                self._set(object_type, record, properties)
                record.updated = _now()
            results.append({**record.as_json(), "new": new, "objectWriteTraceId": trace})
        if not results:  # nothing written: the batch is refused whole, naming the first error
            first = errors[0]
            raise ApiError(400, first["message"], "VALIDATION_ERROR", context=first["context"], errors=first["errors"])
        answer: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": _now()}
        if errors:
            answer.update(numErrors=len(errors), errors=errors)
            return 207, answer
        return 200, answer

    def _search(self, object_type: str, body: Any) -> tuple[int, Any]:
        self._schema(object_type)
        body = body if isinstance(body, dict) else {}
        limit = int(body.get("limit", 10))
        if limit > MAX_SEARCH_LIMIT:
            raise ApiError(400, f"limit {limit} is over the maximum of {MAX_SEARCH_LIMIT}", "VALIDATION_ERROR")
        groups = body.get("filterGroups") or []

        def matches(record: Record) -> bool:
            if not groups:
                return True
            return any(all(_filter(record, f) for f in group.get("filters", [])) for group in groups)

        found = sorted((r for r in self.state.store[object_type].values() if matches(r)), key=lambda r: int(r.id))
        after = int(body.get("after") or 0)
        page = found[after : after + limit]
        wanted = body.get("properties") or None
        answer: dict[str, Any] = {"total": len(found), "results": [r.as_json(wanted) for r in page]}
        if after + limit < len(found):
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return 200, answer

    def _create_one(self, object_type: str, body: Any) -> tuple[int, Any]:
        schema = self._schema(object_type)
        properties = dict((body or {}).get("properties") or {})
        problems = self._invalid(object_type, properties)
        if problems:
            error = self._validation_error(problems, {})
            raise ApiError(400, error["message"], "VALIDATION_ERROR", errors=error["errors"])
        for name, value in properties.items():
            if schema[name].unique and value not in (None, "") and self._find(object_type, name, _text(value)):
                raise ApiError(
                    409, f"A {object_type} with {name}={value} already exists", "CONFLICT", context={"property": [name]}
                )
        associations = (body or {}).get("associations") or []
        targets = []
        for association in associations:
            to_id = str((association.get("to") or {}).get("id"))
            type_ids = [t.get("associationTypeId") for t in association.get("types") or []]
            to_type = next((t for (f, t), i in DEFAULT_ASSOCIATION.items() if f == object_type and i in type_ids), None)
            if to_type is None or to_id not in self.state.store.get(to_type, {}):
                raise ApiError(400, f"association to {to_id} with types {type_ids} is not valid", "VALIDATION_ERROR")
            targets.append((to_type, to_id, type_ids[0]))
        record = self._create(object_type, properties)
        for to_type, to_id, type_id in targets:
            self.state.associations.add((object_type, record.id, to_type, to_id, type_id))
        return 201, record.as_json()

    def _associate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> tuple[int, Any]:
        type_id = DEFAULT_ASSOCIATION.get((from_type, to_type))
        if type_id is None:
            raise ApiError(400, f"no default association from {from_type} to {to_type}", "VALIDATION_ERROR")
        for object_type, object_id in ((from_type, from_id), (to_type, to_id)):
            if object_id not in self.state.store.get(object_type, {}):
                raise ApiError(404, f"{object_type} {object_id} was not found", "OBJECT_NOT_FOUND")
        self.state.associations.add((from_type, from_id, to_type, to_id, type_id))
        return 200, {
            "status": "COMPLETE",
            "results": [
                {
                    "from": {"id": from_id},
                    "to": {"id": to_id},
                    "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id},
                }
            ],
        }


SEARCHABLE = {"phone": "hs_searchable_calculated_phone_number", "mobilephone": "hs_searchable_calculated_mobile_number"}


def _without_country_code(number: str) -> str:
    """What HubSpot calculates for search: the digits, without a country code when the number has
    one (+ or 00), else without a trunk 0."""
    digits = re.sub(r"\D", "", number)
    if number.strip().startswith("+") or digits.startswith("00"):
        with contextlib.suppress(phonenumbers.NumberParseException):
            return str(phonenumbers.parse("+" + digits.lstrip("0"), None).national_number)
    return digits.lstrip("0")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _filter(record: Record, spec: dict[str, Any]) -> bool:
    value = record.properties.get(spec.get("propertyName", ""))
    operator, wanted = spec.get("operator", "EQ"), spec.get("value")
    if operator == "EQ":
        return value is not None and value == str(wanted)
    if operator == "NEQ":
        return value != str(wanted)
    if operator == "IN":
        return value in [str(v) for v in spec.get("values") or []]
    if operator == "HAS_PROPERTY":
        return bool(value)
    if operator == "NOT_HAS_PROPERTY":
        return not value
    raise ApiError(400, f"operator {operator} is not supported here", "VALIDATION_ERROR")


def _handler(fake: HubSpotFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms delayed-ACK stall between

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status: int
            answer: Any
            body: Any = None
            try:
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    raise ApiError(400, "Invalid input JSON on line 1", "VALIDATION_ERROR") from None
                status, answer = fake.handle(self.command, self.path, headers, body)
            except ApiError as error:
                status, answer = error.status, {**error.body, "correlationId": str(uuid.uuid4())}
            authorization = headers.get("authorization", "")
            with fake.lock:
                fake.state.seen.append(Seen(self.command, self.path, status, authorization, body))
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return Handler
