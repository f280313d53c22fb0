"""The HTTP API connector (type `http_api`) against real loopback receivers (tests/receivers.py), a
real loopback OAuth2 token endpoint and a real DuckDB ledger loaded with the golden day."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import logging
import threading
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import golden
from tests.conftest import Exchange, http_receiver
from tests.receivers import Receiver
from ziwo_reports.connectors.delivery import DeliveryConfigError, delivery_for, parse_target
from ziwo_reports.connectors.http_api.block import HttpApiCredentials
from ziwo_reports.connectors.http_api.delivery import idempotency_key, lookup
from ziwo_reports.connectors.http_api.mapping import (
    FieldSpec,
    MappingError,
    compile_mapping,
    parse_mapping,
    parse_template,
)
from ziwo_reports.connectors.http_delivery import PRIVATE_HINT
from ziwo_reports.deliveries import deliver_report, list_deliveries, replay
from ziwo_reports.report import compute_report
from ziwo_reports.report_model import row_keys
from ziwo_reports.warehouse import open_warehouse

COLUMNS = ["instance", "group_id", "group_name", "period_start", "calls_answered", "tags", "started_at", "score"]


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setenv("ZIWO_REPORTS_HTTP_BACKOFF_BASE", "0.01")
    monkeypatch.setenv("ZIWO_REPORTS_HTTP_BACKOFF_MAX", "0.02")
    monkeypatch.setenv("ZIWO_REPORTS_HTTP_ATTEMPTS", "3")


@pytest.fixture
def warehouse(tmp_path):
    with open_warehouse(tmp_path / "w.duckdb") as warehouse:
        golden.load(warehouse)
        yield warehouse


def ledger(warehouse):
    return lambda: contextlib.nullcontext(warehouse)


def target(receiver: Receiver, path: str, **options):
    return {"type": "http_api", "name": "api", "url": receiver.url(path), "allow_private_urls": True, **options}


def deliver(warehouse, report, options, run_id="run-1"):
    return deliver_report(report, options, ledger(warehouse), run_id=run_id, source="test")


def compiled(mapping, columns=COLUMNS, zone=UTC):
    return compile_mapping(
        parse_mapping(mapping), columns, report="agent-performance", zone=zone, list_columns=["tags"]
    )


# --- the mapping, pure ---------------------------------------------------------------------


ROW = {
    "instance": "gold",
    "group_id": 7,
    "group_name": "Amal A",
    "period_start": "2026-11-10T10:00:00+04:00",
    "calls_answered": 12,
    "tags": ["vip", None, "callback"],
    "started_at": datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
    "score": None,
}
META = {"report": "agent-performance", "key": "gold:agent-performance:...", "row_key": "gold:r1", "timezone": "UTC"}


def test_an_empty_mapping_sends_the_row_as_it_is():
    assert compiled({}).body(ROW, META) == ROW


def test_rename_nest_const_meta_template_cast_join_default():
    body = compiled(
        {
            "agent.id": "group_id",
            "agent.name": {"column": "group_name"},
            "agent.label": {"template": "{group_name}: {calls_answered} calls ({report}, {row_key})"},
            "source": {"const": "ziwo"},
            "flags": {"const": [1, "a", None]},
            "nothing": {"const": None},
            "row": {"meta": "row_key"},
            "answered": {"column": "calls_answered", "cast": "string"},
            "id_text": {"column": "group_id", "cast": "number"},
            "has_calls": {"column": "calls_answered", "cast": "boolean"},
            "labels": {"column": "tags", "join": "|"},
            "score": {"column": "score", "default": 0},
            "score_cast": {"column": "score", "cast": "integer", "default": -1},
            "pct": {"template": "{calls_answered:05.1f}%"},
        }
    ).body(ROW, META)
    assert body == {
        "agent": {"id": 7, "name": "Amal A", "label": "Amal A: 12 calls (agent-performance, gold:r1)"},
        "source": "ziwo",
        "flags": [1, "a", None],
        "nothing": None,
        "row": "gold:r1",
        "answered": "12",
        "id_text": 7.0,
        "has_calls": True,
        "labels": "vip|callback",
        "score": 0,
        "score_cast": -1,
        "pct": "012.0%",
    }


def test_times_are_formatted_in_the_zone_asked_across_a_dst_change():
    mapping = compiled(
        {
            "utc": {"column": "started_at", "format_time": "%Y-%m-%d %H:%M %Z"},
            "paris": {"column": "started_at", "format_time": "%Y-%m-%d %H:%M", "timezone": "Europe/Paris"},
            "ny": {"column": "started_at", "format_time": "%Y-%m-%d %H:%M", "timezone": "America/New_York"},
            "local_text": {"column": "period_start", "format_time": "%H:%M", "timezone": "UTC"},
            "in_report_zone": {"column": "started_at", "format_time": "%H:%M"},
        },
        zone=__import__("zoneinfo").ZoneInfo("Asia/Dubai"),
    )
    body = mapping.body(ROW, META)
    # 2026-03-29 01:30 UTC: Paris has just switched to summer time (+02:00), New York is on -04:00
    assert body == {
        "utc": "2026-03-29 05:30 +04",
        "paris": "2026-03-29 03:30",
        "ny": "2026-03-28 21:30",
        "local_text": "06:00",
        "in_report_zone": "05:30",
    }
    before = mapping.body({**ROW, "started_at": datetime(2026, 3, 29, 0, 30, tzinfo=UTC)}, META)
    assert before["paris"] == "2026-03-29 01:30", "an hour earlier, Paris was still on +01:00"
    naive = mapping.body({**ROW, "started_at": "2026-03-29T00:30:00"}, META)  # text without offset: UTC
    assert naive["paris"] == "2026-03-29 01:30"
    assert mapping.body({**ROW, "started_at": None}, META)["paris"] is None  # null stays null
    with pytest.raises(MappingError, match=r"^mapping.local_text: 'soon' is not a time to format"):
        mapping.body({**ROW, "period_start": "soon"}, META)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (
            {"agent.id": "grp"},
            "mapping.agent.id: column 'grp' is not a column of agent-performance (columns: instance, ",
        ),
        ({"a": {"template": "{nope} x"}}, "mapping.a: template placeholder {nope} is neither a report field"),
        ({"a": {"column": "group_id", "join": ","}}, "mapping.a: join is for list columns (tags)"),
        ({"a": {"const": 1, "join": ","}}, "mapping.a: join is for list columns, not for a const"),
    ],
)
def test_mapping_errors_name_the_target_field(mapping, message):
    with pytest.raises(MappingError) as refused:
        compiled(mapping)
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"a": "group_id", "a.b": "group_name"}, "mapping.a.b: conflicts with mapping.a"),
        ({"x.y.z": "group_id", "x.y": "group_name"}, "mapping.x.y.z: conflicts with mapping.x.y"),
        ({"a..b": "group_id"}, "mapping.a..b: a target field is names joined by dots"),
        ({"a": {"cast": "integer"}}, "mapping.a: needs exactly one source of column, const, template, meta, got none"),
        ({"a": {"column": "x", "const": 1}}, "mapping.a: needs exactly one source"),
        ({"a": {"column": "x", "cast": "date"}}, "mapping.a: cast: Input should be"),
        ({"a": {"column": "x", "format_time": "%H", "timezone": "Mars/Olympus"}}, "mapping.a: timezone 'Mars/Olympus'"),
        ({"a": {"column": "x", "timezone": "UTC"}}, "mapping.a: timezone only goes with format_time"),
        ({"a": {"meta": "password"}}, "mapping.a: meta: Input should be"),
        ({"a": 5}, "mapping.a: 5 is neither a column name nor a field spec"),
        ({"a": ""}, "mapping.a: the column name is empty"),
    ],
)
def test_mapping_errors_without_columns_name_the_field(mapping, message):
    with pytest.raises(MappingError) as refused:
        parse_mapping(mapping)
    assert str(refused.value).startswith(message), str(refused.value)


@pytest.mark.parametrize(
    "template",
    [
        "{0.__class__}", "{group_name.__init__}", "{group_name.__init__.__globals__}", "{x[0]}", "{tags[0]}",
        "{}", "{0}", "{group_name!r}", "{group_name!s}", "{group_name:{calls_answered}}", "{__import__}x{",
        "{group_name:>{0.__class__}}", "}",
    ],
)  # fmt: skip
def test_templates_cannot_reach_outside_the_row(template):
    with pytest.raises(MappingError, match=r"^mapping\.t: template "):
        parse_mapping({"t": {"template": template}})


def test_a_cast_that_does_not_fit_names_the_field_and_the_value():
    for cast, value in (("integer", "12.5"), ("integer", "many"), ("boolean", "perhaps"), ("number", "x")):
        with pytest.raises(MappingError, match=rf"^mapping.v: cannot cast '{value}' to {cast}$"):
            compiled({"v": {"column": "group_name", "cast": cast}}).body({**ROW, "group_name": value}, META)
    assert compiled({"v": {"column": "group_name", "cast": "integer"}}).body({**ROW, "group_name": "12.0"}, META) == {
        "v": 12
    }


NAMES = st.sampled_from(COLUMNS[:5])
VALUES = st.one_of(
    st.none(), st.integers(-(2**53), 2**53), st.text(max_size=20), st.booleans(), st.floats(allow_nan=False)
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=40))
def test_any_template_either_reads_plain_names_or_is_refused(text):
    try:
        template = parse_template(text)
    except ValueError:
        return
    assert all(name.isidentifier() for name in template.names)
    values = dict.fromkeys(template.names, "v")
    rendered = template.render(values)  # never reaches attributes: the values are plain strings
    assert isinstance(rendered, str)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(NAMES, VALUES), st.lists(NAMES, unique=True, max_size=5))
def test_renamed_columns_carry_their_values_and_nulls_take_the_default(row, picked):
    mapping = {f"out.{name}": {"column": name, "default": "missing"} for name in picked}
    body = compiled(mapping).body(row, META)
    assert body == (
        {"out": {name: "missing" if row.get(name) is None else row[name] for name in picked}} if picked else row
    )
    assert json.loads(json.dumps(body)) == body


def test_field_specs_read_back_as_they_were_written():
    spec = FieldSpec.model_validate({"const": None})
    assert spec.model_dump() == {"const": None}
    options = parse_target({"type": "http_api", "url": "https://api.example.com/x", "mapping": {"a": {"const": None}}})
    assert parse_target(json.loads(options.model_dump_json())) == options


def test_lookup_reads_dotted_paths_lists_and_indexes():
    answer = {"data": {"id": 5, "ok": True}, "results": [{"id": "a"}, {"id": "b"}, {"x": 1}], "list": [3, 4]}
    assert lookup(answer, "data.id") == (True, 5)
    assert lookup(answer, "results.id") == (True, ["a", "b"])
    assert lookup(answer, "list.1") == (True, 4)
    assert lookup(answer, "data.nope") == (False, None) and lookup(None, "a") == (False, None)


# --- options ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"url": "https://{instance}.example.com/x"},
            "url 'https://{instance}.example.com/x': has a placeholder in its host",
        ),
        ({"url": "ftp://example.com/x"}, "only http and https URLs are allowed"),
        ({"url": "https://bi:pw-in-url@example.com/{group_id}"}, "has user:password in it"),
        ({"headers": {"X-Note": "a\r\nX-Injected: 1"}}, "holds a line break"),
        ({"url": "https://example.com/{group_name.__class__}"}, "placeholder {group_name.__class__} is not allowed"),
        ({"headers": {"Authorization": "Bearer abc"}}, "a secret header goes into the credentials block"),
        ({"headers": {"idempotency-key": "x"}}, "header 'idempotency-key' may not be set here"),
        ({"headers": {"Content-Type": "text/plain"}}, "header 'Content-Type' may not be set here"),
        ({"method": "GET", "batch_size": 10}, "a GET request has no body, so one row each"),
        ({"batch_wrapper": "records"}, "batch_wrapper 'records' only goes with batch_size above 1"),
        ({"url": "https://example.com/a/{group_id}", "batch_size": 5}, "placeholder {group_id}: a batch's URL"),
        ({"query": {"q": "{x!r}"}, "batch_size": 5}, "query.q: template '{x!r}': conversion !r"),
        ({"credentials": "Not A Block"}, "neither the name of a Prefect block"),
        ({"success_value": "ok"}, "success_value needs success_field"),
        ({"check_url": "https://elsewhere.example.com/"}, "is not on the host of url"),
        ({"mapping": {"a": "x", "a.b": "y"}}, "mapping.a.b: conflicts with mapping.a"),
    ],
)
def test_options_errors_name_the_field_and_the_value(options, message):
    with pytest.raises(DeliveryConfigError) as refused:
        delivery_for({"type": "http_api", "url": "https://api.example.com/x", **options})
    text = str(refused.value)
    assert text.startswith("http_api delivery: ") and message in text and "\n" not in text, text
    assert "pw-in-url" not in text


def test_mapping_is_checked_against_the_report_before_anything_is_sent(warehouse, receiver):
    report = golden.report_of(warehouse)
    for options, message in [
        ({"mapping": {"agent.id": "grp"}}, "mapping.agent.id: column 'grp' is not a column of agent-performance"),
        ({"url": receiver.url("/x/{agent}")}, "url or query placeholder {agent} is neither a report field"),
        ({"query": {"q": "{nope}"}}, "placeholder {nope}"),
    ]:
        with pytest.raises(DeliveryConfigError, match=r"^http_api delivery: ") as refused:
            deliver(warehouse, report, target(receiver, "/m", **options))
        assert message in str(refused.value)
    assert receiver.requests("/m") == [] and list_deliveries(warehouse) == []


def test_the_credentials_block_checks_what_each_mode_needs():
    for values, missing in [
        ({"auth": "api_key"}, "api_key"),
        ({"auth": "basic", "username": "u"}, "password"),
        ({"auth": "bearer", "token": ""}, "token"),
        ({"auth": "oauth2_client_credentials", "client_id": "c"}, "token_url and client_secret"),
    ]:
        with pytest.raises(ValueError, match=rf"auth '{values['auth']}' needs {missing}"):
            HttpApiCredentials(**values)
    fields = HttpApiCredentials.model_fields
    assert all(field.title and field.description for field in fields.values())
    assert HttpApiCredentials.get_block_type_slug() == "http-api-credentials"
    assert HttpApiCredentials.get_block_type_name() == "HTTP API Credentials"
    assert HttpApiCredentials(auth="none").auth_object() == (None, {})


# --- delivering ----------------------------------------------------------------------------


def test_a_put_per_row_to_a_url_with_placeholders(warehouse, receiver):
    report = golden.report_of(warehouse)
    rows, keys = report.table.to_pylist(), row_keys(report).to_pylist()
    url_path = "/agents/{group_id}/hours/{period_start}"
    options = target(
        receiver,
        url_path,
        method="PUT",
        query={"src": "ziwo {instance}"},
        mapping={"agent.id": "group_id", "agent.name": "group_name", "answered": {"column": "calls_answered"}},
    )
    delivered = deliver(warehouse, report, options)
    assert not delivered.failed and len(delivered.results) == len(rows) == 9
    for row in rows:
        path = f"/agents/{row['group_id']}/hours/{quote(row['period_start'], safe='')}"
        (got,) = receiver.requests(path)
        assert got.method == "PUT" and got.query == {"src": "ziwo gold"}
        assert got.json() == {
            "agent": {"id": row["group_id"], "name": row["group_name"]},
            "answered": row["calls_answered"],
        }
        assert "idempotency-key" not in got.headers and got.headers["content-type"] == "application/json"
    by_key = {row.chunk_key: row for row in list_deliveries(warehouse, limit=100)}
    assert set(by_key) == set(keys) and all(r.status == "sent" and r.target_ref == "HTTP 200" for r in by_key.values())
    assert all(by_key[k].row_keys == [k] for k in keys)
    plan = delivery_for(options).plan(report)
    assert [r["method"] for r in plan.requests] == ["PUT"] * 3 and "%2B04%3A00" in plan.requests[0]["url"]


@pytest.mark.parametrize("wrapper", ["records", None])
def test_batches_post_a_wrapper_or_a_bare_array(warehouse, receiver, wrapper):
    report = golden.report_of(warehouse)
    keys = row_keys(report).to_pylist()
    options = target(
        receiver, "/batch/{report}", batch_size=4, batch_wrapper=wrapper, mapping={"id": {"meta": "row_key"}}
    )
    delivered = deliver(warehouse, report, options)
    assert not delivered.failed
    got = receiver.requests("/batch/agent-performance")
    assert len(got) == 3 and all(r.method == "POST" for r in got)
    bodies = {r.headers["idempotency-key"]: r.json() for r in got}
    if wrapper:
        assert all(set(body) == {"records"} for body in bodies.values())
        bodies = {k: body["records"] for k, body in bodies.items()}
    assert sorted(len(body) for body in bodies.values()) == [1, 4, 4]
    assert sorted(item["id"] for body in bodies.values() for item in body) == sorted(keys)
    rows = list_deliveries(warehouse)
    whole = delivered.plan.items[0].key.rsplit(":batch:", 1)[0]
    assert sorted(r.chunk_key for r in rows) == [f"{whole}:batch:{i}/3" for i in (1, 2, 3)]
    assert sorted(k for r in rows for k in r.row_keys) == sorted(keys)
    assert set(bodies) == {idempotency_key("api", r.chunk_key) for r in rows}


def test_get_sends_the_mapped_fields_as_query_parameters(warehouse, receiver):
    report = golden.report_of(warehouse, interval="none")
    options = target(
        receiver,
        "/lookup",
        method="GET",
        query={"period": "{period_start}"},
        mapping={"agent.id": "group_id", "answered": "calls_answered"},
    )
    delivered = deliver(warehouse, report, options)
    assert not delivered.failed
    got = receiver.requests("/lookup")
    assert len(got) == report.table.num_rows and all(r.method == "GET" and r.body == b"" for r in got)
    assert sorted((r.query["agent.id"], r.query["answered"]) for r in got) == sorted(
        (str(row["group_id"]), str(row["calls_answered"])) for row in report.table.to_pylist()
    )
    assert {r.query["period"] for r in got} == {"2026-11-10T00:00:00+04:00"}


def _auth_cases():
    basic = "Basic " + base64.b64encode(b"reports:pa55-w0rd-9f").decode()
    return [
        (
            {"AUTH": "api_key", "API_KEY": "key-in-header-3a7f"},
            lambda h, q: h.get("x-api-key") == "key-in-header-3a7f",
            ["key-in-header-3a7f"],
        ),
        (
            {"AUTH": "api_key", "API_KEY": "key-in-query-8b2c", "API_KEY_IN": "query", "API_KEY_NAME": "key"},
            lambda h, q: q.get("key") == "key-in-query-8b2c",
            ["key-in-query-8b2c"],
        ),
        (
            {"AUTH": "basic", "USERNAME": "reports", "PASSWORD": "pa55-w0rd-9f"},
            lambda h, q: h.get("authorization") == basic,
            ["pa55-w0rd-9f", basic.removeprefix("Basic ")],
        ),
        (
            {"AUTH": "bearer", "TOKEN": "bearer-token-61d0", "HEADERS": "X-Account=acct-secret-77e1"},
            lambda h, q: (
                h.get("authorization") == "Bearer bearer-token-61d0" and h.get("x-account") == "acct-secret-77e1"
            ),
            ["bearer-token-61d0", "acct-secret-77e1"],
        ),
    ]


@pytest.mark.parametrize(
    ("env", "accept", "secrets"), _auth_cases(), ids=["key-header", "key-query", "basic", "bearer"]
)
def test_every_auth_mode_reaches_the_receiver_and_no_secret_shows(
    warehouse, receiver, monkeypatch, caplog, env, accept, secrets
):
    for name, value in env.items():
        monkeypatch.setenv(f"ZR_API_{name}", value)
    report = golden.report_of(warehouse)
    receiver.authorize("/auth", accept)
    options = target(receiver, "/auth", credentials="env:ZR_API", mapping={"id": "group_id"})
    errors = []
    with caplog.at_level(logging.DEBUG):
        plan = delivery_for(options).plan(report)
        assert not deliver(warehouse, report, options).failed
        assert all(accept(r.headers, r.query) for r in receiver.requests("/auth"))
        receiver.authorize("/auth", lambda h, q: False)  # the API now refuses them: a 401
        refused = deliver(warehouse, report, options, run_id="run-2")
        assert len(refused.failed) == 9 and "401" in refused.failed[0].error
        try:
            refused.raise_for_failures()
        except Exception as error:
            errors.append(str(error))
    assert delivery_for(options).check().ok is False  # check sends the credentials too: refused
    receiver.authorize("/auth", accept)
    assert delivery_for(options).check().ok
    shown = [caplog.text, json.dumps(plan.requests), *errors, *(e.error or "" for e in refused.failed)]
    shown += [str(value) for row in list_deliveries(warehouse, limit=100) for value in row.__dict__.values()]
    for secret in secrets:
        assert not any(secret in text for text in shown), f"{secret} showed"
    assert "***" in json.dumps(plan.requests)  # the plan shows where the credentials go, masked


class TokenServer:
    """A loopback OAuth2 token endpoint: client credentials in, a short-lived bearer token out; it
    knows which tokens are in force (the API asks it)."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self.lock = threading.Lock()
        self.expiry: dict[str, float] = {}
        self.numbers = itertools.count(1)
        self.timeline: list[tuple[str, str, int]] = []  # ("token", token, 200) or ("api", token, status)

    def respond(self, exchange: Exchange):
        form = {k: v[0] for k, v in parse_qs(exchange.body.decode()).items()}
        header = exchange.headers.get("Authorization", "")
        client = base64.b64decode(header.removeprefix("Basic ")).decode() if header.startswith("Basic ") else ""
        if form.get("grant_type") != "client_credentials" or client != "reports:oauth-secret-c0ffee":
            return 401, {"Content-Type": "application/json"}, b'{"error": "invalid_client"}'
        with self.lock:
            token = f"access-{next(self.numbers)}-5eed"
            self.expiry[token] = time.monotonic() + self.lifetime
            self.timeline.append(("token", token, 200))
        body = {"access_token": token, "token_type": "Bearer", "expires_in": self.lifetime}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def revoke(self) -> None:
        with self.lock:
            self.expiry.clear()

    def valid(self, headers: dict[str, str]) -> bool:
        token = headers.get("authorization", "").removeprefix("Bearer ")
        with self.lock:
            ok = self.expiry.get(token, 0) > time.monotonic()
            self.timeline.append(("api", token, 200 if ok else 401))
        return ok


def test_oauth2_a_token_is_fetched_reused_renewed_after_expiry_and_after_a_401(
    warehouse, receiver, monkeypatch, caplog
):
    server = TokenServer(lifetime=1.2)
    calls = itertools.count(1)

    def api(headers, query):
        if next(calls) == 6:  # the API drops every token in force: the next request gets a 401
            server.revoke()
        return server.valid(headers)

    receiver.authorize("/oauth", api)
    receiver.slow("/oauth", 0.2)
    report = golden.report_of(warehouse)
    with http_receiver(server.respond) as tokens, caplog.at_level(logging.DEBUG):
        for name, value in {
            "AUTH": "oauth2_client_credentials", "TOKEN_URL": tokens.base_url + "/token", "CLIENT_ID": "reports",
            "CLIENT_SECRET": "oauth-secret-c0ffee",
        }.items():  # fmt: skip
            monkeypatch.setenv(f"ZR_OAUTH_{name}", value)
        options = target(receiver, "/oauth", credentials="env:ZR_OAUTH", concurrency=1, mapping={"id": "group_id"})
        plan = delivery_for(options).plan(report)
        delivered = deliver(warehouse, report, options)
    assert not delivered.failed and len(delivered.results) == 9
    timeline = server.timeline
    fetched = [token for kind, token, _ in timeline if kind == "token"]
    refused = [i for i, (kind, _, status) in enumerate(timeline) if kind == "api" and status == 401]
    assert len(refused) == 1, timeline
    assert timeline[refused[0] + 1][0] == "token", "a 401 brings a new token"
    assert timeline[refused[0] + 2] == ("api", timeline[refused[0] + 1][1], 200), "and the request again with it"
    renewed_on_expiry = [
        i for i, (kind, _, _) in enumerate(timeline) if kind == "token" and i > 0 and timeline[i - 1][2] != 401
    ]
    assert renewed_on_expiry, f"no token fetched before the old one expired: {timeline}"
    uses = {token: sum(1 for kind, t, s in timeline if kind == "api" and t == token and s == 200) for token in fetched}
    assert uses[fetched[0]] >= 2, "a token is reused while in force"
    assert len(fetched) < 9 and sum(uses.values()) == 9
    shown = [caplog.text, json.dumps(plan.requests)]
    shown += [str(value) for row in list_deliveries(warehouse, limit=100) for value in row.__dict__.values()]
    for secret in ["oauth-secret-c0ffee", *fetched]:
        assert not any(secret in text for text in shown), f"{secret} showed"
    assert plan.requests[0]["headers"]["Authorization"] == "Bearer ***"


def test_success_field_decides_and_id_field_goes_into_the_ledger(warehouse, receiver):
    report = golden.report_of(warehouse)
    receiver.reply("/ok", {"result": {"status": "accepted", "id": "crm-42"}})
    options = target(receiver, "/ok", success_field="result.status", success_value="accepted", id_field="result.id")
    assert not deliver(warehouse, report, options).failed
    assert {r.target_ref for r in list_deliveries(warehouse)} == {"HTTP 200 id=crm-42"}

    receiver.reply("/no", {"result": {"status": "rejected", "reason": "duplicate"}})
    failed = deliver(warehouse, report, {**options, "url": receiver.url("/no"), "name": "no"}, run_id="run-2")
    assert len(failed.failed) == 9
    assert failed.failed[0].error == "HTTP 200 but success_field 'result.status' is 'rejected', not 'accepted'"
    receiver.reply("/bare", None)
    missing = deliver(
        warehouse, report, target(receiver, "/bare", name="bare", success_field="ok"), run_id="run-3"
    ).failed
    assert len(missing) == 9 and "is missing (the answer is not JSON), not a true value" in missing[0].error
    rows = list_deliveries(warehouse, run_id="run-2", limit=100)
    assert all(r.status == "failed" and "rejected" in r.last_error for r in rows)


def test_batch_ids_are_joined_and_capped(warehouse, receiver):
    report = golden.report_of(warehouse)
    receiver.reply("/ids", {"results": [{"id": f"rec-{i:03d}"} for i in range(60)]})
    options = target(receiver, "/ids", batch_size=5, id_field="results.id")
    assert not deliver(warehouse, report, options).failed
    (ref, *_) = {r.target_ref for r in list_deliveries(warehouse)}
    assert ref.startswith("HTTP 200 id=rec-000,rec-001,") and ref.endswith(")") and len(ref) < 240


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/x",
        "http://[::1]:{port}/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:{port}/x",
    ],
)
def test_private_addresses_are_refused_unless_allowed(warehouse, receiver, url):
    report = golden.report_of(warehouse, interval="none")
    options = {"type": "http_api", "url": url.format(port=receiver.port), "mapping": {"id": "group_id"}}
    refused = deliver(warehouse, report, options)
    assert refused.failed and len(refused.failed) == len(refused.plan.items)
    assert all("only public addresses" in r.error and PRIVATE_HINT in r.error for r in refused.failed)
    assert receiver.requests("/x") == []
    assert not delivery_for(options).check().ok
    if "127.0.0.1" in url:
        allowed = deliver(warehouse, report, {**options, "allow_private_urls": True}, run_id="run-2")
        assert not allowed.failed and len(receiver.requests("/x")) == report.table.num_rows


def test_a_rerun_sends_the_same_keys_and_idempotency_keys(warehouse, receiver):
    report = golden.report_of(warehouse)
    options = target(receiver, "/idem", mapping={"id": "group_id", "n": "calls_answered"})
    first, second = deliver(warehouse, report, options), deliver(warehouse, report, options, run_id="run-2")
    assert sorted(r.key for r in first.results) == sorted(r.key for r in second.results)
    got = receiver.requests("/idem")
    assert len(got) == 18
    ids = [r.headers["idempotency-key"] for r in got]
    assert sorted(ids[:9]) == sorted(ids[9:]) and len(set(ids)) == 9
    assert len(receiver.events("/idem")) == 9, "an idempotent receiver holds each row once"


def test_replay_after_an_outage_delivers_exactly_the_failed_rows(warehouse, receiver):
    report = golden.report_of(warehouse)
    rows = report.table.to_pylist()
    options = target(receiver, "/rows/{group_id}/{period_start}", method="PUT", mapping={"n": "calls_answered"})
    paths = [f"/rows/{row['group_id']}/{quote(row['period_start'], safe='')}" for row in rows]
    down = paths[1:4]
    for path in down:
        receiver.script(path, [], retry_after="0")
        receiver.fail(path, 503)
    delivered = deliver(warehouse, report, options)
    assert len(delivered.failed) == 3
    unsent = list_deliveries(warehouse, unsent=True)
    assert len(unsent) == 3 and all("HTTP 503" in r.last_error for r in unsent)
    for path in down:
        receiver.fail(path, None)
    replayed = replay(unsent, lambda spec: compute_report(warehouse, spec), ledger(warehouse))
    assert not replayed.failed and len(replayed.results) == 3
    for path in paths:
        statuses = [r.status for r in receiver.requests(path)]
        assert statuses == ([503, 503, 503, 200] if path in down else [200]), path
    assert list_deliveries(warehouse, unsent=True) == []
