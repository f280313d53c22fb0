"""A small fake of the Zendesk Support API, over real HTTP on 127.0.0.1 (a ThreadingHTTPServer),
for the Zendesk connector's tests and benchmark. It follows these reference pages:

- Authentication, https://developer.zendesk.com/api-reference/introduction/security-and-auth/ :
  `Basic base64("{email}/token:{api_token}")` or `Bearer <oauth token>`; a bad one is
  `401 {"error": "Couldn't authenticate you"}`.
- OAuth tokens for grant types, https://developer.zendesk.com/api-reference/ticketing/oauth/grant_type_tokens/ :
  `POST /oauth/tokens` with grant_type client_credentials (form or JSON), answering
  `{"access_token", "token_type": "bearer", "scope", "expires_in"}`.
- Rate limits, https://developer.zendesk.com/api-reference/introduction/rate-limits/ : `429` with
  `Retry-After` (seconds) and the `X-Rate-Limit*` headers.
- Custom objects and fields, https://developer.zendesk.com/api-reference/custom-data/custom-objects/custom_objects/
  and .../custom_object_fields/ : `GET /api/v2/custom_objects/{key}`, `GET .../{key}/fields`.
- Custom object records, https://developer.zendesk.com/api-reference/custom-data/custom-objects/custom_object_records/ :
  `POST /api/v2/custom_objects/{key}/jobs` (`{"job": {"action", "items"}}`, at most 100 items, answers
  a queued job_status), `PATCH .../records?external_id=` (one record's upsert: the naive way),
  `GET .../records?filter[external_ids]=`. A record needs a `name`; field values are checked against
  the field's type (integer, decimal, text, checkbox, date); size at most 32 KB.
- Job statuses, https://developer.zendesk.com/api-reference/ticketing/ticket-management/job_statuses/ :
  `GET /api/v2/job_statuses/{id}`, `GET /api/v2/job_statuses/show_many?ids=`; statuses queued ->
  completed, `results` per item with its `index` (`id`, `success`, `status` Created/Updated, or
  `error`/`details`). The per-item shape of a custom-object job's results follows the page's bulk
  create/update examples.
- Users, https://developer.zendesk.com/api-reference/ticketing/users/users/ : `GET /api/v2/users/me`,
  `GET /api/v2/users/search?query=` (the search syntax, here `role:` and `phone:`, a leading `*` on the
  number matching any prefix: https://developer.zendesk.com/documentation/voice/talk-partner-edition/retrieving-the-zendesk-user-id-of-a-caller/),
  `POST /api/v2/users/create_or_update` (matched by external_id or email), `GET /api/v2/users/show_many?external_ids=`
  (at most 100), `PUT /api/v2/users/update_many` (`{"users": [{"id", ...}]}`, at most 100, a job whose
  results name each user by `id` with `status` Updated, or `error`/`details` Failed).
- User fields, https://developer.zendesk.com/api-reference/ticketing/users/user_fields/ : `GET /api/v2/user_fields`;
  a user's `user_fields` values are checked against the field's type, and an unknown key is refused.
- Tickets, https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/ : `GET /api/v2/tickets?external_id=`,
  `POST /api/v2/tickets`, `PUT /api/v2/tickets/{id}` (a comment, `additional_tags`),
  `GET /api/v2/users/{id}/tickets/requested`; ticket comments,
  https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/ : `GET /api/v2/tickets/{id}/comments`.

Errors have Zendesk's shapes: `{"error": "RecordNotFound", "description": "Not found"}`,
`{"error": "RecordInvalid", "description": "Record validation errors", "details": {...}}`.

Tests inspect `records(key)`, `tickets`, `users`, `requests` and inject faults: `rate_limit(n,
retry_after)`, `fail(prefix, status, times)`, `expire_tokens()` (every OAuth token issued so far
answers 401 from now on), `polls_queued` (polls that still say `queued`). Run alone with
`python -m tests.fakes.zendesk` (prints its URL), as the benchmark does.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_JOB_ITEMS = 100
MAX_RECORD_BYTES = 32 * 1024
OPEN = ("new", "open", "pending", "hold")


class _Reply(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def _not_found() -> _Reply:
    return _Reply(404, {"error": "RecordNotFound", "description": "Not found"})


def _invalid(description: str, details: dict[str, Any] | None = None) -> _Reply:
    body: dict[str, Any] = {"error": "RecordInvalid", "description": description}
    if details:
        body["details"] = details
    return _Reply(422, body)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Fault:
    prefix: str
    status: int
    times: int | None  # None: until cleared


@dataclass
class _Seen:
    method: str
    path: str
    auth: str  # "basic", "bearer" or "none": never the credentials themselves
    status: int


@dataclass
class FakeZendesk:
    """The fake's state; `with FakeZendesk() as zd:` serves it on 127.0.0.1."""

    email: str = "agent@example.com"
    api_token: str = "zd-api-token-3e8f0c5d21"
    client_id: str = "ziwo_reports"
    client_secret: str = "zd-client-secret-9a7b64"
    polls_queued: int = 0  # polls of a job that still say "queued" before "completed"
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    fields: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    user_fields: dict[str, str] = field(default_factory=dict)  # key -> type (text, integer, decimal, ...)
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[_Seen] = field(default_factory=list)
    oauth_tokens: set[str] = field(default_factory=set)
    fixed_oauth_tokens: set[str] = field(default_factory=set)
    tokens_issued: int = 0
    _faults: list[_Fault] = field(default_factory=list)
    _limited: int = 0
    _retry_after: str = "1"

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._ids = itertools.count(1001)
        self.agent_id = self.add_user(name="Ziwo Agent", email=self.email, role="admin")

    # --- setup and inspection -------------------------------------------------------------------

    def define_object(self, key: str, fields: dict[str, str], title: str = "") -> None:
        """A custom object with fields {key: type} (text, integer, decimal, checkbox, date)."""
        with self._lock:
            self.objects[key] = {"key": key, "title": title or key, "title_pluralized": (title or key) + "s"}
            self.fields[key] = [{"key": k, "type": t, "title": k, "active": True} for k, t in fields.items()]
            self._records.setdefault(key, {})

    def records(self, key: str) -> dict[str, dict[str, Any]]:
        """The object's records by external_id (a copy)."""
        with self._lock:
            return {ext: dict(record) for ext, record in self._records.get(key, {}).items()}

    def add_user(
        self,
        *,
        name: str,
        phone: str | None = None,
        email: str | None = None,
        role: str = "end-user",
        external_id: str | None = None,
    ) -> int:
        with self._lock:
            user_id = next(self._ids)
            self.users[user_id] = {
                "id": user_id,
                "name": name,
                "email": email,
                "phone": phone,
                "role": role,
                "external_id": external_id,
                "user_fields": {key: None for key in self.user_fields},
                "created_at": _now(),
            }
            return user_id

    def add_ticket(self, requester_id: int, subject: str, status: str = "open", created_at: str | None = None) -> int:
        with self._lock:
            ticket = self._new_ticket(
                {
                    "subject": subject,
                    "requester_id": requester_id,
                    "status": status,
                    "comment": {"body": subject, "public": True},
                }
            )
            if created_at:
                ticket["created_at"] = created_at
            return ticket["id"]

    def issue_oauth_token(self) -> str:
        """A fixed OAuth access token (the oauth_token mode)."""
        token = "zd-oauth-" + secrets.token_hex(12)
        with self._lock:
            self.fixed_oauth_tokens.add(token)
        return token

    def rate_limit(self, times: int, retry_after: str = "1") -> None:
        """The next `times` API requests answer 429 with this Retry-After."""
        with self._lock:
            self._limited, self._retry_after = times, retry_after

    def fail(self, prefix: str, status: int | None, times: int | None = None) -> None:
        """Requests whose path starts with `prefix` answer `status` (None clears), `times` times or until cleared."""
        with self._lock:
            self._faults = [f for f in self._faults if f.prefix != prefix]
            if status is not None:
                self._faults.append(_Fault(prefix, status, times))

    def expire_tokens(self) -> None:
        """Every OAuth token issued so far expires (answers 401 from now on)."""
        with self._lock:
            self.oauth_tokens.clear()
            self.fixed_oauth_tokens.clear()

    def seen(self, method: str | None = None, prefix: str = "") -> list[_Seen]:
        with self._lock:
            return [s for s in self.requests if (method is None or s.method == method) and s.path.startswith(prefix)]

    # --- serving --------------------------------------------------------------------------------

    def __enter__(self) -> FakeZendesk:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body in two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                fake._serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.request_queue_size = 128
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        parts = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        auth_header = handler.headers.get("Authorization") or ""
        kind = auth_header.split(" ", 1)[0].lower() if auth_header else "none"
        headers = {"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "699"}
        try:
            status, body = self._route(
                handler.command, parts.path, query, raw, auth_header, handler.headers.get("Content-Type") or ""
            )
        except _Reply as reply:
            status, body = reply.status, reply.body
            headers.update(reply.headers)
        with self._lock:
            self.requests.append(_Seen(handler.command, parts.path, kind, status))
        data = json.dumps(body).encode()
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _route(
        self, method: str, path: str, query: dict[str, str], raw: bytes, auth: str, ctype: str
    ) -> tuple[int, Any]:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.prefix):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    raise _Reply(
                        fault.status,
                        {"error": "ServiceUnavailable", "description": "Injected fault"},
                        {"Retry-After": "0"},
                    )
            if path == "/oauth/tokens" and method == "POST":
                return 200, self._token(raw, ctype)
            if self._limited > 0:
                self._limited -= 1
                raise _Reply(
                    429,
                    {
                        "error": "APIRateLimitExceeded",
                        "description": "Number of allowed API requests per minute exceeded",
                    },
                    {"Retry-After": self._retry_after, "X-Rate-Limit-Remaining": "0"},
                )
        self._authenticate(auth)
        body = json.loads(raw) if raw else {}
        segments = [s for s in path.removesuffix(".json").split("/") if s][2:]  # after api/v2
        if not path.startswith("/api/v2/"):
            raise _not_found()
        with self._lock:
            return self._api(method, segments, query, body)

    def _authenticate(self, header: str) -> None:
        refused = _Reply(401, {"error": "Couldn't authenticate you"})
        scheme, _, value = header.partition(" ")
        with self._lock:
            if scheme.lower() == "basic":
                try:
                    user, _, token = base64.b64decode(value).decode().partition(":")
                except ValueError:
                    raise refused from None
                if user == f"{self.email}/token" and token == self.api_token:
                    return
            elif scheme.lower() == "bearer" and (value in self.oauth_tokens or value in self.fixed_oauth_tokens):
                return
        raise refused

    def _token(self, raw: bytes, ctype: str) -> dict[str, Any]:
        form = json.loads(raw) if "json" in ctype else {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            raise _Reply(400, {"error": "unsupported_grant_type", "error_description": "Unsupported grant type"})
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            raise _Reply(401, {"error": "invalid_client", "error_description": "Client authentication failed"})
        token = "zd-access-" + secrets.token_hex(12)
        self.oauth_tokens.add(token)
        self.tokens_issued += 1
        return {"access_token": token, "token_type": "bearer", "scope": form.get("scope", "read"), "expires_in": 3600}

    # --- the API --------------------------------------------------------------------------------

    def _api(self, method: str, s: list[str], query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        route = (method, *s)
        if route == ("GET", "users", "me"):
            return 200, {"user": self.users[self.agent_id]}
        if route == ("GET", "users", "search"):
            return 200, {"users": self._search_users(query.get("query", "")), "next_page": None}
        if route == ("POST", "users", "create_or_update"):
            return self._create_or_update_user(body.get("user") or {})
        if route == ("GET", "users", "show_many"):
            wanted = [e for e in query.get("external_ids", "").split(",") if e]
            if len(wanted) > MAX_JOB_ITEMS:
                raise _invalid(f"at most {MAX_JOB_ITEMS} external_ids")
            return 200, {"users": [u for u in self.users.values() if u.get("external_id") in wanted]}
        if route == ("PUT", "users", "update_many"):
            return 200, {"job_status": self._users_job(body.get("users"))}
        if route == ("GET", "user_fields"):
            fields = [{"key": k, "type": t, "title": k, "active": True} for k, t in self.user_fields.items()]
            return 200, {"user_fields": fields, "next_page": None, "count": len(fields)}
        if method == "GET" and len(s) == 4 and s[0] == "users" and s[2:] == ["tickets", "requested"]:
            tickets = [t for t in self.tickets.values() if t["requester_id"] == int(s[1])]
            return 200, {"tickets": [self._shown(t) for t in tickets], "next_page": None, "count": len(tickets)}
        if route == ("GET", "tickets"):
            wanted = query.get("external_id")
            tickets = [t for t in self.tickets.values() if wanted is None or t["external_id"] == wanted]
            return 200, {"tickets": [self._shown(t) for t in tickets], "next_page": None, "count": len(tickets)}
        if route == ("POST", "tickets"):
            ticket = body.get("ticket") or {}
            if not ticket.get("comment", {}).get("body"):
                raise _invalid(
                    "Record validation errors", {"description": [{"description": "Description: cannot be blank"}]}
                )
            if ticket.get("requester_id") not in self.users:
                raise _invalid("Record validation errors", {"requester": [{"description": "Requester: is invalid"}]})
            return 201, {"ticket": self._shown(self._new_ticket(ticket))}
        if method in ("GET", "PUT") and len(s) >= 2 and s[0] == "tickets":
            ticket = self.tickets.get(int(s[1])) if s[1].isdigit() else None
            if ticket is None:
                raise _not_found()
            if method == "GET" and s[2:] == ["comments"]:
                return 200, {"comments": ticket["comments"], "next_page": None}
            if method == "PUT" and len(s) == 2:
                return 200, {"ticket": self._shown(self._update_ticket(ticket, body.get("ticket") or {}))}
        if s[:1] == ["custom_objects"] and len(s) >= 2:
            return self._custom_objects(method, s[1], s[2:], query, body)
        if route == ("GET", "job_statuses", "show_many"):
            ids = [i for i in query.get("ids", "").split(",") if i]
            return 200, {"job_statuses": [self._poll(i) for i in ids if i in self.jobs]}
        if method == "GET" and len(s) == 2 and s[0] == "job_statuses":
            if s[1] not in self.jobs:
                raise _not_found()
            return 200, {"job_status": self._poll(s[1])}
        raise _not_found()

    def _search_users(self, text: str) -> list[dict[str, Any]]:
        terms = dict(term.split(":", 1) for term in text.split() if ":" in term)
        role, phone = terms.get("role"), terms.get("phone")
        found = []
        for user in self.users.values():
            if role and user["role"] != role:
                continue
            if phone is not None:
                digits = "".join(c for c in user.get("phone") or "" if c.isdigit())
                wanted = phone.lstrip("*")
                if not digits or not (digits.endswith(wanted) if phone.startswith("*") else digits == wanted):
                    continue
            found.append(user)
        return found

    def _create_or_update_user(self, user: dict[str, Any]) -> tuple[int, Any]:
        if not user.get("name"):
            raise _invalid("Record validation errors", {"name": [{"description": "Name: is too short"}]})
        for existing in self.users.values():
            same_ext = user.get("external_id") and existing.get("external_id") == user["external_id"]
            same_mail = user.get("email") and existing.get("email") == user["email"]
            if same_ext or same_mail:
                existing.update({k: v for k, v in user.items() if k != "id"})
                return 200, {"user": existing}
        user_id = self.add_user(
            name=user["name"],
            phone=user.get("phone"),
            email=user.get("email"),
            role=user.get("role", "end-user"),
            external_id=user.get("external_id"),
        )
        return 201, {"user": self.users[user_id]}

    def _new_ticket(self, ticket: dict[str, Any]) -> dict[str, Any]:
        ticket_id = next(self._ids)
        comment = ticket.get("comment") or {}
        stored = {
            "id": ticket_id,
            "subject": ticket.get("subject") or "",
            "status": ticket.get("status", "new"),
            "requester_id": ticket.get("requester_id"),
            "external_id": ticket.get("external_id"),
            "priority": ticket.get("priority"),
            "type": ticket.get("type"),
            "tags": sorted(set(ticket.get("tags") or [])),
            "created_at": _now(),
            "updated_at": _now(),
            "comments": [
                {
                    "id": next(self._ids),
                    "body": comment.get("body", ""),
                    "public": comment.get("public", True),
                    "author_id": self.agent_id,
                }
            ],
        }
        self.tickets[ticket_id] = stored
        return stored

    def _update_ticket(self, ticket: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
        comment = update.get("comment")
        if comment:
            ticket["comments"].append(
                {
                    "id": next(self._ids),
                    "body": comment.get("body", ""),
                    "public": comment.get("public", True),
                    "author_id": self.agent_id,
                }
            )
        ticket["tags"] = sorted(set(ticket["tags"]) | set(update.get("additional_tags") or []))
        for name in ("status", "subject", "priority"):
            if name in update:
                ticket[name] = update[name]
        ticket["updated_at"] = _now()
        return ticket

    @staticmethod
    def _shown(ticket: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in ticket.items() if k != "comments"}

    # --- custom objects -------------------------------------------------------------------------

    def _custom_objects(
        self, method: str, key: str, rest: list[str], query: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, Any]:
        if key not in self.objects:
            raise _not_found()
        if method == "GET" and not rest:
            return 200, {"custom_object": self.objects[key]}
        if method == "GET" and rest == ["fields"]:
            return 200, {"custom_object_fields": self.fields[key]}
        if method == "POST" and rest == ["jobs"]:
            return 200, {"job_status": self._job(key, body.get("job") or {})}
        if rest == ["records"] and method == "PATCH":
            external_id = query.get("external_id")
            if not external_id:
                raise _Reply(400, {"errors": [{"code": "InvalidParameter", "title": "external_id is required"}]})
            record = {**(body.get("custom_object_record") or {}), "external_id": external_id}
            result = self._upsert(key, record)
            if "error" in result:
                raise _invalid(result["error"], {"record": [{"description": result["details"]}]})
            return (201 if result["status"] == "Created" else 200), {
                "custom_object_record": self._records[key][external_id]
            }
        if rest == ["records"] and method == "GET":
            wanted = set(query.get("filter[external_ids]", "").split(",")) - {""}
            records = [r for ext, r in self._records[key].items() if not wanted or ext in wanted]
            return 200, {"custom_object_records": records, "meta": {"has_more": False}}
        raise _not_found()

    def _job(self, key: str, job: dict[str, Any]) -> dict[str, Any]:
        items = job.get("items")
        if job.get("action") != "create_or_update_by_external_id":
            raise _Reply(
                400,
                {
                    "errors": [
                        {
                            "code": "InvalidAction",
                            "title": "Invalid action",
                            "detail": f"action {job.get('action')!r} is not supported here",
                        }
                    ]
                },
            )
        if not isinstance(items, list) or not items:
            raise _Reply(400, {"errors": [{"code": "InvalidItems", "title": "items must be a non-empty array"}]})
        if len(items) > MAX_JOB_ITEMS:
            raise _Reply(
                400,
                {
                    "errors": [
                        {
                            "code": "TooManyItems",
                            "title": "Too many items",
                            "detail": f"a job takes at most {MAX_JOB_ITEMS} items, got {len(items)}",
                        }
                    ]
                },
            )
        results = [{"index": i, **self._upsert(key, item)} for i, item in enumerate(items)]
        return self._queued_job("bulk_import_custom_object_records", results)

    def _queued_job(self, job_type: str, results: list[dict[str, Any]]) -> dict[str, Any]:
        """A job whose work is done at once, though it says so only once polled (queued first, as
        Zendesk's do): the queued job_status."""
        job_id = secrets.token_hex(16)
        self.jobs[job_id] = {
            "id": job_id,
            "job_type": job_type,
            "total": len(results),
            "progress": len(results),
            "status": "completed",
            "message": f"Completed at {_now()}",
            "results": results,
            "_polls": 0,
            "url": f"/api/v2/job_statuses/{job_id}.json",
        }
        return {
            "id": job_id,
            "url": f"/api/v2/job_statuses/{job_id}.json",
            "total": len(results),
            "progress": 0,
            "status": "queued",
            "message": None,
            "results": None,
        }

    def _users_job(self, users: Any) -> dict[str, Any]:
        if not isinstance(users, list) or not users or len(users) > MAX_JOB_ITEMS:
            raise _invalid(f"users: 1 to {MAX_JOB_ITEMS} users")
        results = []
        for user in users:
            found = self.users.get(user.get("id")) if isinstance(user, dict) else None
            values = (user or {}).get("user_fields") or {}
            problem = next(
                (f"{k}: {p}" for k, v in values.items() if (p := _type_problem(self.user_fields.get(k), v))), None
            )
            if found is None:
                results.append({"id": (user or {}).get("id"), "error": "UserNotFound", "status": "Failed"})
            elif problem:
                results.append({"id": found["id"], "error": "UserUpdateError", "details": problem, "status": "Failed"})
            else:
                found["user_fields"] = {**(found.get("user_fields") or {}), **values}
                results.append({"id": found["id"], "action": "update", "status": "Updated", "success": True})
        return self._queued_job("bulk_update_users", results)

    def _poll(self, job_id: str) -> dict[str, Any]:
        job = self.jobs[job_id]
        job["_polls"] += 1
        if job["_polls"] <= self.polls_queued:
            return {
                **{k: v for k, v in job.items() if not k.startswith("_")},
                "status": "queued",
                "progress": 0,
                "results": None,
            }
        return {k: v for k, v in job.items() if not k.startswith("_")}

    def _upsert(self, key: str, item: dict[str, Any]) -> dict[str, Any]:
        external_id = item.get("external_id")
        if not external_id:
            return {"success": False, "error": "RecordInvalid", "details": "external_id is required"}
        if not str(item.get("name") or "").strip():
            return {
                "external_id": external_id,
                "success": False,
                "error": "RecordInvalid",
                "details": "Name cannot be blank",
            }
        if len(json.dumps(item)) > MAX_RECORD_BYTES:
            return {
                "external_id": external_id,
                "success": False,
                "error": "RecordInvalid",
                "details": f"Record exceeds {MAX_RECORD_BYTES} bytes",
            }
        types = {f["key"]: f["type"] for f in self.fields[key]}
        values = item.get("custom_object_fields") or {}
        for name, value in values.items():
            problem = _type_problem(types.get(name), value)
            if problem:
                return {
                    "external_id": external_id,
                    "success": False,
                    "error": "RecordInvalid",
                    "details": f"{name}: {problem}",
                }
        records = self._records[key]
        existing = records.get(external_id)
        if existing is None:
            records[external_id] = {
                "id": f"01{secrets.token_hex(12).upper()}",
                "external_id": external_id,
                "name": item["name"],
                "custom_object_key": key,
                "custom_object_fields": dict(values),
                "created_at": _now(),
                "updated_at": _now(),
            }
            return {"id": records[external_id]["id"], "external_id": external_id, "success": True, "status": "Created"}
        existing["name"] = item["name"]
        existing["custom_object_fields"] = {**existing["custom_object_fields"], **values}
        existing["updated_at"] = _now()
        return {"id": existing["id"], "external_id": external_id, "success": True, "status": "Updated"}


def _type_problem(kind: str | None, value: Any) -> str | None:
    if kind is None:
        return "is not a field of this object"
    if value is None:
        return None
    if kind == "integer" and not (isinstance(value, int) and not isinstance(value, bool)):
        return f"{value!r} is not an integer"
    if kind == "decimal" and (isinstance(value, bool) or not isinstance(value, int | float)):
        return f"{value!r} is not a number"
    if kind == "checkbox" and not isinstance(value, bool):
        return f"{value!r} is not true or false"
    if kind in ("text", "textarea", "date") and not isinstance(value, str | int | float):
        return f"{value!r} is not text"
    return None


def main() -> None:
    """The fake in a process of its own (the benchmark's): argv[1] is `{"objects": {key: {field: type}}}`;
    it prints its URL, then answers `stats <key>` lines on stdin with `<requests> <records>`, until stdin closes."""
    spec = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    fake = FakeZendesk()
    for key, fields in spec.get("objects", {}).items():
        fake.define_object(key, fields)
    with fake:
        fake._server.socket.listen(256)  # many connections at once: a small backlog would drop SYNs
        print(fake.url, flush=True)
        for line in sys.stdin:
            command, _, key = line.strip().partition(" ")
            if command == "stats":
                with fake._lock:
                    count, held = len(fake.requests), len(fake._records.get(key, {}))
                print(count, held, flush=True)


if __name__ == "__main__":
    main()
