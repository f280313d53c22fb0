"""The Ziwo client against the simulator over HTTP, in all three fault modes, and against
receivers that misbehave in the ways a real API can."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from tests.conftest import FAST, http_receiver, settings_for
from ziwo_reports.connectors.ziwo import ZiwoAuthError, ZiwoClient, ZiwoListingError, ZiwoPagingError, ZiwoSettings
from ziwo_reports.connectors.ziwo.simulator.faults import FLAKY, HOSTILE_ALL


def pull_all(client: ZiwoClient, start, end, known_agent_ids=None):
    records, rejects = [], []
    for batch in client.iter_calls(start, end, known_agent_ids=known_agent_ids):
        records += batch.records
        rejects += batch.rejects
    return records, rejects


@pytest.mark.parametrize(
    ("mode", "seed"),
    [("none", 42), ("flaky", 42), ("hostile", 42), ("hostile", 3)],
)
def test_every_served_call_is_pulled_exactly_once(simulator, caplog, mode, seed):
    sim = simulator(seed=seed, faults=mode, fault_rate=0.2, bad_record_rate=0.02, days=4, calls_per_day=500)
    with caplog.at_level(logging.DEBUG), ZiwoClient(settings_for(sim, page_size=30)) as client:
        agents = {agent["id"] for agent in client.agents()}
        records, rejects = pull_all(client, sim.first_day, sim.last_day, known_agent_ids=agents)
    truth = sim.truth()

    pulled = [r.call_id for r in records]
    assert len(pulled) == len(set(pulled)), "a call came out twice"
    assert set(pulled) == truth.calls, "calls lost or invented"
    assert {r.raw["id"]: r.reason for r in rejects} == truth.bad, "every bad record rejected with its reason"
    assert len(rejects) == len(truth.bad)

    stats = client.stats
    assert stats.records == len(records) and stats.rejects == len(rejects)
    if mode == "none":
        assert stats.retries == stats.relogins == stats.rereads == 0
    else:
        assert stats.retries > 0
        assert set(sim.faults.counts) == set(FLAKY if mode == "flaky" else HOSTILE_ALL), sim.faults.counts
    if mode == "hostile":
        assert stats.relogins > 0 and stats.rereads > 0 and truth.bad

    secrets = [sim.config.password, *sim.issued_tokens]
    assert sim.issued_tokens
    for secret in secrets:
        assert secret not in caplog.text
    assert "retry" in caplog.text or mode == "none"


def test_records_stream_in_page_sized_batches(simulator):
    sim = simulator(days=2, calls_per_day=600)
    with ZiwoClient(settings_for(sim, page_size=50)) as client:
        sizes = [len(b.records) for b in client.iter_calls(sim.first_day, sim.last_day)]
    assert max(sizes) == 50 and len(sizes) > 20


def test_a_server_cap_below_the_page_size_loses_nothing(simulator):
    sim = simulator(max_page_size=40, days=2)
    with ZiwoClient(settings_for(sim, page_size=100)) as client:
        records, _ = pull_all(client, sim.first_day, sim.last_day)
        assert client._call_page.limit == 40
    assert {r.call_id for r in records} == sim.truth().calls


def test_a_short_page_ends_the_day_once_the_limit_is_known(simulator):
    sim = simulator(days=3, calls_per_day=300)
    day = sim.last_day - timedelta(days=1)
    n = len(sim.truth(day, day).calls)
    with ZiwoClient(settings_for(sim, page_size=100)) as client:
        pull_all(client, day, day)
        first_pages = client.stats.pages
        pull_all(client, day, day)
        assert client.stats.pages - first_pages == n // 100 + 1  # no look-ahead page any more


def test_offsets_shifted_by_new_calls_are_read_again(simulator):
    sim = simulator(faults="hostile", fault_rate=0.3, bad_record_rate=0.0, days=2, calls_per_day=1200)
    day = sim.first_day
    with ZiwoClient(settings_for(sim, page_size=50)) as client:
        records, _ = pull_all(client, day, day)
        assert client.stats.rereads > 0 and client.stats.duplicates > 0
    assert sim.faults.counts.get("insert") and sim.faults.counts.get("duplicate")
    assert sorted(r.call_id for r in records) == sorted(sim.truth(day, day).calls)


def test_expired_token_means_one_fresh_login(simulator):
    sim = simulator(days=2)
    with ZiwoClient(settings_for(sim)) as client:
        client.agents()
        sim.expire_tokens()
        records, _ = pull_all(client, sim.first_day, sim.last_day)
        assert client.stats.relogins == 1
    assert len(records) == len(sim.truth().calls)
    assert len(sim.issued_tokens) == 2


def _envelope(content, status=200):
    return (
        status,
        {"Content-Type": "application/json"},
        json.dumps({"result": True, "content": content, "info": {}}).encode(),
    )


def _login_ok():
    return _envelope({"access_token": "tok-receiver-0001", "username": "u@x"})


def test_a_token_refused_after_a_fresh_login_is_an_auth_error():
    def respond(exchange):
        if exchange.path.startswith("/auth/login"):
            return _login_ok()
        return (403, {}, json.dumps({"result": False, "error": {"message": "Forbidden"}}).encode())

    with http_receiver(respond) as rx:
        settings = ZiwoSettings(base_url=rx.base_url, username="u@x", password="pw-receiver-1", http=FAST)
        with ZiwoClient(settings) as client, pytest.raises(ZiwoAuthError, match="HTTP 403 Forbidden"):
            client.agents()
        assert sum(r.path.startswith("/auth/login") for r in rx.requests) == 2  # first login and one re-login
        assert client.stats.relogins == 1


def test_access_token_alone_is_sent_as_header_and_cannot_be_renewed():
    def respond(exchange):
        if exchange.headers.get("access_token") == "tok-given-by-user":
            return _envelope([])
        return (403, {}, b'{"result": false, "error": {"message": "Token expired"}}')

    with http_receiver(respond) as rx:
        good = ZiwoSettings(base_url=rx.base_url, access_token="tok-given-by-user", http=FAST)
        assert ZiwoClient(good).queues() == []
        bad = ZiwoSettings(base_url=rx.base_url, access_token="tok-stale-000", http=FAST)
        with pytest.raises(ZiwoAuthError, match="set username and password") as caught:
            ZiwoClient(bad).queues()
        assert "tok-stale-000" not in str(caught.value)
        assert not any(r.path.startswith("/auth/login") for r in rx.requests)


def test_wrong_password_is_reported_without_it(simulator):
    sim = simulator()
    settings = settings_for(sim, password="wrong-password-123")
    with pytest.raises(ZiwoAuthError) as caught:
        ZiwoClient(settings).agents()
    message = str(caught.value)
    assert "HTTP 401 Invalid username or password" in message and sim.config.username in message
    assert "wrong-password-123" not in message


def test_a_server_that_ignores_skip_is_stopped():
    def respond(exchange):
        if exchange.path.startswith("/auth/login"):
            return _login_ok()
        return _envelope([{"callID": f"c{i}", "startedAt": "2026-11-01T10:00:00Z"} for i in range(10)])

    with http_receiver(respond) as rx:
        settings = ZiwoSettings(base_url=rx.base_url, username="u", password="pw-rx-1234", page_size=10, http=FAST)
        with ZiwoClient(settings) as client, pytest.raises(ZiwoPagingError, match="ignore 'skip'"):
            list(client.iter_calls(client_date("2026-11-01"), client_date("2026-11-01")))
        assert len(rx.requests) == 3  # login and two pages


def test_a_server_that_never_ends_is_stopped_by_max_pages():
    counter = iter(range(10**9))

    def respond(exchange):
        if exchange.path.startswith("/auth/login"):
            return _login_ok()
        return _envelope([{"callID": f"c{next(counter)}", "startedAt": "2026-11-01T10:00:00Z"} for _ in range(5)])

    with http_receiver(respond) as rx:
        settings = ZiwoSettings(
            base_url=rx.base_url, username="u", password="pw-rx-1234", page_size=5, max_pages=7, http=FAST
        )
        with ZiwoClient(settings) as client, pytest.raises(ZiwoPagingError, match="stopped after 7 pages"):
            list(client.iter_calls(client_date("2026-11-01"), client_date("2026-11-01")))


def test_a_day_that_never_stops_shifting_is_an_error_not_a_silent_loss():
    def respond(exchange):
        if exchange.path.startswith("/auth/login"):
            return _login_ok()
        skip = int(exchange.path.split("skip=")[1].split("&")[0])
        # Every page starts with the last record of the page before: offsets always shifting.
        start = max(0, skip - 1)
        rows = [{"callID": f"c{i}", "startedAt": "2026-11-01T10:00:00Z"} for i in range(start, min(start + 5, 12))]
        return _envelope(rows)

    with http_receiver(respond) as rx:
        settings = ZiwoSettings(
            base_url=rx.base_url, username="u", password="pw-rx-1234", page_size=5, max_passes=3, http=FAST
        )
        with (
            ZiwoClient(settings) as client,
            pytest.raises(
                ZiwoListingError, match=r"2026-11-01 not verified after 3 passes: pages kept shifting \(12 distinct"
            ),
        ):
            list(client.iter_calls(client_date("2026-11-01"), client_date("2026-11-01")))
        assert client.stats.rereads == 2


def test_date_range_is_pulled_one_day_per_request(simulator):
    sim = simulator(days=3, calls_per_day=100)
    with ZiwoClient(settings_for(sim, page_size=1000)) as client:
        batches = list(client.iter_calls(sim.first_day, sim.last_day))
    every_day = [sim.first_day + timedelta(days=i) for i in range(3)]
    assert [b.day for b in batches if b.records] == every_day
    checks = [b.check for b in batches if b.check]
    assert [c.day for c in checks] == every_day and all(c.verified and c.passes == 1 for c in checks)
    assert (
        [c.records for c in checks]
        == [c.server_total for c in checks]
        == [len(sim.truth(day, day).calls) for day in every_day]
    )
    assert not any(b.records or b.rejects for b in batches if b.check)
    with pytest.raises(ValueError, match="before start date"):
        list(ZiwoClient(settings_for(sim)).iter_calls(sim.last_day, sim.first_day))


def client_date(text):
    from datetime import date

    return date.fromisoformat(text)
