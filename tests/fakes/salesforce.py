"""A local fake of the Salesforce APIs ziwo-reports uses: a real ThreadingHTTPServer on 127.0.0.1,
small, following the public references:

- OAuth 2.0 token endpoint, `POST /services/oauth2/token`: the JWT bearer flow (RS256 assertion with
  iss/sub/aud/exp), client credentials and username-password flows; errors `{error,
  error_description}`; the answer names `instance_url` (this server). [help.salesforce.com:
  remoteaccess_oauth_jwt_flow, remoteaccess_oauth_client_credentials_flow,
  remoteaccess_oauth_username_password_flow]
- REST errors as a JSON array of `{message, errorCode, fields}`; `401 INVALID_SESSION_ID` for an
  expired session; `403 REQUEST_LIMIT_EXCEEDED` for a spent allowance; `UNABLE_TO_LOCK_ROW`.
  [developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm]
- `GET /services/data/vXX.X/sobjects/{SObject}/describe` (fields with name, type, externalId, unique,
  length, nillable). [api_rest: resources_sobject_describe]
- `PATCH /services/data/vXX.X/composite/sobjects/{SObject}/{ExtIdField}`: sObject Collections upsert,
  at most 200 records, `allOrNone`, per-record `{id, success, errors[{statusCode, message, fields}],
  created}` in input order. [api-rest/guide/resources-composite-sobjects-collections-upsert]
- `POST /sobjects/{SObject}` (create, 201), `PATCH /sobjects/{SObject}/{Id}` (update, 204 No Content)
  and `PATCH /sobjects/{SObject}/{ExtIdField}/{value}` (upsert: 201 created, 200 updated).
  [api-rest/guide/resources-sobject-upsert-patch, dome_update_fields]
- `GET /query?q=SOQL`: only the narrow form the connector sends (`SELECT Id FROM X WHERE [IsConverted =
  false AND] (F IN ('a', ...) OR G IN (...)) ORDER BY LastModifiedDate DESC LIMIT n`), string literals
  with backslash escapes. [api_rest: resources_query; soql_sosl: sforce_api_calls_soql_select_quotedstringescapes]
- `GET /search?q=SOSL`: only `FIND {digits} IN PHONE FIELDS RETURNING Obj(Id, F, ... [WHERE IsConverted =
  false] ORDER BY LastModifiedDate DESC LIMIT n), ...`; answers `{"searchRecords": [{attributes: {type},
  Id, F...}]}`. Phone search ignores formatting: here a record matches when the digits of its Phone or
  MobilePhone end with the digits searched for (an approximation of the search index's phone tokens).
  [api_rest: resources_search; soql_sosl: sforce_api_calls_sosl_find, sosl_in]
- Bulk API 2.0 ingest: `POST /jobs/ingest` (Open), `PUT /jobs/ingest/{id}/batches` (CSV, 201),
  `PATCH /jobs/ingest/{id}` {state: UploadComplete}, `GET /jobs/ingest/{id}` (InProgress, then
  JobComplete or Failed), `GET .../successfulResults/` (sf__Id, sf__Created, the columns),
  `.../failedResults/` (sf__Id, sf__Error, the columns; in no guaranteed order: this fake reverses it),
  `.../unprocessedrecords/`; `#N/A` sets null. [api-asynch/guide: create-job, upload-job-data,
  close-job, get-job-info, get-job-failed-results, get-job-successful-results]

Tests inspect `records(sobject)` and `calls`, and inject faults: `expire_sessions()`,
`fail_next(code, times)`, `lock_records(values, times)`, `api_limit`.
"""

from __future__ import annotations

import base64
import csv
import io
import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

COLLECTION_LIMIT = 200
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
PREFIXES = {"Contact": "003", "Lead": "00Q", "Task": "00T", "Case": "500"}


@dataclass
class Field:
    type: str = "string"  # string, double, boolean, datetime, reference, id
    length: int = 255
    external_id: bool = False
    unique: bool = False
    required: bool = False

    def describe(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "type": self.type,
            "length": self.length if self.type == "string" else 0,
            "externalId": self.external_id,
            "unique": self.unique,
            "nillable": not self.required,
            "filterable": self.type != "textarea",
            "createable": name != "Id",
            "updateable": name != "Id",
        }


@dataclass
class SObject:
    name: str
    fields: dict[str, Field]
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    prefix: str = "a01"
    index: dict[str, dict[Any, str]] = field(default_factory=dict)  # external id field -> value -> record id

    def put(self, record: dict[str, Any]) -> None:
        """Store a record, its external id values indexed (as the org's unique index does)."""
        self.records[record["Id"]] = record
        for name, spec in self.fields.items():
            if spec.external_id and record.get(name) not in (None, ""):
                self.index.setdefault(name, {})[record[name]] = record["Id"]


def _error(code: str, message: str, fields: list[str] | None = None) -> dict[str, Any]:
    return {"message": message, "errorCode": code, "fields": fields or []}


def _record_error(code: str, message: str, fields: list[str] | None = None) -> dict[str, Any]:
    return {"statusCode": code, "message": message, "fields": fields or []}


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_rsa_key() -> tuple[str, str]:
    """A private key (PEM) and its public key (PEM), for the JWT flow."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


class FakeSalesforce:
    """The fake org. `url` is both its login URL and its instance URL."""

    def __init__(
        self,
        *,
        username: str = "ops@acme.example",
        password: str = "fake-password-9d2c",
        security_token: str = "fake-security-token-51ab",
        consumer_key: str = "3MVG9fake.consumer.key",
        consumer_secret: str = "fake-consumer-secret-7e4f",
        public_key_pem: str | None = None,
        audience: str = "https://login.salesforce.com",
    ) -> None:
        self.username, self.password, self.security_token = username, password, security_token
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.public_key_pem, self.audience = public_key_pem, audience
        self.objects: dict[str, SObject] = {}
        self.tokens: set[str] = set()
        self.logins = 0
        self.calls: list[tuple[str, str]] = []
        self.api_limit: int | None = None  # data requests the org may make; past it, 403 REQUEST_LIMIT_EXCEEDED
        self.api_used = 0
        self.expire_at: int | None = None  # at this data request, every session expires (once)
        self.issued: list[str] = []  # every access token handed out, for tests that look for leaks
        self.faults: list[list[Any]] = []  # [code, times]
        self.locked: dict[str, int] = {}  # external id value -> times its record is locked
        self.jobs: dict[str, dict[str, Any]] = {}
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self._standard_objects()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # --- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> FakeSalesforce:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    # --- set-up and inspection ----------------------------------------------------------------

    def _standard_objects(self) -> None:
        base = {"Id": Field("id", 18), "LastModifiedDate": Field("datetime")}
        self.add_object(
            "Contact",
            {**base, "LastName": Field(length=80, required=True), "FirstName": Field(length=40),
             "Phone": Field(length=40), "MobilePhone": Field(length=40)},
        )  # fmt: skip
        self.add_object(
            "Lead",
            {**base, "LastName": Field(length=80, required=True), "Company": Field(length=255),
             "Phone": Field(length=40), "MobilePhone": Field(length=40), "IsConverted": Field("boolean")},
        )  # fmt: skip
        follow_up = {
            "Subject": Field(length=255),
            "Description": Field(length=32000),
            "Status": Field(length=40),
            "Priority": Field(length=40),
            "Ziwo_Call_Key__c": Field(length=255, external_id=True, unique=True),
        }
        self.add_object("Task", {**base, **follow_up, "WhoId": Field("reference", 18), "ActivityDate": Field()})
        self.add_object("Case", {**base, **follow_up, "ContactId": Field("reference", 18), "Origin": Field()})

    def add_object(self, name: str, fields: dict[str, Field]) -> SObject:
        fields = {"Id": Field("id", 18), "LastModifiedDate": Field("datetime"), **fields}
        prefix = PREFIXES.get(name, f"a{len(self.objects):02d}")
        self.objects[name] = SObject(name, fields, prefix=prefix)
        return self.objects[name]

    def records(self, sobject: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self.objects[sobject].records.values()]

    def add_record(self, sobject: str, **values: Any) -> str:
        with self.lock:
            obj = self.objects[sobject]
            record_id = self._new_id(obj)
            obj.put({"Id": record_id, "LastModifiedDate": time.time(), **values})
            return record_id

    def expire_sessions(self) -> None:
        """Every session issued so far is invalid from now on (401 INVALID_SESSION_ID)."""
        with self.lock:
            self.tokens.clear()

    def fail_next(self, code: str, times: int = 1) -> None:
        """The next `times` data requests fail with `code` (REQUEST_LIMIT_EXCEEDED: 403; else 400)."""
        with self.lock:
            self.faults.append([code, times])

    def lock_records(self, values: list[str], times: int = 1) -> None:
        """The records of these external id values answer UNABLE_TO_LOCK_ROW `times` times."""
        with self.lock:
            for value in values:
                self.locked[value] = times

    def count(self, method: str, fragment: str) -> int:
        return sum(1 for m, p in self.calls if m == method and fragment in p)

    # --- the work -------------------------------------------------------------------------------

    def _new_id(self, obj: SObject) -> str:
        return f"{obj.prefix}{next(self._ids):012d}AAA"

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = form.get("grant_type")
        bad = (400, {"error": "invalid_grant", "error_description": "authentication failure"})
        if grant == JWT_GRANT:
            if not self._jwt_ok(form.get("assertion", "")):
                return bad
        elif grant == "client_credentials":
            if (form.get("client_id"), form.get("client_secret")) != (self.consumer_key, self.consumer_secret):
                return 400, {"error": "invalid_client", "error_description": "invalid client credentials"}
        elif grant == "password":
            if (form.get("client_id"), form.get("client_secret")) != (self.consumer_key, self.consumer_secret):
                return 400, {"error": "invalid_client_id", "error_description": "client identifier invalid"}
            if (form.get("username"), form.get("password")) != (self.username, self.password + self.security_token):
                return bad
        else:
            return 400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"}
        token = "00Dfake!" + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens.add(token)
            self.issued.append(token)
            self.logins += 1
        return 200, {
            "access_token": token,
            "instance_url": self.url,
            "id": f"{self.url}/id/00Dfake/005fake",
            "token_type": "Bearer",
            "issued_at": str(int(time.time() * 1000)),
            "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
        }

    def _jwt_ok(self, assertion: str) -> bool:
        if self.public_key_pem is None or assertion.count(".") != 2:
            return False
        header, claims, signature = assertion.split(".")
        key = serialization.load_pem_public_key(self.public_key_pem.encode())
        assert isinstance(key, rsa.RSAPublicKey)
        try:
            key.verify(_b64decode(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
            body = json.loads(_b64decode(claims))
            alg = json.loads(_b64decode(header)).get("alg")
        except (InvalidSignature, ValueError):
            return False
        return (
            alg == "RS256"
            and body.get("iss") == self.consumer_key
            and body.get("sub") == self.username
            and body.get("aud") == self.audience
            and float(body.get("exp", 0)) > time.time()
        )

    def _check_value(self, obj: SObject, name: str, value: Any) -> dict[str, Any] | None:
        spec = obj.fields[name]
        if value is None:
            return None
        if spec.type == "string" and len(str(value)) > spec.length:
            return _record_error(
                "STRING_TOO_LONG", f"{name}: data value too large: {str(value)[:40]} (max length={spec.length})", [name]
            )
        if spec.type == "double":
            try:
                float(value)
            except (TypeError, ValueError):
                return _record_error("INVALID_TYPE_ON_FIELD_IN_RECORD", f"{name}: value not of required type", [name])
        return None

    def _upsert(self, obj: SObject, ext: str, values: dict[str, Any]) -> dict[str, Any]:
        """One record's upsert by external id, as the per-record result Salesforce gives."""
        key = values.get(ext)
        if key in (None, ""):
            return {"id": None, "success": False, "errors": [_record_error("MISSING_ARGUMENT", f"{ext} not specified")]}
        if self.locked.get(str(key), 0) > 0:
            self.locked[str(key)] -= 1
            return {
                "id": None,
                "success": False,
                "errors": [_record_error("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record")],
            }
        for name, value in values.items():
            problem = self._check_value(obj, name, value)
            if problem:
                return {"id": None, "success": False, "errors": [problem]}
        found = obj.index.get(ext, {}).get(key)
        if found is not None:
            record = obj.records[found]
            record.update(values)
            record["LastModifiedDate"] = time.time()
            obj.put(record)
            return {"id": found, "success": True, "errors": [], "created": False}
        missing = [n for n, f in obj.fields.items() if f.required and values.get(n) in (None, "")]
        if missing:
            return {
                "id": None,
                "success": False,
                "errors": [_record_error("REQUIRED_FIELD_MISSING", f"Required fields are missing: {missing}", missing)],
            }
        record_id = self._new_id(obj)
        obj.put({"Id": record_id, "LastModifiedDate": time.time(), **values})
        return {"id": record_id, "success": True, "errors": [], "created": True}

    def collections_upsert(self, sobject: str, ext: str, body: Any) -> tuple[int, Any]:
        obj = self.objects.get(sobject)
        if obj is None:
            return 404, [_error("NOT_FOUND", "The requested resource does not exist")]
        if ext not in obj.fields or not obj.fields[ext].external_id:
            return 400, [_error("INVALID_FIELD", f"Field {ext} is not a valid external id field for {sobject}")]
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list):
            return 400, [_error("JSON_PARSER_ERROR", "records: expected an array")]
        if len(records) > COLLECTION_LIMIT:
            return 400, [_error("EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records")]
        results: list[Any] = []
        with self.lock:
            for record in records:
                values = {k: v for k, v in record.items() if k != "attributes"}
                if (record.get("attributes") or {}).get("type") != sobject:
                    return 400, [_error("INVALID_TYPE", "each record needs attributes.type " + sobject)]
                unknown = [name for name in values if name not in obj.fields]
                if unknown:
                    return 400, [_error("INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {sobject}")]
            seen: dict[Any, int] = {}
            for record in records:
                seen[record.get(ext)] = seen.get(record.get(ext), 0) + 1
            for record in records:
                values = {k: v for k, v in record.items() if k != "attributes"}
                if seen[values.get(ext)] > 1:
                    duplicate = _record_error("DUPLICATE_VALUE", f"Duplicate external id specified: {values.get(ext)}")
                    results.append({"id": None, "success": False, "errors": [duplicate]})
                    continue
                results.append(self._upsert(obj, ext, values))
        return 200, results

    def query(self, soql: str) -> tuple[int, Any]:
        match = re.fullmatch(
            r"SELECT Id FROM (\w+) WHERE (.+) ORDER BY LastModifiedDate DESC LIMIT (\d+)", soql.strip(), re.S
        )
        if not match or match.group(1) not in self.objects:
            return 400, [_error("MALFORMED_QUERY", "unexpected token")]
        obj, where, limit = self.objects[match.group(1)], match.group(2), int(match.group(3))
        try:
            conditions = _parse_where(where)
        except ValueError as problem:
            return 400, [_error("MALFORMED_QUERY", str(problem))]
        with self.lock:
            found = [r for r in obj.records.values() if _matches(r, conditions)]
        found.sort(key=lambda r: r.get("LastModifiedDate", 0), reverse=True)
        records = [{"attributes": {"type": obj.name}, "Id": r["Id"]} for r in found[:limit]]
        return 200, {"totalSize": len(records), "done": True, "records": records}

    def search(self, sosl: str) -> tuple[int, Any]:
        match = re.fullmatch(r"FIND \{(\d+)\} IN PHONE FIELDS RETURNING (.+)", sosl.strip(), re.S)
        if not match:
            return 400, [_error("MALFORMED_SEARCH", "unexpected token")]
        digits, returning = match.groups()
        found: list[dict[str, Any]] = []
        for spec in re.finditer(
            r"(\w+)\(([^)]*?)(?: WHERE (.+?))? ORDER BY LastModifiedDate DESC LIMIT (\d+)\)", returning
        ):
            name, fields, where, limit = spec.group(1), spec.group(2), spec.group(3), int(spec.group(4))
            obj = self.objects.get(name)
            if obj is None:
                return 400, [_error("INVALID_TYPE", f"sObject type '{name}' is not supported")]
            conditions = _parse_where(where) if where else []
            wanted = [f.strip() for f in fields.split(",")]
            with self.lock:
                hits = [
                    r for r in obj.records.values()
                    if _matches(r, conditions) and any(
                        re.sub(r"\D", "", str(r.get(f) or "")).endswith(digits) for f in ("Phone", "MobilePhone")
                    )
                ]  # fmt: skip
            hits.sort(key=lambda r: r.get("LastModifiedDate", 0), reverse=True)
            found += [{"attributes": {"type": name}, **{f: r.get(f) for f in wanted}} for r in hits[:limit]]
        return 200, {"searchRecords": found}

    # --- Bulk API 2.0 ---------------------------------------------------------------------------

    def create_job(self, body: dict[str, Any], version: str) -> tuple[int, Any]:
        obj = self.objects.get(body.get("object", ""))
        if obj is None:
            return 400, [_error("INVALIDJOB", f"InvalidJob : Invalid object {body.get('object')}")]
        if body.get("operation") != "upsert" or body.get("contentType", "CSV") != "CSV":
            return 400, [_error("INVALIDJOB", "this fake takes upsert jobs of CSV")]
        ext = body.get("externalIdFieldName")
        if ext not in obj.fields or not obj.fields[ext].external_id:
            return 400, [_error("INVALIDJOB", f"InvalidJob : Field name provided, {ext} is not an External ID")]
        job_id = f"750fake{len(self.jobs):08d}"
        with self.lock:
            self.jobs[job_id] = {
                "id": job_id, "object": obj.name, "externalIdFieldName": ext, "operation": "upsert",
                "state": "Open", "contentType": "CSV", "lineEnding": body.get("lineEnding", "LF"),
                "apiVersion": float(version), "data": b"", "polls": 0,
                "numberRecordsProcessed": 0, "numberRecordsFailed": 0,
            }  # fmt: skip
        return 200, self._job_info(job_id)

    def _job_info(self, job_id: str) -> dict[str, Any]:
        return {k: v for k, v in self.jobs[job_id].items() if k not in ("data", "polls", "results")}

    def upload(self, job_id: str, data: bytes) -> tuple[int, Any]:
        job = self.jobs.get(job_id)
        if job is None:
            return 404, [_error("NOT_FOUND", "job not found")]
        if job["state"] != "Open":
            return 409, [_error("INVALIDJOBSTATE", f"Job state {job['state']} does not take data")]
        if len(data) > 150 * 1024 * 1024:
            return 400, [_error("INVALIDBATCH", "upload over 150 MB")]
        job["data"] += data
        return 201, None

    def set_state(self, job_id: str, state: str) -> tuple[int, Any]:
        job = self.jobs.get(job_id)
        if job is None:
            return 404, [_error("NOT_FOUND", "job not found")]
        if state == "Aborted":
            job["state"] = "Aborted"
        elif state == "UploadComplete" and job["state"] == "Open":
            job["state"] = "UploadComplete"
            self._process(job)
        else:
            return 400, [_error("INVALIDJOBSTATE", f"cannot go from {job['state']} to {state}")]
        return 200, self._job_info(job_id)

    def _process(self, job: dict[str, Any]) -> None:
        obj, ext = self.objects[job["object"]], job["externalIdFieldName"]
        reader = csv.reader(io.StringIO(job["data"].decode("utf-8")))
        rows = list(reader)
        header, data = (rows[0], rows[1:]) if rows else ([], [])
        unknown = [name for name in header if name not in obj.fields]
        job["results"] = {"ok": [], "failed": [], "header": header}
        if unknown or ext not in header:
            job["final"] = "Failed"
            job["errorMessage"] = f"InvalidBatch : Field name not found : {(unknown or [ext])[0]}"
            return
        with self.lock:
            for cells in data:
                values = {n: (None if c == "#N/A" else c) for n, c in zip(header, cells, strict=False) if c != ""}
                result = self._upsert(obj, ext, values)
                if result["success"]:
                    job["results"]["ok"].append([result["id"], "true" if result["created"] else "false", *cells])
                else:
                    error = result["errors"][0]
                    message = f"{error['statusCode']}:{error['message']}:{'/'.join(error['fields'])} --"
                    job["results"]["failed"].append(["", message, *cells])
        job["numberRecordsProcessed"] = len(data)
        job["numberRecordsFailed"] = len(job["results"]["failed"])
        job["final"] = "JobComplete"

    def job_info(self, job_id: str) -> tuple[int, Any]:
        job = self.jobs.get(job_id)
        if job is None:
            return 404, [_error("NOT_FOUND", "job not found")]
        if job["state"] in ("UploadComplete", "InProgress"):
            job["polls"] += 1  # the first poll sees it in progress, as a real job would be for a while
            job["state"] = "InProgress" if job["polls"] == 1 else job["final"]
        return 200, self._job_info(job_id)

    def job_results(self, job_id: str, which: str) -> tuple[int, Any]:
        job = self.jobs.get(job_id)
        if job is None or "results" not in job:
            return 404, [_error("NOT_FOUND", "job not found or not processed")]
        header = job["results"]["header"]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
        if which == "successfulResults":
            writer.writerow(["sf__Id", "sf__Created", *header])
            writer.writerows(job["results"]["ok"])
        elif which == "failedResults":
            writer.writerow(["sf__Id", "sf__Error", *header])
            writer.writerows(reversed(job["results"]["failed"]))  # no order is promised
        else:
            writer.writerow(header)
        return 200, out.getvalue().encode()


# --- a little SOQL: the WHERE clause the connector sends -----------------------------------------

_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<sym>[(),=]))", re.S)


def _unescape(literal: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r", "t": "\t"}.get(m.group(1), m.group(1)), literal[1:-1])


def _tokens(text: str) -> list[tuple[str, str]]:
    out, position = [], 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if not match:
            raise ValueError(f"unexpected token at {text[position : position + 20]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        position = match.end()
    return out


def _parse_where(text: str) -> list[list[tuple[str, Any]]]:
    """Conjunctions of disjunctions: [[("IsConverted", False)], [("Phone", {...}), ("MobilePhone", {...})]]."""
    tokens = _tokens(text)
    groups: list[list[tuple[str, Any]]] = [[]]
    i = 0
    while i < len(tokens):
        kind, value = tokens[i]
        if value in ("(", ")"):
            i += 1
        elif value.upper() == "AND":
            groups.append([])
            i += 1
        elif value.upper() == "OR":
            i += 1
        elif kind == "word" and i + 1 < len(tokens) and tokens[i + 1][1] == "=":
            literal = tokens[i + 2][1]
            groups[-1].append(
                (value, literal.lower() == "true" if literal.lower() in ("true", "false") else _unescape(literal))
            )
            i += 3
        elif kind == "word" and i + 1 < len(tokens) and tokens[i + 1][1].upper() == "IN":
            values, j = set(), i + 3
            while tokens[j][1] != ")":
                if tokens[j][0] == "str":
                    values.add(_unescape(tokens[j][1]))
                elif tokens[j][1] != ",":
                    raise ValueError(f"unexpected {tokens[j][1]!r} in an IN list")
                j += 1
            groups[-1].append((value, values))
            i = j + 1
        else:
            raise ValueError(f"unexpected token {value!r}")
    return [group for group in groups if group]


def _matches(record: dict[str, Any], conditions: list[list[tuple[str, Any]]]) -> bool:
    def one(name: str, wanted: Any) -> bool:
        value = record.get(name)
        if isinstance(wanted, set):
            return value in wanted
        if isinstance(wanted, bool):
            return bool(value) == wanted
        return value == wanted

    return all(any(one(name, wanted) for name, wanted in group) for group in conditions)


# --- HTTP ---------------------------------------------------------------------------------------------

_DATA = re.compile(r"^/services/data/v(\d+\.\d)(/.*)$")


def _handler(fake: FakeSalesforce) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms wait for a delayed ACK

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(self, status: int, payload: Any, content_type: str = "application/json") -> None:
            if payload is None:
                data = b""
            elif isinstance(payload, bytes):
                data = payload
            else:
                data = json.dumps(payload).encode()
            self.send_response(status)
            if data:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Sforce-Limit-Info", f"api-usage={fake.api_used}/{fake.api_limit or 15000}")
            self.end_headers()
            self.wfile.write(data)

        def _route(self, method: str) -> None:
            parts = urlsplit(self.path)
            path = parts.path
            fake.calls.append((method, path))
            body = self._body()
            if path == "/services/oauth2/token" and method == "POST":
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                return self._send(*fake.token(form))
            match = _DATA.match(path)
            if not match:
                return self._send(404, [_error("NOT_FOUND", "The requested resource does not exist")])
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in fake.tokens:
                return self._send(401, [_error("INVALID_SESSION_ID", "Session expired or invalid")])
            with fake.lock:
                if fake.expire_at is not None and fake.api_used + 1 >= fake.expire_at:
                    fake.expire_at = None
                    fake.tokens.clear()
            if auth.removeprefix("Bearer ") not in fake.tokens:
                return self._send(401, [_error("INVALID_SESSION_ID", "Session expired or invalid")])
            with fake.lock:
                fake.api_used += 1
                if fake.api_limit is not None and fake.api_used > fake.api_limit:
                    return self._send(403, [_error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")])
                if fake.faults:
                    code = fake.faults[0][0]
                    fake.faults[0][1] -= 1
                    if fake.faults[0][1] <= 0:
                        fake.faults.pop(0)
                    status = 403 if code == "REQUEST_LIMIT_EXCEEDED" else 400
                    return self._send(status, [_error(code, f"injected {code}")])
            version, rest = match.groups()
            return self._send(*self._data(method, rest, parts.query, body, version))

        def _data(self, method: str, rest: str, query: str, body: bytes, version: str) -> tuple[Any, ...]:
            segments = [unquote(s) for s in rest.strip("/").split("/")]

            def json_body() -> Any:
                return json.loads(body or b"null")

            if segments[0] == "sobjects" and len(segments) == 3 and segments[2] == "describe" and method == "GET":
                obj = fake.objects.get(segments[1])
                if obj is None:
                    return 404, [_error("NOT_FOUND", "The requested resource does not exist")]
                return 200, {"name": obj.name, "custom": obj.name.endswith("__c"),
                             "fields": [f.describe(n) for n, f in obj.fields.items()]}  # fmt: skip
            if segments[:2] == ["composite", "sobjects"] and len(segments) == 4 and method == "PATCH":
                return fake.collections_upsert(segments[2], segments[3], json_body())
            if segments[0] == "sobjects" and len(segments) == 2 and method == "POST":
                obj = fake.objects.get(segments[1])
                if obj is None:
                    return 404, [_error("NOT_FOUND", "The requested resource does not exist")]
                values = json_body()
                unknown = [n for n in values if n not in obj.fields]
                if unknown:
                    return 400, [
                        _error("INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {obj.name}")
                    ]
                with fake.lock:
                    missing = [n for n, f in obj.fields.items() if f.required and not values.get(n)]
                    if missing:
                        return 400, [
                            _error("REQUIRED_FIELD_MISSING", f"Required fields are missing: {missing}", missing)
                        ]
                    record_id = fake._new_id(obj)
                    obj.put({"Id": record_id, "LastModifiedDate": time.time(), **values})
                return 201, {"id": record_id, "success": True, "errors": []}
            if segments[0] == "sobjects" and len(segments) == 3 and method == "PATCH":
                obj = fake.objects.get(segments[1])
                values = json_body()
                with fake.lock:
                    record = obj.records.get(segments[2]) if obj is not None else None
                    if obj is None or record is None:
                        return 404, [_error("NOT_FOUND", "The requested resource does not exist")]
                    unknown = [n for n in values if n not in obj.fields]
                    if unknown:
                        return 400, [
                            _error("INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {obj.name}")
                        ]
                    record.update(values)
                    record["LastModifiedDate"] = time.time()
                    obj.put(record)
                return 204, None
            if segments[0] == "sobjects" and len(segments) == 4 and method == "PATCH":
                obj = fake.objects.get(segments[1])
                if obj is None or segments[2] not in obj.fields or not obj.fields[segments[2]].external_id:
                    return 404, [_error("NOT_FOUND", "The requested resource does not exist")]
                values = json_body()
                unknown = [n for n in values if n not in obj.fields]
                if unknown:
                    return 400, [
                        _error("INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {obj.name}")
                    ]
                with fake.lock:
                    result = fake._upsert(obj, segments[2], {**values, segments[2]: segments[3]})
                if not result["success"]:
                    error = result["errors"][0]
                    return 400, [_error(error["statusCode"], error["message"], error["fields"])]
                return (201 if result["created"] else 200), result
            if segments == ["query"] and method == "GET":
                return fake.query(parse_qs(query).get("q", [""])[0])
            if segments == ["search"] and method == "GET":
                return fake.search(parse_qs(query).get("q", [""])[0])
            if segments[:2] == ["jobs", "ingest"]:
                if len(segments) == 2 and method == "POST":
                    return fake.create_job(json_body(), version)
                if len(segments) == 3 and method == "PATCH":
                    return fake.set_state(segments[2], json_body().get("state", ""))
                if len(segments) == 3 and method == "GET":
                    return fake.job_info(segments[2])
                if len(segments) == 4 and segments[3] == "batches" and method == "PUT":
                    return fake.upload(segments[2], body)
                if len(segments) == 4 and method == "GET" and segments[3] in (
                    "successfulResults", "failedResults", "unprocessedrecords"
                ):  # fmt: skip
                    status, data = fake.job_results(segments[2], segments[3])
                    return (status, data, "text/csv") if status == 200 else (status, data)
            return 404, [_error("NOT_FOUND", "The requested resource does not exist")]

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PATCH(self) -> None:
            self._route("PATCH")

        def do_PUT(self) -> None:
            self._route("PUT")

    return Handler
