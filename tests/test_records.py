"""Turning raw Ziwo records into typed call legs, or rejects with their reasons."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from ziwo_reports.connectors.ziwo import CALL_COLUMNS, REJECT_REASONS, CallRecord, Reject, parse_call


def raw(**changes):
    record = {
        "id": 7,
        "callID": "c-1",
        "primaryCallID": None,
        "direction": "inbound",
        "callerIDNumber": "+971501234567",
        "agentId": 2001,
        "queueId": 101,
        "queueName": "Support",
        "startedAt": "2026-11-03T10:00:00.000Z",
        "answeredAt": "2026-11-03T10:00:30Z",
        "endedAt": "2026-11-03T10:05:00+00:00",
        "duration": 300,
        "talkTime": 240,
        "holdTime": 30,
        "ringTime": 5,
        "queueWaitTime": 25,
        "ivrTime": 0,
        "wrapUpTime": None,
        "result": "answered",
        "surveyScore": 4,
        "tags": ["vip", {"name": "billing"}],
    }
    record.update(changes)
    return record


def test_a_good_record_becomes_typed_fields_with_its_raw_json():
    record = parse_call(raw(), known_agent_ids={2001})
    assert isinstance(record, CallRecord)
    assert record.call_id == "c-1" and record.contact_id == "c-1"
    assert record.started_at == datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
    assert record.ended_at == datetime(2026, 11, 3, 10, 5, tzinfo=UTC)
    assert (record.talk_time_s, record.hold_time_s, record.wrap_up_time_s) == (240, 30, None)
    assert record.tags == ["vip", "billing"] and record.survey_score == 4
    assert record.raw == raw()


def test_transfer_leg_belongs_to_its_primary_contact():
    record = parse_call(raw(callID="c-2", primaryCallID="c-1"))
    assert record.contact_id == "c-1"


def test_lenient_where_the_meaning_is_clear():
    record = parse_call(
        raw(agentId="2001", talkTime=240.0, startedAt="2026-11-03T10:00:00", callerIDNumber=971501234567)
    )
    assert isinstance(record, CallRecord)
    assert record.agent_id == 2001 and record.talk_time_s == 240
    assert record.started_at.tzinfo == UTC  # a naive timestamp is read as UTC
    assert record.caller_number == "971501234567"


@pytest.mark.parametrize(
    ("changes", "reason", "detail"),
    [
        ({"callID": None}, "missing_call_id", "callID is None"),
        ({"callID": ""}, "missing_call_id", "callID is ''"),
        ({"startedAt": None}, "bad_timestamp", "startedAt is missing"),
        ({"endedAt": "2026-11-03 25:61:00"}, "bad_timestamp", "endedAt is '2026-11-03 25:61:00'"),
        ({"answeredAt": 1762164000}, "bad_timestamp", "answeredAt is 1762164000"),
        ({"talkTime": -12}, "negative_duration", "talkTime is -12"),
        ({"holdTime": "-3"}, "negative_duration", "holdTime is -3"),
        ({"talkTime": 12.5}, "bad_value", "talkTime is 12.5"),
        ({"agentId": True}, "bad_value", "agentId is True"),
        ({"tags": "vip"}, "bad_value", "tags is 'vip'"),
        (
            {"endedAt": "2026-11-03T09:59:00Z"},
            "ended_before_started",
            "endedAt '2026-11-03T09:59:00Z' is before",
        ),
        ({"agentId": 990001}, "unknown_agent", "agentId 990001"),
    ],
)
def test_each_malformation_is_rejected_with_reason_and_detail(changes, reason, detail):
    bad = raw(**changes)
    result = parse_call(bad, known_agent_ids={2001})
    assert isinstance(result, Reject)
    assert result.reason == reason and reason in REJECT_REASONS
    assert detail in result.detail
    assert result.raw == bad  # nothing is lost: the record travels with its reason


def test_agent_check_only_when_agents_are_known():
    assert isinstance(parse_call(raw(agentId=990001)), CallRecord)
    assert isinstance(parse_call(raw(agentId=None), known_agent_ids={2001}), CallRecord)


def test_non_object_is_rejected():
    result = parse_call(["not", "a", "record"])
    assert isinstance(result, Reject) and result.reason == "not_an_object" and result.call_id is None


def test_one_mapping_from_ziwo_names_to_columns():
    names = [c.name for c in CALL_COLUMNS]
    assert len(names) == len(set(names)) and len({c.ziwo for c in CALL_COLUMNS}) == len(CALL_COLUMNS)
    record_fields = [f.name for f in dataclasses.fields(CallRecord) if f.name != "raw"]
    assert sorted(record_fields) == sorted(names)
