"""A golden fixture: hand-written call legs of one Dubai day, 2026-11-10, covering every edge
case of the metrics; the expected values are worked out by hand in tests/test_metrics.py.

All times are UTC; Dubai is UTC+4, so the report day 2026-11-10 (Asia/Dubai) is
[2026-11-09T20:00Z, 2026-11-10T20:00Z).

Agents: 1 Amal (team 10 Alpha, wrap-up 30 s), 2 Badr (team 10, 20 s), 3 Celia (team 20 Beta, 60 s).
Queues: 100 Support, 200 Sales.

K0  before the window by start, inside it by end: B answers 19:58:10 on 11-09, ends 20:03:00.
K1  A answers, 60 s hold, survey 5, disposition Resolved; no repeat: resolved.
K2  rings A (missed), B answers and transfers to C in Sales; C ends it, survey 2 (credited to C,
    the last agent); FCR credited to B, unresolved: the same number calls again at 10:00 (K3).
K3  the repeat caller (written 05..., local format) abandons after 6 s: a short abandon.
K4  abandons after 120 s: a long abandon.
K5  an anonymous caller answered by A: not eligible for FCR.
K6  A's outbound call, answered, 20 s hold.
K7  C answers; the same number calls again more than 24 h later (K7b, 11-11 16:00): resolved.
K8  B answers at 19:00; its 24 h window reaches past the data (horizon 11-11 18:00): pending.
K9  the last leg held (11-11 18:00): sets the horizon.
K10 rings C, the caller hangs up while it rings: C's offered and abandoned while ringing (not a miss
    of C's), the queue's short abandon.
K11 rings B, who rejects it (hangup cause CALL_REJECTED, ended by the agent, though Ziwo's result
    says cancel): B's miss, not an abandon; back in Support, the caller hangs up after 58 s of
    waiting in all: the queue's long abandon.
K12 an anonymous caller in Support at 23:57 local: B answers (8 s wait) and transfers the call, within
    Support, to A, whose leg starts at 00:00:05 the next day. One visit, answered once, with two
    handled legs: the queue report counts the visit and both legs' work on 11-10 (by the visit's
    first leg); the agent report counts B's leg on 11-10 and A's on 11-11.
K13 K7's caller calls again at 15:30 and hangs up in the IVR after 2 s (no queue, no agent): a repeat
    of K7 only under FCR repeat 'any'. (K3, K2's repeat, reached Support but no agent: a repeat under
    'any' and 'queue', not 'agent'.)
K14 a caller waits in Support until the queue routes the call on to Sales (an overflow, no agent),
    Sales routes it back to Support, and the caller hangs up there: Support -> Sales -> Support is
    two visits to Support (the first flowed out after 58 s, the second abandoned after 30 s) and one
    to Sales (flowed out after 60 s), none answered.
"""

from __future__ import annotations

import zlib
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from ziwo_reports.connectors.ziwo.records import AGENT_COLUMNS, QUEUE_COLUMNS, CallRecord, parse_call, parse_row
from ziwo_reports.contacts import refresh_contacts
from ziwo_reports.staging import Loadable, calls_table, raw_json, record_hash, reference_table
from ziwo_reports.warehouse import Warehouse

INSTANCE = "gold"
DAY = date(2026, 11, 10)
AS_OF = datetime.fromisoformat("2026-11-12T12:00:00+00:00")

AGENTS = [
    {"id": 1, "firstName": "Amal", "lastName": "A", "teamId": 10, "teamName": "Alpha", "wrapUpTime": 30},
    {"id": 2, "firstName": "Badr", "lastName": "B", "teamId": 10, "teamName": "Alpha", "wrapUpTime": 20},
    {"id": 3, "firstName": "Celia", "lastName": "C", "teamId": 20, "teamName": "Beta", "wrapUpTime": 60},
]
QUEUES = [{"id": 100, "name": "Support", "surveyRequired": True}, {"id": 200, "name": "Sales", "surveyRequired": True}]


def _t(text: str) -> str:
    return text if "T" in text else f"2026-11-10T{text}Z"


def leg(call_id: str, start: str, end: str, **fields: Any) -> dict[str, Any]:
    """A Ziwo call record; times as HH:MM:SS on 2026-11-10, or full ISO text."""
    record: dict[str, Any] = {
        "id": zlib.crc32(call_id.encode()),
        "callID": call_id,
        "primaryCallID": None,
        "direction": "inbound",
        "result": "answered",
        "hangupCause": "NORMAL_CLEARING",
        "startedAt": _t(start),
        "endedAt": _t(end),
        "tags": [],
    }
    for name in ("queueEnteredAt", "agentRingStartedAt", "answeredAt"):
        if name in fields:
            fields[name] = _t(fields[name])
    start_at, end_at = datetime.fromisoformat(_t(start)), datetime.fromisoformat(_t(end))
    record["duration"] = int((end_at - start_at).total_seconds())
    record.update(fields)
    return record


LEGS = [
    leg("c0", "2026-11-09T19:58:00Z", "2026-11-09T20:03:00Z", callerIDNumber="+971500000001", queueId=100,
        queueEnteredAt="2026-11-09T19:58:05Z", agentRingStartedAt="2026-11-09T19:58:08Z", agentId=2,
        answeredAt="2026-11-09T19:58:10Z", talkTime=290, holdTime=0),
    leg("c1", "06:00:00", "06:06:20", callerIDNumber="+971501111111", queueId=100, queueEnteredAt="06:00:10",
        agentRingStartedAt="06:00:15", agentId=1, answeredAt="06:00:20", talkTime=300, holdTime=60,
        disposition="Resolved", surveyScore=5, tags=["vip"]),
    leg("c2a", "07:00:00", "07:00:30", callerIDNumber="00971502222222", queueId=100, queueEnteredAt="07:00:05",
        agentRingStartedAt="07:00:10", agentId=1, result="timeout", hangupCause="NO_ANSWER"),
    leg("c2b", "07:00:30", "07:02:45", primaryCallID="c2a", callerIDNumber="00971502222222", queueId=100,
        queueEnteredAt="07:00:30", agentRingStartedAt="07:00:40", agentId=2, answeredAt="07:00:45", talkTime=120,
        holdTime=0, wrapUpTime=10, hangupCause="ATTENDED_TRANSFER", hangupBy="agent", disposition="Escalated"),
    leg("c2c", "07:02:45", "07:06:45", primaryCallID="c2a", callerIDNumber="00971502222222", queueId=200,
        queueEnteredAt="07:02:45", agentRingStartedAt="07:02:50", agentId=3, answeredAt="07:02:55", talkTime=200,
        holdTime=30, surveyScore=2, disposition="Resolved"),
    leg("c3", "10:00:00", "10:00:11", callerIDNumber="0502222222", queueId=100, queueEnteredAt="10:00:05",
        result="cancel", hangupCause="ORIGINATOR_CANCEL", hangupBy="customer", queueWaitTime=6),
    leg("c4", "11:00:00", "11:02:10", callerIDNumber="+971504444444", queueId=100, queueEnteredAt="11:00:10",
        result="cancel", hangupCause="ORIGINATOR_CANCEL", hangupBy="customer", queueWaitTime=120),
    leg("c5", "12:00:00", "12:01:52", callerIDNumber="anonymous", queueId=100, queueEnteredAt="12:00:05",
        agentRingStartedAt="12:00:08", agentId=1, answeredAt="12:00:12", talkTime=100, holdTime=0, wrapUpTime=0,
        disposition="Information provided"),
    leg("c6", "13:00:00", "13:01:20", direction="outbound", callerIDNumber="+971506666666", agentId=1,
        answeredAt="13:00:10", ringTime=10, talkTime=50, holdTime=20),
    leg("c7", "14:00:00", "14:01:40", callerIDNumber="+971507777777", queueId=200, queueEnteredAt="14:00:05",
        agentRingStartedAt="14:00:07", agentId=3, answeredAt="14:00:10", talkTime=90, holdTime=0),
    leg("c7b", "2026-11-11T16:00:00Z", "2026-11-11T16:02:00Z", callerIDNumber="+971507777777", queueId=200,
        queueEnteredAt="2026-11-11T16:00:05Z", agentRingStartedAt="2026-11-11T16:00:07Z", agentId=3,
        answeredAt="2026-11-11T16:00:10Z", talkTime=110, holdTime=0),
    leg("c8", "19:00:00", "19:01:15", callerIDNumber="+971508888888", queueId=100, queueEnteredAt="19:00:05",
        agentRingStartedAt="19:00:10", agentId=2, answeredAt="19:00:15", talkTime=60, holdTime=0),
    leg("c9", "2026-11-11T18:00:00Z", "2026-11-11T18:01:00Z", callerIDNumber="+971509999999", queueId=100,
        queueEnteredAt="2026-11-11T18:00:02Z", agentRingStartedAt="2026-11-11T18:00:03Z", agentId=1,
        answeredAt="2026-11-11T18:00:05Z", talkTime=55, holdTime=0),
    leg("c10", "15:00:00", "15:00:14", callerIDNumber="+971501010101", queueId=200, queueEnteredAt="15:00:05",
        agentRingStartedAt="15:00:10", agentId=3, result="cancel", hangupCause="ORIGINATOR_CANCEL",
        hangupBy="customer", ringTime=4),
    leg("c11a", "07:10:00", "07:10:09", callerIDNumber="+971501111122", queueId=100, queueEnteredAt="07:10:02",
        agentRingStartedAt="07:10:06", agentId=2, result="cancel", hangupCause="CALL_REJECTED", hangupBy="agent",
        ringTime=3),
    leg("c11b", "07:10:09", "07:11:00", primaryCallID="c11a", callerIDNumber="+971501111122", queueId=100,
        queueEnteredAt="07:10:09", result="cancel", hangupCause="ORIGINATOR_CANCEL", hangupBy="customer",
        queueWaitTime=51),
    leg("c12a", "19:57:50", "20:00:05", callerIDNumber="anonymous", queueId=100, queueEnteredAt="19:57:52",
        agentRingStartedAt="19:57:55", agentId=2, answeredAt="19:58:00", talkTime=125, holdTime=0, wrapUpTime=5,
        hangupCause="BLIND_TRANSFER", hangupBy="agent"),
    leg("c12b", "20:00:05", "20:01:00", primaryCallID="c12a", callerIDNumber="anonymous", queueId=100,
        queueEnteredAt="20:00:05", agentRingStartedAt="20:00:07", agentId=1, answeredAt="20:00:10", talkTime=50,
        holdTime=0, wrapUpTime=5),
    leg("c13", "15:30:00", "15:30:02", callerIDNumber="+971507777777", result="cancel", hangupCause="ORIGINATOR_CANCEL",
        hangupBy="customer", ivrTime=2),
    leg("c14a", "07:30:00", "07:31:00", callerIDNumber="+971501414141", queueId=100, queueEnteredAt="07:30:02",
        result="timeout", hangupCause="NO_ANSWER", hangupBy="system", queueWaitTime=58),
    leg("c14b", "07:31:00", "07:32:00", primaryCallID="c14a", callerIDNumber="+971501414141", queueId=200,
        queueEnteredAt="07:31:00", result="timeout", hangupCause="NO_ANSWER", hangupBy="system", queueWaitTime=60),
    leg("c14c", "07:32:00", "07:32:30", primaryCallID="c14a", callerIDNumber="+971501414141", queueId=100,
        queueEnteredAt="07:32:00", result="cancel", hangupCause="ORIGINATOR_CANCEL", hangupBy="customer",
        queueWaitTime=30),
]  # fmt: skip


def load(warehouse: Warehouse, instance: str = INSTANCE, legs: list[dict] | None = None) -> None:
    """Load legs, agents and queues through the warehouse's own SQL, and set the cursor."""
    records = [parse_call(raw) for raw in (legs or LEGS)]
    assert all(isinstance(r, CallRecord) for r in records), [r for r in records if not isinstance(r, CallRecord)]
    con = warehouse.con
    with warehouse.transaction():
        by_day: dict[date, list[Loadable]] = {}
        for record in records:
            text = raw_json(record.raw)
            day = record.started_at.date()  # the fixture's source day: not used by the metrics
            by_day.setdefault(day, []).append(Loadable(record, text, record_hash(text)))
        for day, loadables in by_day.items():
            con.register("staged_calls", calls_table(instance, day, loadables))
            warehouse.run("load_calls", run_id=1)
            con.unregister("staged_calls")
            refresh_contacts(warehouse, "971")
        for name, items, columns in (("agents", AGENTS, AGENT_COLUMNS), ("queues", QUEUES, QUEUE_COLUMNS)):
            con.register(f"staged_{name}", reference_table(instance, [parse_row(i, columns) for i in items], columns))
            warehouse.run(f"upsert_{name}", instance=instance)
            con.unregister(f"staged_{name}")
        latest = max(r.started_at for r in records)
        warehouse.run("save_cursor", instance=instance, stream="calls", cursor=latest, run_id=1)


def rows_by_group(table: pa.Table) -> dict[Any, dict[str, Any]]:
    return {row["group_id"]: row for row in table.to_pylist()}


def report_of(warehouse: Warehouse, report: str = "agent-performance", interval: str = "hour") -> Any:
    """A report of the golden day, in Asia/Dubai, at AS_OF: what the delivery tests send."""
    from ziwo_reports.report import compute_report
    from ziwo_reports.report_model import make_spec

    spec = make_spec(
        report=report, instance=INSTANCE, rolling_date="custom", start=DAY, end=DAY, timezone="Asia/Dubai",
        interval=interval, as_of=AS_OF,
    )  # fmt: skip
    return compute_report(warehouse, spec)
