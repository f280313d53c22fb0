"""The Ziwo REST API over real HTTP, served from the simulated call center.

`Simulator(config).start()` serves on a free loopback port in a background thread (tests);
`serve_forever()` runs it in the foreground (the `simulator` command).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ziwo_reports.connectors.ziwo.assumptions import ORDER_ASCENDING, ORDER_DESCENDING, TEAM_ID_FIELD, TEAM_NAME_FIELD
from ziwo_reports.connectors.ziwo.simulator.calls import iso
from ziwo_reports.connectors.ziwo.simulator.faults import FaultPlan
from ziwo_reports.connectors.ziwo.simulator.store import CallStore, Truth
from ziwo_reports.connectors.ziwo.simulator.world import QUEUES, TEAMS, Agent, SimConfig, World, build_world

log = logging.getLogger(__name__)

#: The hostile mode expires a token only after it has served this many requests: tokens expire
#: mid-run, not the moment they are issued.
TOKEN_USES_BEFORE_EXPIRY = 3


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False  # drop the connection instead of answering


def _json(status: int, payload: Any) -> Response:
    return Response(status, json.dumps(payload, separators=(",", ":")).encode())


def _ok(content: Any, info: dict | None = None) -> Response:
    return _json(200, {"result": True, "content": content, "info": info or {}})


def _error(status: int, message: str) -> Response:
    return _json(status, {"result": False, "error": {"message": message}})


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _int_param(query: dict[str, list[str]], name: str, default: int, minimum: int) -> int:
    raw = _one(query, name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ApiError(400, f"{name} must be at least {minimum}, got {value}")
    return value


def _date_param(query: dict[str, list[str]], name: str) -> date | None:
    raw = _one(query, name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be a date as YYYY-MM-DD, got {raw!r}") from None


def hashed_password(username: str, password: str) -> str:
    """The legacy login form: base64(HMAC-SHA256(key=password, msg=username+password)) [VERTO]."""
    digest = hmac.new(password.encode(), (username + password).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class Simulator:
    """A simulated Ziwo instance: data, auth, faults and the HTTP server around them."""

    def __init__(self, config: SimConfig | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or SimConfig()
        self.world: World = build_world(self.config)
        self.store = CallStore(self.world, cache_days=self.config.cache_days)
        self.faults = FaultPlan(self.config)
        self.host, self.port = host, port
        self._tokens: dict[str, list[float]] = {}  # token -> [expiry on the monotonic clock, uses]
        self.issued_tokens: list[str] = []
        self._tokens_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests = 0

    # --- lifecycle --------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _bind(self) -> ThreadingHTTPServer:
        server = _HttpServer((self.host, self.port), _Handler)
        server.simulator = self
        self.port = server.server_address[1]
        self._server = server
        return server

    def start(self) -> Simulator:
        """Serve in a background thread (port 0 picks a free port)."""
        server = self._bind()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="ziwo-simulator", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        server = self._bind()
        try:
            server.serve_forever()
        finally:
            server.server_close()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> Simulator:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- ground truth and control -----------------------------------------------------------

    def truth(self, first: date | None = None, last: date | None = None) -> Truth:
        """What the API serves for these dates now, including calls added while it ran."""
        return self.store.truth(first, last)

    @property
    def last_day(self) -> date:
        return self.store.world.last_day

    @property
    def first_day(self) -> date:
        return self.store.world.first_day

    def expire_tokens(self) -> None:
        with self._tokens_lock:
            self._tokens.clear()

    # --- request handling -------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Any, body: bytes) -> Response:
        self.requests += 1
        url = urlsplit(target)
        path = url.path.rstrip("/") or "/"
        query = parse_qs(url.query, keep_blank_values=True)
        try:
            if path.startswith("/_simulator/"):
                return self._control(path, query)
            route = self._route(method, path)
            call_page = path == "/callHistory"
            paging = call_page and _int_param(query, "skip", 0, 0) > 0
            token = headers.get("access_token") or _one(query, "access_token")
            fault = self.faults.draw(
                call_page=call_page,
                paging=paging,
                can_expire_token=self._token_uses(token) >= TOKEN_USES_BEFORE_EXPIRY,
            )
            if fault in ("429", "500", "502", "503"):
                return self._http_fault(fault)
            if fault == "reset":
                return Response(0, b"", reset=True)
            if fault == "slow":
                time.sleep(self.config.slow_seconds)
            if route != self._login:
                self._authenticate(token, expire=fault == "expire_token")
            response = route(query, body, headers, fault)
        except ApiError as problem:
            return _error(problem.status, problem.message)
        if fault == "truncate":
            response.body = response.body[: max(1, len(response.body) // 2)]
        return response

    def _http_fault(self, fault: str) -> Response:
        if fault == "429":
            response = _error(429, "Too many requests")
            response.headers["Retry-After"] = str(self.config.retry_after)
            return response
        status = int(fault)
        return _error(status, {500: "Internal server error", 502: "Bad gateway", 503: "Service unavailable"}[status])

    def _route(self, method: str, path: str) -> Any:
        routes = {
            ("POST", "/auth/login"): self._login,
            ("POST", "/auth/logout"): self._logout,
            ("GET", "/profile"): self._profile,
            ("GET", "/callHistory"): self._call_history,
            ("GET", "/callHistory/listAgents"): self._list_agents,
            ("GET", "/admin/agents"): self._admin_agents,
            ("GET", "/admin/agents/count"): self._admin_agents_count,
            ("GET", "/admin/queues"): self._admin_queues,
            ("GET", "/admin/queues/count"): self._admin_queues_count,
            ("GET", "/admin/numbers"): self._admin_numbers,
        }
        route = routes.get((method, path))
        if route is None:
            if any(p == path for _, p in routes):
                raise ApiError(405, f"{method} is not allowed on {path}")
            raise ApiError(404, f"Cannot {method} {path}")
        return route

    def _token_uses(self, token: str | None) -> float:
        with self._tokens_lock:
            entry = self._tokens.get(token or "")
            return entry[1] if entry else 0

    def _authenticate(self, token: str | None, *, expire: bool) -> None:
        if not token:
            raise ApiError(403, "Unauthorized: access_token missing")
        with self._tokens_lock:
            entry = self._tokens.get(token)
            if entry is None or expire or entry[0] < time.monotonic():
                self._tokens.pop(token, None)
                raise ApiError(403, "Your token has expired. Please try to relog")
            entry[1] += 1

    # --- endpoints --------------------------------------------------------------------------

    def _login(self, query: dict, body: bytes, headers: Any, fault: str | None) -> Response:
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip()
        try:
            if content_type == "application/json":
                form = json.loads(body or b"{}")
            else:
                form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "Body is not valid JSON or form data") from None
        if not isinstance(form, dict):
            raise ApiError(400, "Body must be an object")
        username, password = str(form.get("username") or ""), str(form.get("password") or "")
        cfg = self.config
        valid_password = hmac.compare_digest(password, cfg.password) or hmac.compare_digest(
            password, hashed_password(cfg.username, cfg.password)
        )
        if username.lower() != cfg.username.lower() or not valid_password:
            raise ApiError(401, "Invalid username or password")
        token = str(uuid.uuid4())
        with self._tokens_lock:
            self._tokens[token] = [time.monotonic() + cfg.token_ttl, 0]
            self.issued_tokens.append(token)
        return _ok({**self._user(), "access_token": token})

    def _logout(self, query: dict, body: bytes, headers: Any, fault: str | None) -> Response:
        with self._tokens_lock:
            self._tokens.pop(headers.get("access_token") or "", None)
        return _ok({})

    def _user(self) -> dict[str, Any]:
        return {
            "id": 1,
            "firstName": "Simulated",
            "lastName": "Supervisor",
            "username": self.config.username,
            "type": "admin",
            "status": "active",
            "roleId": 1,
            "profileType": "admin",
            "languageCode": "en",
            "countryCode": "AE",
        }

    def _profile(self, query: dict, body: bytes, headers: Any, fault: str | None) -> Response:
        return _ok(self._user())

    def _call_history(self, query: dict, body: bytes, headers: Any, fault: str | None) -> Response:
        skip = _int_param(query, "skip", 0, 0)
        limit = min(_int_param(query, "limit", 25, 1), self.config.max_page_size)
        first, last = _date_param(query, "fromDate"), _date_param(query, "toDate")
        if first and last and last < first:
            raise ApiError(400, f"toDate {last} is before fromDate {first}")
        order = _one(query, "order") or ORDER_DESCENDING
        if order not in (ORDER_ASCENDING, ORDER_DESCENDING):
            raise ApiError(400, f"order {order!r} is not supported (use startedAt or ~startedAt)")
        descending = order == ORDER_DESCENDING
        with_tags = "tags" in query.get("dataset", [])
        days = self.store.window_days(first, last)
        call_id = _one(query, "callID")
        number = "".join(ch for ch in _one(query, "contactNumber") or "" if ch.isdigit())
        agents_param = _one(query, "agents")
        if call_id:
            leg = self.store.find(call_id)
            legs = [leg] if leg else []
            total = len(legs)
            legs = legs[skip : skip + limit]
        elif number or agents_param:
            try:
                agents = {int(a) for a in agents_param.split(",") if a.strip()} if agents_param else None
            except ValueError:
                raise ApiError(400, f"agents must be comma-separated ids, got {agents_param!r}") from None
            matches = [
                leg
                for leg in self.store.scan(days, descending=descending)
                if (agents is None or leg.agent_id in agents)
                and (not number or number in "".join(ch for ch in leg.number if ch.isdigit()))
            ]
            total = len(matches)
            legs = matches[skip : skip + limit]
        else:
            if fault in ("insert", "late"):
                # A late call lands beside a record before the client's offset (pushing what it
                # has read down a place), or after it; either way the total grows while it pages.
                rng = self.faults.rng_for_data()
                served = sum(self.store.count(d) for d in days)
                at = rng.randrange(skip) if fault == "insert" else rng.randrange(skip, max(served, skip + 1))
                neighbour = self.store.page(days, descending=descending, skip=at, limit=1)
                if neighbour:
                    self.store.add_call_beside(neighbour[0], rng)
            total = sum(self.store.count(d) for d in days)
            if fault == "duplicate":
                # Unstable sort order: the last record of the previous page comes again and the
                # record that belongs here is not served in this pass.
                around = self.store.page(days, descending=descending, skip=skip - 1, limit=limit + 1)
                legs = around[:1] + around[2:]
            else:
                legs = self.store.page(days, descending=descending, skip=skip, limit=limit)
            if legs and self.faults.oversize():
                # A join on tags: one record of the page comes twice, one page over the limit.
                twice = self.faults.rng_for_data().randrange(len(legs))
                legs = legs[: twice + 1] + legs[twice:]
        info = b'{"totalRecords":%d}' % total if self.config.totals else b"{}"
        body_bytes = (
            b'{"result":true,"content":[' + b",".join(leg.json(with_tags) for leg in legs) + b'],"info":' + info + b"}"
        )
        return Response(200, body_bytes)

    def _agent_json(self, agent: Agent) -> dict[str, Any]:
        team = next(t for t in TEAMS if t.id == agent.team_id)
        return {
            "id": agent.id,
            "firstName": agent.first_name,
            "lastName": agent.last_name,
            "username": agent.username,
            "ccLogin": agent.cc_login,
            "type": "agent",
            "status": "deleted" if agent.deleted_at else "active",
            "roleId": 3,
            "profileType": "agent",
            "wrapUpTime": agent.wrap_up,
            "noAnswerTimeout": 20,
            "noAnswerDelayTime": 0,
            "autoAnswer": False,
            "contactNumber": None,
            TEAM_ID_FIELD: team.id,
            TEAM_NAME_FIELD: team.name,
            "createdAt": iso(int(agent.created_at.timestamp())),
            "updatedAt": iso(int(agent.created_at.timestamp())),
            "deletedAt": iso(int(agent.deleted_at.timestamp())) if agent.deleted_at else None,
        }

    def _agents_matching(self, query: dict) -> list[dict[str, Any]]:
        search = (_one(query, "search") or "").lower()
        agents = [self._agent_json(a) for a in self.world.agents]
        if search:
            agents = [a for a in agents if search in f"{a['firstName']} {a['lastName']} {a['username']}".lower()]
        return agents

    def _paged(self, items: list, query: dict) -> Response:
        skip = _int_param(query, "skip", 0, 0)
        limit = _int_param(query, "limit", 50, 1)
        if self.config.faults == "hostile":  # as /callHistory/listAgents: the whole list, whatever skip says
            return _ok(items)
        return _ok(items[skip : skip + limit])

    def _admin_agents(self, query: dict, body: bytes, headers: Any, fault: str | None) -> Response:
        return self._paged(self._agents_matching(query), query)

    def _admin_agents_count(self, query: dict, body: bytes, headers: Any, fault: str | None) -> Response:
        return _ok(len(self._agents_matching(query)))

    def _list_agents(self, query: dict, body: bytes, headers: Any, fault: str | None) -> Response:
        deleted = (_one(query, "deleted") or "false").lower() == "true"
        keys = ("id", "firstName", "lastName", "username", "ccLogin", "status", "deletedAt")
        return _ok([{k: a[k] for k in keys} for a in self._agents_matching({}) if deleted or a["deletedAt"] is None])

    def _queues(self) -> list[dict[str, Any]]:
        created = iso(int(self.world.agents[0].created_at.timestamp()))
        return [
            {
                "id": q.id,
                "name": q.name,
                "strategyType": "longest-idle-agent",
                "priority": 1,
                "status": "active",
                "language": "ar" if "Arabic" in q.name else "en",
                "surveyRequired": q.survey,
                "maxWaitTime": 600,
                "callerIDNumber": q.did,
                "agents": [a.id for a in self.world.agents if a.team_id in q.team_ids],
                "createdAt": created,
                "updatedAt": created,
                "deletedAt": None,
            }
            for q in QUEUES
        ]

    def _admin_queues(self, query: dict, body: bytes, headers: Any, fault: str | None) -> Response:
        return self._paged(self._queues(), query)

    def _admin_queues_count(self, query: dict, body: bytes, headers: Any, fault: str | None) -> Response:
        return _ok(len(QUEUES))

    def _admin_numbers(self, query: dict, body: bytes, headers: Any, fault: str | None) -> Response:
        created = iso(int(self.world.agents[0].created_at.timestamp()))
        numbers = [
            {
                "id": 500 + i,
                "did": q.did,
                "didCalled": q.did,
                "didDisplay": q.did,
                "linkType": "queue",
                "linkData": q.name,
                "status": "active",
                "createdAt": created,
                "updatedAt": created,
                "deletedAt": None,
            }
            for i, q in enumerate(QUEUES, start=1)
        ]
        return self._paged(numbers, query)

    def _control(self, path: str, query: dict) -> Response:
        """Simulator-only endpoints, for benchmarks that run the simulator in another process."""
        if path == "/_simulator/truth":
            truth = self.truth(_date_param(query, "fromDate"), _date_param(query, "toDate"))
            return _ok({"calls": len(truth.calls), "bad": len(truth.bad), "badByReason": truth.by_reason()})
        if path == "/_simulator/info":
            return _ok(
                {
                    "firstDay": self.first_day.isoformat(),
                    "lastDay": self.last_day.isoformat(),
                    "timezone": self.config.timezone,
                    "now": self.store.world.now.isoformat(),
                    "faults": self.config.faults,
                    "faultCounts": self.faults.counts,
                    "requests": self.requests,
                }
            )
        raise ApiError(404, f"Cannot GET {path}")


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    simulator: Simulator


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: _HttpServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        response = self.server.simulator.handle(self.command, self.path, self.headers, body)
        if response.reset:
            # SO_LINGER 0: closing sends a TCP reset, as a dying proxy would.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve
