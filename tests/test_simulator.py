"""The built-in Ziwo simulator: the API contract over HTTP, and data realistic enough for every metric."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.conftest import NOW
from ziwo_reports.connectors.ziwo.assumptions import ANONYMOUS_NUMBERS, RESULTS, TRANSFER_CAUSES
from ziwo_reports.connectors.ziwo.simulator import SimConfig, Simulator
from ziwo_reports.connectors.ziwo.simulator.calls import BAD_RECORD_KINDS
from ziwo_reports.connectors.ziwo.simulator.server import hashed_password
from ziwo_reports.connectors.ziwo.simulator.world import QUEUES


def login(sim: Simulator, **kwargs) -> requests.Response:
    kwargs.setdefault("json", {"username": sim.config.username, "password": sim.config.password})
    return requests.post(sim.base_url + "/auth/login", timeout=5, **kwargs)


def token_of(sim: Simulator) -> str:
    return login(sim).json()["content"]["access_token"]


def get(sim: Simulator, path: str, token: str | None, **params) -> requests.Response:
    headers = {"access_token": token} if token else {}
    return requests.get(sim.base_url + path, params=params, headers=headers, timeout=10)


# --- API contract --------------------------------------------------------------------------


def test_login_accepts_json_form_and_hashed_password(simulator):
    sim = simulator()
    cfg = sim.config
    for response in (
        login(sim),
        login(sim, json=None, data={"username": cfg.username, "password": cfg.password, "remember": "true"}),
        login(sim, json={"username": cfg.username, "password": hashed_password(cfg.username, cfg.password)}),
    ):
        assert response.status_code == 200
        body = response.json()
        assert body["result"] is True and set(body) == {"result", "content", "info"}
        assert body["content"]["username"] == cfg.username and body["content"]["access_token"]


def test_bad_credentials_get_401_with_the_error_envelope(simulator):
    sim = simulator()
    response = login(sim, json={"username": sim.config.username, "password": "wrong"})
    assert response.status_code == 401
    assert response.json() == {"result": False, "error": {"message": "Invalid username or password"}}


def test_login_is_set_by_options(simulator):
    sim = simulator(username="ops@acme.ae", password="other-secret")
    assert login(sim, json={"username": "ops@acme.ae", "password": "other-secret"}).status_code == 200
    assert login(sim, json={"username": "ops@acme.ae", "password": sim.config.password}).status_code == 200
    assert (
        login(sim, json={"username": "supervisor@simulator.ziwo.test", "password": "other-secret"}).status_code == 401
    )


def test_token_in_header_or_query_and_403_when_missing_expired_or_logged_out(simulator):
    sim = simulator(token_ttl=0.3)
    token = token_of(sim)
    assert get(sim, "/profile", token).status_code == 200
    assert requests.get(sim.base_url + "/profile", params={"access_token": token}, timeout=5).status_code == 200
    missing = get(sim, "/profile", None)
    assert missing.status_code == 403 and missing.json()["result"] is False
    import time

    time.sleep(0.4)
    expired = get(sim, "/profile", token)
    assert expired.status_code == 403 and "expired" in expired.json()["error"]["message"]
    fresh = token_of(sim)
    requests.post(sim.base_url + "/auth/logout", headers={"access_token": fresh}, timeout=5)
    assert get(sim, "/profile", fresh).status_code == 403


def test_call_history_pages_with_skip_limit_and_order(simulator):
    sim = simulator()
    token = token_of(sim)
    day = (sim.last_day - timedelta(days=1)).isoformat()
    asc = []
    skip = 0
    while True:
        body = get(sim, "/callHistory/", token, fromDate=day, toDate=day, order="startedAt", skip=skip, limit=70).json()
        assert body["result"] is True and isinstance(body["content"], list)
        asc += body["content"]
        skip += 70
        if len(body["content"]) < 70:
            break
    assert (
        len(asc)
        == body["info"]["totalRecords"]
        == len(sim.truth(date.fromisoformat(day), date.fromisoformat(day)).calls)
    )
    assert [r["startedAt"] for r in asc] == sorted(r["startedAt"] for r in asc)
    desc = get(sim, "/callHistory/", token, fromDate=day, toDate=day, order="~startedAt", limit=1000).json()["content"]
    assert [r["callID"] for r in desc] == [r["callID"] for r in reversed(asc)]
    default = get(sim, "/callHistory/", token, fromDate=day, toDate=day, limit=5).json()["content"]
    assert [r["callID"] for r in default] == [r["callID"] for r in desc[:5]]  # newest first by default


def test_limit_is_capped_by_the_server(simulator):
    sim = simulator(max_page_size=40)
    body = get(sim, "/callHistory/", token_of(sim), limit=1000).json()
    assert len(body["content"]) == 40 and body["info"]["totalRecords"] > 40


def test_filters_call_id_contact_number_agents_and_tags(simulator):
    sim = simulator()
    token = token_of(sim)
    day = (sim.last_day - timedelta(days=1)).isoformat()
    records = get(sim, "/callHistory/", token, fromDate=day, toDate=day, limit=1000).json()["content"]
    assert all("tags" not in r for r in records)
    tagged = get(sim, "/callHistory/", token, fromDate=day, toDate=day, limit=1000, dataset=["tags", "notes"]).json()
    assert all(isinstance(r["tags"], list) for r in tagged["content"]) and any(r["tags"] for r in tagged["content"])

    target = next(r for r in records if r["agentId"] and r["callerIDNumber"].startswith("+971"))
    by_id = get(sim, "/callHistory/", token, callID=target["callID"]).json()["content"]
    assert [r["callID"] for r in by_id] == [target["callID"]]
    assert get(sim, "/callHistory/", token, callID="00000000-0000-4000-8000-000000000000").json()["content"] == []

    national = target["callerIDNumber"][4:]
    by_number = get(sim, "/callHistory/", token, contactNumber=national, limit=1000).json()["content"]
    assert target["callID"] in {r["callID"] for r in by_number}
    assert all(national in r["callerIDNumber"].replace("+", "") for r in by_number)

    agents = f"{target['agentId']},{target['agentId'] + 1}"
    by_agent = get(sim, "/callHistory/", token, fromDate=day, toDate=day, agents=agents, limit=1000).json()["content"]
    assert by_agent and {r["agentId"] for r in by_agent} <= {target["agentId"], target["agentId"] + 1}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"fromDate": "2026-13-01"}, "fromDate must be a date as YYYY-MM-DD, got '2026-13-01'"),
        ({"skip": "-1"}, "skip must be at least 0, got -1"),
        ({"limit": "ten"}, "limit must be a whole number, got 'ten'"),
        ({"order": "duration"}, "order 'duration' is not supported"),
        (
            {"fromDate": "2026-11-10", "toDate": "2026-11-09"},
            "toDate 2026-11-09 is before fromDate 2026-11-10",
        ),
        ({"agents": "12,x"}, "agents must be comma-separated ids, got '12,x'"),
    ],
)
def test_bad_parameters_get_400_naming_the_parameter(simulator, params, message):
    sim = simulator()
    response = get(sim, "/callHistory/", token_of(sim), **params)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


def test_unknown_paths_get_404_envelope(simulator):
    sim = simulator()
    response = get(sim, "/nope/", token_of(sim))
    assert response.status_code == 404 and response.json()["result"] is False


def test_agents_queues_and_numbers(simulator):
    sim = simulator(agents=12)
    token = token_of(sim)
    agents = get(sim, "/admin/agents/", token, limit=50).json()["content"]
    assert len(agents) == 12 == get(sim, "/admin/agents/count", token).json()["content"]
    assert [a["id"] for a in get(sim, "/admin/agents/", token, limit=5, skip=10).json()["content"]] == [
        a["id"] for a in agents[10:]
    ]
    assert all({"id", "firstName", "lastName", "ccLogin", "wrapUpTime", "teamId", "teamName"} <= set(a) for a in agents)
    assert len({a["teamId"] for a in agents}) >= 3
    departed = [a for a in agents if a["deletedAt"]]
    assert len(departed) == 1
    active = get(sim, "/callHistory/listAgents", token, deleted="false").json()["content"]
    assert {a["id"] for a in active} == {a["id"] for a in agents} - {departed[0]["id"]}
    queues = get(sim, "/admin/queues/", token).json()["content"]
    assert {q["name"] for q in queues} == {q.name for q in QUEUES}
    assert {q["surveyRequired"] for q in queues} == {True, False}
    numbers = get(sim, "/admin/numbers/", token).json()["content"]
    assert {n["linkData"] for n in numbers} == {q["name"] for q in queues}


def test_starts_in_process_on_a_free_port_and_stops_cleanly():
    with Simulator(SimConfig(now=NOW, days=1, calls_per_day=50)) as sim:
        assert sim.port > 0
        assert login(sim).status_code == 200
        url = sim.base_url
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/profile", timeout=2)


def test_ground_truth_over_http_matches_in_process(simulator):
    sim = simulator(faults="hostile", fault_rate=0.0, bad_record_rate=0.05)
    truth = sim.truth()
    body = requests.get(sim.base_url + "/_simulator/truth", timeout=5).json()["content"]
    assert body == {"calls": len(truth.calls), "bad": len(truth.bad), "badByReason": truth.by_reason()}


# --- determinism and memory ----------------------------------------------------------------


def _day_bytes(sim: Simulator, day: date) -> bytes:
    return b"".join(leg.json(True) for leg in sim.store.day(day))


def test_same_seed_same_data_other_seed_other_data():
    config = SimConfig(now=NOW, days=2, calls_per_day=300)
    one, two = Simulator(config), Simulator(config)
    other = Simulator(SimConfig(now=NOW, days=2, calls_per_day=300, seed=7))
    day = one.last_day - timedelta(days=1)
    assert _day_bytes(one, day) == _day_bytes(two, day)
    assert _day_bytes(one, day) != _day_bytes(other, day)
    # The hostile mode corrupts some records of the same calls; the rest are identical.
    hostile = Simulator(SimConfig(now=NOW, days=2, calls_per_day=300, faults="hostile", bad_record_rate=0.05))
    plain = {leg.id: leg.body for leg in one.store.day(day)}
    corrupted = [leg for leg in hostile.store.day(day) if leg.body != plain[leg.id]]
    assert corrupted and all(leg.bad for leg in corrupted)


def test_memory_stays_bounded_however_many_days_are_served():
    sim = Simulator(SimConfig(now=NOW, days=40, calls_per_day=200))
    total = sum(sim.store.count(day) for day in sim.store.window_days(None, None))
    assert total > 40 * 200
    assert sim.store.cached_days <= sim.store.cache_days


# --- realistic data ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fortnight() -> tuple[Simulator, list[dict]]:
    sim = Simulator(SimConfig(now=NOW, days=14, calls_per_day=1500, agents=25))
    records = [leg.record() for day in sim.store.window_days(None, None) for leg in sim.store.day(day)]
    return sim, records


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _contacts(records: list[dict]) -> dict[str, list[dict]]:
    contacts: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        contacts[r["primaryCallID"] or r["callID"]].append(r)
    return contacts


def test_every_record_is_consistent(fortnight):
    sim, records = fortnight
    agent_ids = {a.id for a in sim.world.agents}
    for r in records:
        assert r["startedAt"].endswith("Z") and r["endedAt"].endswith("Z")
        started, ended = _ts(r["startedAt"]), _ts(r["endedAt"])
        assert r["duration"] == (ended - started).total_seconds() >= 0
        for key in ("duration", "ringTime", "talkTime", "holdTime", "queueWaitTime", "ivrTime"):
            assert isinstance(r[key], int) and r[key] >= 0
        assert r["result"] in RESULTS and r["direction"] in ("inbound", "outbound")
        assert (r["answeredAt"] is not None) == (r["result"] == "answered") == (r["talkTime"] > 0)
        assert r["agentId"] is None or r["agentId"] in agent_ids
        if r["result"] == "answered" and r["direction"] == "inbound":
            assert _ts(r["answeredAt"]) == _ts(r["agentRingStartedAt"]) + timedelta(seconds=r["ringTime"])
            assert ended == _ts(r["answeredAt"]) + timedelta(seconds=r["talkTime"] + r["holdTime"])
    assert len({r["callID"] for r in records}) == len(records)


def test_every_kind_of_call_is_there(fortnight):
    _, records = fortnight
    inbound = [r for r in records if r["direction"] == "inbound"]
    outbound = [r for r in records if r["direction"] == "outbound"]
    abandoned = [r for r in inbound if r["result"] == "cancel" and r["queueId"] and not r["agentId"]]
    assert sum(r["queueWaitTime"] < 10 for r in abandoned) > 20, "short abandons"
    assert sum(r["queueWaitTime"] > 60 for r in abandoned) > 20, "long abandons"
    assert any(r["result"] == "cancel" and r["agentId"] for r in inbound), "abandoned while ringing an agent"
    assert any(r["lostInIVR"] and r["queueId"] is None for r in inbound), "lost in the IVR"
    assert sum(r["result"] == "timeout" for r in inbound) > 50, "missed by an agent"
    assert sum(r["holdTime"] > 0 for r in inbound) > 100, "holds"
    assert Counter(r["result"] for r in outbound).keys() >= {"answered", "timeout", "busy"}
    assert all(r["queueId"] is None for r in outbound)
    abandon_rate = len(abandoned) / len({r["primaryCallID"] or r["callID"] for r in inbound})
    assert 0.03 < abandon_rate < 0.15
    assert len({r["disposition"] for r in records if r["disposition"]}) >= 5
    assert any(r["wrapUpTime"] is not None for r in records) and any(
        r["wrapUpTime"] is None for r in records if r["result"] == "answered"
    )
    assert any(r["recordingFile"] for r in records)
    assert any((r["callerIDNumber"] or "").lower() in ANONYMOUS_NUMBERS for r in inbound), "anonymous callers"


def test_missed_then_answered_and_transfers_are_legs_of_one_contact(fortnight):
    _, records = fortnight
    contacts = _contacts(records)
    missed_then_answered = transfers = 0
    for legs in contacts.values():
        legs.sort(key=lambda r: (r["startedAt"], r["id"]))
        first = legs[0]
        assert first["primaryCallID"] is None
        assert all(leg["primaryCallID"] == first["callID"] for leg in legs[1:])
        for before, after in pairwise(legs):
            assert after["startedAt"] == before["endedAt"]  # the next leg picks up where the last ended
            if before["result"] == "timeout" and after["result"] == "answered":
                assert after["agentId"] != before["agentId"]
                missed_then_answered += 1
            if before["hangupCause"] in TRANSFER_CAUSES:
                assert before["result"] == "answered" and before["hangupBy"] == "agent"
                transfers += 1
    assert missed_then_answered > 20 and transfers > 20


def test_surveys_only_on_survey_queues_on_the_last_leg(fortnight):
    _, records = fortnight
    survey_queues = {q.id for q in QUEUES if q.survey}
    scored = [r for r in records if r["surveyScore"] is not None]
    assert len(scored) > 100
    assert all(r["queueId"] in survey_queues and 1 <= r["surveyScore"] <= 5 for r in scored)
    assert len(Counter(r["surveyScore"] for r in scored)) == 5
    last_legs = {max(legs, key=lambda r: (r["startedAt"], r["id"]))["callID"] for legs in _contacts(records).values()}
    assert all(r["callID"] in last_legs for r in scored)


def _national(number: str) -> str | None:
    digits = "".join(ch for ch in number if ch.isdigit())
    for prefix in ("00971", "971", "0"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
            break
    return digits if len(digits) == 9 else None


def test_repeat_callers_within_hours_and_days_in_several_formats(fortnight):
    _, records = fortnight
    firsts = [r for r in records if r["direction"] == "inbound" and r["primaryCallID"] is None]
    by_number: dict[str, list[dict]] = defaultdict(list)
    for r in firsts:
        if (national := _national(r["callerIDNumber"] or "")) is not None:
            by_number[national].append(r)
    gaps = []
    formats = set()
    for calls in by_number.values():
        calls.sort(key=lambda r: r["startedAt"])
        for a, b in pairwise(calls):
            gaps.append(_ts(b["startedAt"]) - _ts(a["endedAt"]))
            formats.add((a["callerIDNumber"][:2], b["callerIDNumber"][:2]))
    assert sum(timedelta(0) < g <= timedelta(hours=8) for g in gaps) > 100
    assert sum(timedelta(days=1) <= g <= timedelta(days=5) for g in gaps) > 50
    assert len(formats) > 3  # the same caller appears as +971..., 00971... and 05...


def test_volume_follows_local_hours_and_weekdays(fortnight):
    sim, records = fortnight
    tz = ZoneInfo(sim.config.timezone)
    firsts = [r for r in records if r["primaryCallID"] is None]
    by_hour = Counter(_ts(r["startedAt"]).astimezone(tz).hour for r in firsts)
    assert by_hour[11] > 8 * by_hour[3]
    by_weekday = Counter(_ts(r["startedAt"]).astimezone(tz).weekday() for r in firsts)
    assert by_weekday[0] > by_weekday[5] * 1.15  # Monday busier than Saturday


def test_agents_take_calls_only_while_employed(fortnight):
    sim, records = fortnight
    departed = next(a for a in sim.world.agents if a.deleted_at)
    joined = max(sim.world.agents, key=lambda a: a.created_at)
    theirs = [r for r in records if r["agentId"] == departed.id]
    assert theirs and all(_ts(r["agentRingStartedAt"] or r["startedAt"]) < departed.deleted_at for r in theirs)
    new = [r for r in records if r["agentId"] == joined.id]
    assert new and all(_ts(r["startedAt"]) >= joined.created_at for r in new)


def test_dst_days_have_25_and_23_local_hours():
    autumn = Simulator(
        SimConfig(now=datetime(2026, 11, 3, 12, tzinfo=UTC), days=4, calls_per_day=4000, timezone="America/New_York")
    )
    start, end = autumn.world.day_bounds(date(2026, 11, 1))
    assert end - start == timedelta(hours=25)
    tz = ZoneInfo("America/New_York")
    one_am = {
        _ts(leg.record()["startedAt"]).astimezone(tz).utcoffset()
        for leg in autumn.store.day(date(2026, 11, 1))
        if _ts(leg.record()["startedAt"]).astimezone(tz).hour == 1
    }
    assert one_am == {timedelta(hours=-4), timedelta(hours=-5)}  # 01:xx happens twice

    spring = Simulator(
        SimConfig(now=datetime(2026, 3, 9, 12, tzinfo=UTC), days=2, calls_per_day=4000, timezone="America/New_York")
    )
    start, end = spring.world.day_bounds(date(2026, 3, 8))
    assert end - start == timedelta(hours=23)
    hours = {_ts(leg.record()["startedAt"]).astimezone(tz).hour for leg in spring.store.day(date(2026, 3, 8))}
    assert 2 not in hours and {1, 3} <= hours


def test_calls_end_before_now_and_days_follow_the_instance_zone(simulator):
    sim = simulator(days=2, calls_per_day=800)
    now = int(NOW.timestamp())
    today = sim.store.day(sim.last_day)
    assert today and all(leg.end <= now for leg in today)
    tz = ZoneInfo(sim.config.timezone)
    assert all(datetime.fromtimestamp(leg.start, tz).date() == sim.last_day for leg in today)


def test_hostile_mode_serves_every_kind_of_bad_record(simulator):
    sim = simulator(faults="hostile", fault_rate=0.0, bad_record_rate=0.03, calls_per_day=800)
    truth = sim.truth()
    assert set(truth.bad.values()) == set(BAD_RECORD_KINDS)
    assert 0.015 < len(truth.bad) / (len(truth.bad) + len(truth.calls)) < 0.045
    bad_legs = {
        leg.id: leg.record() for day in sim.store.window_days(None, None) for leg in sim.store.day(day) if leg.bad
    }
    missing = [r for i, r in bad_legs.items() if truth.bad[i] == "missing_call_id"]
    assert missing and all("callID" not in r for r in missing)


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="timezone 'Mars/Olympus' is not an IANA time zone name"):
        SimConfig(timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="faults 'evil' is not one of none, flaky, hostile"):
        SimConfig(faults="evil")
    with pytest.raises(ValueError, match=r"fault_rate 1\.5 is out of range"):
        SimConfig(fault_rate=1.5)


def test_records_are_plain_json():
    sim = Simulator(SimConfig(now=NOW, days=1, calls_per_day=100))
    for leg in sim.store.day(sim.last_day):
        assert json.loads(leg.json(False)) == {k: v for k, v in leg.record().items() if k != "tags"}
