"""Agent and queue metrics against the golden fixture (tests/golden.py), values worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tests import golden
from ziwo_reports.report import compute_report
from ziwo_reports.report_model import make_spec
from ziwo_reports.warehouse import open_warehouse


@pytest.fixture(scope="module")
def warehouse():
    with open_warehouse(":memory:") as wh:
        golden.load(wh)
        yield wh


def report(warehouse, **values):
    values = {
        "instance": golden.INSTANCE,
        "timezone": "Asia/Dubai",
        "rolling_date": "custom",
        "start": golden.DAY,
        "end": golden.DAY,
        "as_of": golden.AS_OF,
        **values,
    }
    return compute_report(warehouse, make_spec(**values))


def agents(warehouse, **values):
    return golden.rows_by_group(report(warehouse, **values).table)


def test_agent_a_answered_missed_outbound_hold_wrap_up_fcr_csat(warehouse):
    a = agents(warehouse)[1]
    assert (a["group_name"], a["period_start"], a["period_end"], a["timezone"]) == (
        "Amal A",
        "2026-11-10T00:00:00+04:00",
        "2026-11-11T00:00:00+04:00",
        "Asia/Dubai",
    )
    # K1, K2a (rang out: result timeout, the agent's miss), K5 inbound; K6 outbound.
    assert (a["calls_offered"], a["calls_answered"], a["calls_missed"], a["outbound_calls"], a["calls_handled"]) == (
        3,
        2,
        1,
        1,
        3,
    )
    assert (a["abandoned_while_ringing"], a["calls_unanswered"]) == (0, 1)
    assert (a["total_talk_time_s"], a["avg_talk_time_s"]) == (300 + 100 + 50, 150)
    assert (a["total_hold_time_s"], a["calls_put_on_hold"], a["avg_hold_time_s"], a["longest_hold_s"]) == (
        80,
        2,
        40,
        60,
    )
    # K1 and K6 have no wrap-up of their own: A's 30 s each; K5 recorded 0.
    assert a["total_wrap_up_time_s"] == 60
    assert a["avg_handle_time_s"] == pytest.approx((450 + 80 + 60) / 3)
    assert a["avg_call_duration_s"] == pytest.approx((360 + 100 + 70) / 3)
    assert (a["transfers_out"], a["transfer_rate"]) == (0, 0.0)
    # K1 resolved; K5 anonymous, not eligible.
    assert (a["fcr_eligible"], a["fcr_resolved"], a["fcr_pending"], a["fcr_rate"]) == (1, 1, 0, 1.0)
    assert (a["csat_responses"], a["csat_avg"], a["csat_top2_rate"]) == (1, 5.0, 1.0)


def test_agent_b_transfer_unresolved_and_pending_fcr(warehouse):
    b = agents(warehouse)[2]
    # K2b, K8 and K12a answered; K11a rang B, who rejected it: B's miss although Ziwo's result says cancel.
    assert (b["calls_offered"], b["calls_answered"], b["calls_missed"], b["outbound_calls"], b["calls_handled"]) == (
        4,
        3,
        1,
        0,
        3,
    )
    assert (b["abandoned_while_ringing"], b["calls_unanswered"]) == (0, 1)
    assert (b["total_talk_time_s"], b["avg_talk_time_s"]) == (120 + 60 + 125, pytest.approx(305 / 3))
    assert (b["total_hold_time_s"], b["calls_put_on_hold"], b["longest_hold_s"]) == (0, 0, 0)
    assert b["avg_hold_time_s"] is None  # no leg put on hold: NULL, not zero
    assert b["total_wrap_up_time_s"] == 10 + 20 + 5  # K2b recorded 10 s; K8 takes B's 20 s; K12a recorded 5 s
    assert b["avg_handle_time_s"] == pytest.approx((305 + 0 + 35) / 3)
    # K2b and K12a were transferred onward
    assert (b["transfers_out"], b["transfer_rate"]) == (2, pytest.approx(2 / 3))
    # K2 first answered by B, repeat within 24 h: unresolved. K8: window past the data: pending.
    # K12: anonymous, not eligible.
    assert (b["fcr_eligible"], b["fcr_resolved"], b["fcr_pending"], b["fcr_rate"]) == (2, 0, 1, 0.0)
    # K2's survey goes to C, the last agent.
    assert (b["csat_responses"], b["csat_avg"], b["csat_top2_rate"]) == (0, None, None)


def test_agent_c_transfer_recipient_abandon_while_ringing_and_csat(warehouse):
    c = agents(warehouse)[3]
    # K2c and K7 answered; K10 rang C and the caller hung up while it rang: not C's miss.
    assert (c["calls_offered"], c["calls_answered"], c["calls_missed"], c["calls_handled"]) == (3, 2, 0, 2)
    assert (c["abandoned_while_ringing"], c["calls_unanswered"]) == (1, 1)
    assert (c["total_talk_time_s"], c["total_hold_time_s"], c["total_wrap_up_time_s"]) == (290, 30, 120)
    assert c["avg_handle_time_s"] == 220
    assert c["avg_call_duration_s"] == 160
    assert (c["fcr_eligible"], c["fcr_resolved"], c["fcr_pending"], c["fcr_rate"]) == (1, 1, 0, 1.0)
    assert (c["csat_responses"], c["csat_avg"], c["csat_top2_rate"]) == (1, 2.0, 0.0)


def test_no_grouping_totals(warehouse):
    (total,) = report(warehouse, group_by="none").table.to_pylist()
    assert (total["group_id"], total["group_name"]) == (None, "all")
    # offered: A 3, B 4 (K11a, K12a included), C 3 = 10; missed: K2a (timeout) and K11a (rejected); K10
    # rang out to the caller's hang-up: abandoned while ringing. 10 offered = 7 answered + 2 missed + 1.
    # (K12b, A's, started on 11-11: not in this day.)
    assert (total["calls_offered"], total["calls_answered"], total["calls_missed"], total["calls_handled"]) == (
        10,
        7,
        2,
        8,
    )
    assert (total["abandoned_while_ringing"], total["calls_unanswered"]) == (1, 3)
    # K12a adds 125 s of talk and 5 s of wrap-up to the 920, 110 and 210 of the other seven handled legs
    assert total["avg_handle_time_s"] == pytest.approx((920 + 125 + 110 + 210 + 5) / 8)
    assert (total["fcr_eligible"], total["fcr_resolved"], total["fcr_pending"]) == (4, 2, 1)
    assert total["fcr_rate"] == pytest.approx(2 / 3)
    assert (total["csat_responses"], total["csat_avg"], total["csat_top2_rate"]) == (2, 3.5, 0.5)


def test_outbound_legs_grouped_by_queue_fall_under_no_queue(warehouse):
    by_queue = agents(warehouse, group_by="queue")
    # K6, A's outbound call, has no queue; the inbound legs are Support's and Sales'
    assert set(by_queue) == {None, 100, 200}
    assert (by_queue[None]["group_name"], by_queue[None]["outbound_calls"], by_queue[None]["calls_handled"]) == (
        "(no queue)",
        1,
        1,
    )
    assert by_queue[100]["outbound_calls"] == by_queue[200]["outbound_calls"] == 0


def test_teams(warehouse):
    teams = agents(warehouse, group_by="team")
    assert {k: (v["group_name"], v["calls_handled"]) for k, v in teams.items()} == {10: ("Alpha", 6), 20: ("Beta", 2)}


def test_configurable_choices(warehouse):
    first = agents(warehouse, settings={"csat_credit": "first"})
    assert (first[2]["csat_responses"], first[2]["csat_avg"]) == (1, 2.0) and first[3]["csat_responses"] == 0
    handled = agents(warehouse, settings={"hold_average": "handled"})
    assert handled[1]["avg_hold_time_s"] == pytest.approx(80 / 3) and handled[2]["avg_hold_time_s"] == 0
    by_disposition = agents(warehouse, settings={"fcr_source": "disposition"})
    # K2 has a leg disposed Resolved; K8 and K7 have none; nothing is pending by disposition.
    assert [(by_disposition[i]["fcr_resolved"], by_disposition[i]["fcr_pending"]) for i in (1, 2, 3)] == [
        (1, 0),
        (1, 0),
        (0, 0),
    ]
    both = agents(warehouse, settings={"fcr_source": "both"})
    assert [both[i]["fcr_resolved"] for i in (1, 2, 3)] == [1, 0, 0]
    short_window = agents(warehouse, settings={"fcr_window": timedelta(hours=2)})
    # K3 came 2 h 53 min after K2 ended: outside a 2 h window; K8's 2 h window is inside the data now.
    assert (short_window[2]["fcr_resolved"], short_window[2]["fcr_pending"]) == (2, 0)


def test_wrap_up_without_a_record_takes_the_configured_time_or_none_and_is_counted(warehouse):
    configured, none = agents(warehouse), agents(warehouse, settings={"wrap_up_fallback": "none"})
    # A: K1 and K6 have no wrap-up of their own (A's configured 30 s each), K5 recorded 0.
    # B: K2b recorded 10, K8 has none (B's 20 s). C: K2c and K7 have none (C's 60 s each).
    assert {k: (v["total_wrap_up_time_s"], v["wrap_up_estimated_legs"]) for k, v in configured.items()} == {
        1: (60, 2),
        2: (35, 1),
        3: (120, 2),
    }
    # none: only what Ziwo recorded; no leg estimated.
    assert {k: (v["total_wrap_up_time_s"], v["wrap_up_estimated_legs"]) for k, v in none.items()} == {
        1: (0, 0),
        2: (10 + 5, 0),
        3: (0, 0),
    }
    # averages per handled leg: A 60 / 3, B 35 / 3, C 120 / 2
    assert [configured[k]["avg_wrap_up_time_s"] for k in (1, 2, 3)] == [20, pytest.approx(35 / 3), 60]
    assert none[1]["avg_handle_time_s"] == pytest.approx((450 + 80 + 0) / 3)
    assert none[2]["avg_handle_time_s"] == pytest.approx((305 + 0 + 15) / 3)
    assert none[3]["avg_handle_time_s"] == (290 + 30 + 0) / 2
    queues = golden.rows_by_group(report(warehouse, report="queue-performance").table)
    # Support's handled legs: K1 (estimated), K2b (recorded), K5 (recorded 0), K8 (estimated), K12a and K12b
    # (recorded 5 each); Sales: K2c, K7.
    assert [(queues[q]["total_wrap_up_time_s"], queues[q]["wrap_up_estimated_legs"]) for q in (100, 200)] == [
        (30 + 10 + 0 + 20 + 5 + 5, 2),
        (120, 2),
    ]
    assert [queues[q]["avg_wrap_up_time_s"] for q in (100, 200)] == [70 / 5, 120 / 2]  # per answered visit
    details = {d["call_id"]: d for d in report(warehouse, report="call-details").table.to_pylist()}
    # a leg nobody answered did no after-call work: K2a rang A out, K10 rang C, K11a was B's reject
    assert [(details[c]["wrap_up_time_s"], details[c]["wrap_up_estimated"]) for c in ("c1", "c2b", "c5", "c2a")] == [
        (30, True),
        (10, False),
        (0, False),
        (0, False),
    ]
    bare = {d["call_id"]: d for d in report(warehouse, report="call-details", settings={"wrap_up_fallback": "none"})
            .table.to_pylist()}  # fmt: skip
    assert (bare["c1"]["wrap_up_time_s"], bare["c1"]["wrap_up_estimated"]) == (0, False)


@pytest.mark.parametrize(
    ("repeat", "expected"),
    [
        # K7 (C): K13, its caller's 2-second IVR hang-up 1 h 28 min later, counts only as 'any' call back
        # (K7b, which reached an agent, came after 24 h).
        # K2 (B): K3 reached Support but nobody answered: a repeat under 'any' and 'queue', not 'agent'.
        # K8 (B) stays pending; K1 (A) resolved.
        ("any", {1: (1, 1, 0), 2: (2, 0, 1), 3: (1, 0, 0)}),
        ("queue", {1: (1, 1, 0), 2: (2, 0, 1), 3: (1, 1, 0)}),
        ("agent", {1: (1, 1, 0), 2: (2, 1, 1), 3: (1, 1, 0)}),
    ],
)
def test_what_counts_as_a_repeat_call(warehouse, repeat, expected):
    rows = agents(warehouse, settings={"fcr_repeat": repeat})
    assert {k: (v["fcr_eligible"], v["fcr_resolved"], v["fcr_pending"]) for k, v in rows.items()} == expected


def test_the_default_repeat_is_a_call_back_that_reached_a_queue(warehouse):
    assert agents(warehouse) == agents(warehouse, settings={"fcr_repeat": "queue"})


def test_a_leg_belongs_to_the_window_of_its_start_or_its_end(warehouse):
    by_end = agents(warehouse, settings={"attribute_by": "end"})
    # K0 started on 11-09 (Dubai 23:58) and ended on 11-10 (00:03): B's by end (with K2b, K8, K11a).
    assert (by_end[2]["calls_offered"], by_end[2]["calls_handled"], by_end[2]["total_talk_time_s"]) == (4, 3, 470)
    assert (by_end[2]["fcr_eligible"], by_end[2]["fcr_resolved"], by_end[2]["fcr_pending"]) == (3, 1, 1)


#: calls_handled per agent of the golden day, unfiltered.
ALL = {1: 3, 2: 3, 3: 2}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"agent_ids": [1]}, {1: 3}),
        ({"team_ids": [20]}, {3: 2}),
        ({"queue_ids": [200]}, {3: 2}),
        # the agents' misses: K2a (A, rang out) and K11a (B, rejected); not K10 (C: the caller hung up)
        ({"outcomes": ["missed"]}, {1: 0, 2: 0}),
        ({"outcomes": ["successful"]}, {1: 3, 2: 3, 3: 2}),
        ({"outcomes": ["transferred"]}, {2: 2}),
        ({"directions": ["outbound"]}, {1: 1}),
        ({"tags": ["vip", "other"]}, {1: 1}),
        ({"min_duration_s": 200}, {1: 1, 3: 1}),
        # a list switched on in the Prefect form and left empty filters nothing out
        ({"agent_ids": [], "team_ids": [], "queue_ids": [], "outcomes": [], "directions": [], "tags": []}, ALL),
    ],
)
def test_filters(warehouse, filters, expected):
    rows = agents(warehouse, filters=filters)
    assert {k: v["calls_handled"] for k, v in rows.items()} == expected


def test_abandoned_filter_has_no_agent_rows_but_queue_rows(warehouse):
    # The caller hung up: K3, K4, K11b, K14c (no agent) and K10 (rang C); not K11a, which B rejected.
    rows = agents(warehouse, filters={"outcomes": ["abandoned"]})
    assert set(rows) == {3}
    assert (rows[3]["calls_offered"], rows[3]["calls_missed"], rows[3]["abandoned_while_ringing"]) == (1, 0, 1)
    assert rows[3]["calls_handled"] == 0
    queue = golden.rows_by_group(
        report(warehouse, report="queue-performance", filters={"outcomes": ["abandoned"]}).table
    )
    assert {k: v["calls_abandoned"] for k, v in queue.items()} == {100: 4, 200: 1}


def test_queue_report(warehouse):
    queues = golden.rows_by_group(report(warehouse, report="queue-performance").table)
    support, sales = queues[100], queues[200]
    assert (support["group_name"], sales["group_name"]) == ("Support", "Sales")
    assert set(queues) == {100, 200}  # the outbound call has no queue
    # Every column counts visits placed by their first leg. Support: K1 (wait 10), K2 (40: it rang A first),
    # K5 (7), K8 (10), K12 (8) answered; K3 (6 s), K4 (120 s), K11 (58 s: entered 07:10:02, rejected by B,
    # the caller left the queue at 07:11:00) and K14's second visit (30 s) abandoned; K14's first visit
    # flowed out to Sales after 58 s (neither answered nor abandoned). K0's first leg is the day before.
    assert (
        support["calls_offered"],
        support["calls_answered"],
        support["calls_abandoned"],
        support["short_abandoned"],
    ) == (10, 5, 4, 1)
    assert support["abandon_rate"] == pytest.approx(4 / 10)
    assert support["service_level_rate"] == pytest.approx(4 / (5 + 4 - 1))  # K1, K5, K8, K12 within 20 s
    assert (support["asa_s"], support["longest_wait_s"]) == ((10 + 40 + 7 + 10 + 8) / 5, 120)
    assert support["avg_wait_s"] == pytest.approx((10 + 40 + 6 + 120 + 7 + 10 + 58 + 8 + 58 + 30) / 10)
    # K2a rang out on A, K11a was rejected by B: two legs missed; nobody hung up on a ringing phone here.
    assert (support["missed_legs"], support["abandoned_while_ringing"]) == (2, 0)
    # The answered visits' handled legs: K1 (300 talk, 60 hold, A's 30 wrap-up), K2b (120, 0, 10), K5 (100, 0, 0),
    # K8 (60, 0, B's 20) and both of K12's (125 + 50 talk, 5 + 5 wrap-up: K12b started the next day, but the
    # visit began on this one). Per answered visit: (755 + 60 + 70) / 5.
    assert (support["total_talk_time_s"], support["total_hold_time_s"], support["total_wrap_up_time_s"]) == (
        755,
        60,
        70,
    )
    assert support["avg_handle_time_s"] == (755 + 60 + 70) / 5 and support["avg_talk_time_s"] == 755 / 5
    assert (support["calls_put_on_hold"], support["avg_hold_time_s"], support["longest_hold_s"]) == (1, 60, 60)
    assert (support["transfers_out"], support["transfer_rate"]) == (2, 2 / 5)  # K2 to Sales, K12 within Support
    assert (support["fcr_eligible"], support["fcr_resolved"], support["fcr_pending"], support["fcr_rate"]) == (
        3,
        1,
        1,
        0.5,
    )
    assert (support["csat_responses"], support["csat_avg"]) == (1, 5.0)
    # Sales: K2 after the transfer (wait 10), K7 (5) answered; K10 hung up while C's phone rang, after 9 s;
    # K14 flowed back to Support after 60 s.
    assert (sales["missed_legs"], sales["abandoned_while_ringing"]) == (0, 1)
    assert (sales["calls_offered"], sales["calls_answered"], sales["calls_abandoned"], sales["short_abandoned"]) == (
        4,
        2,
        1,
        1,
    )
    assert (sales["service_level_rate"], sales["asa_s"], sales["avg_wait_s"], sales["longest_wait_s"]) == (
        1.0,
        7.5,
        (10 + 5 + 9 + 60) / 4,
        60,
    )
    assert sales["avg_handle_time_s"] == (200 + 30 + 60 + 90 + 0 + 60) / 2  # K2c and K7, C's 60 s wrap-up each
    assert (sales["csat_responses"], sales["csat_avg"], sales["csat_top2_rate"]) == (1, 2.0, 0.0)
    assert "calls_handled" not in queues[100] and "calls_missed" not in queues[100]


def test_a_queue_visit_answered_once_with_two_handled_legs_is_one_answered_visit(warehouse):
    """K12: one visit to Support, answered by B and transferred within the queue to A on the next day.
    The queue counts one answered visit holding both legs' work; the agent report, by leg, splits it
    over two days."""
    queue = golden.rows_by_group(report(warehouse, report="queue-performance", group_by="none").table)[None]
    by_queue = agents(warehouse, group_by="queue")[100]
    # agent legs of Support on 11-10: K1, K2b, K5, K8, K12a handled (K12b is A's on 11-11)
    assert (by_queue["calls_handled"], by_queue["total_talk_time_s"]) == (5, 300 + 120 + 100 + 60 + 125)
    # the queue report, by visit: Support's 5 and Sales' 2 answered visits; Support's talk includes K12b's 50 s
    assert (queue["calls_answered"], queue["total_talk_time_s"]) == (5 + 2, 755 + 290)
    next_day = dict(start=golden.DAY + timedelta(days=1), end=golden.DAY + timedelta(days=1))
    a_next_day = agents(warehouse, **next_day)[1]
    assert (a_next_day["calls_handled"], a_next_day["total_talk_time_s"]) == (2, 50 + 55)  # K12b and K9
    queue_next_day = golden.rows_by_group(report(warehouse, report="queue-performance", **next_day).table)
    # 11-11: K9 and K7b (each a visit of its own); K12's visit belongs to 11-10
    assert {k: (v["calls_answered"], v["total_talk_time_s"]) for k, v in queue_next_day.items()} == {
        100: (1, 55),
        200: (1, 110),
    }


def test_a_contact_that_goes_queue_a_to_b_and_back_to_a_makes_two_visits_to_a(warehouse):
    """K14: Support -> Sales -> Support. A visit is a run of the contact's legs in one queue, so
    Support was offered the caller twice; each visit has its own wait and outcome."""
    hours = [
        r
        for r in report(warehouse, report="queue-performance", interval="hour").table.to_pylist()
        if r["period_start"] == "2026-11-10T11:00:00+04:00"
    ]
    support, sales = ({r["group_id"]: r for r in hours}[q] for q in (100, 200))
    # 07:00Z: K2 (answered), K11 (abandoned) and K14's two visits (flowed out 58 s; abandoned 30 s)
    assert (support["calls_offered"], support["calls_answered"], support["calls_abandoned"]) == (4, 1, 2)
    assert support["longest_wait_s"] == 58 and support["avg_wait_s"] == pytest.approx((40 + 58 + 58 + 30) / 4)
    # 07:00Z: K2c (answered) and K14's visit (flowed out after 60 s)
    assert (sales["calls_offered"], sales["calls_answered"], sales["calls_abandoned"]) == (2, 1, 0)


def test_queue_settings(warehouse):
    strict = golden.rows_by_group(
        report(warehouse, report="queue-performance", settings={"short_abandon_s": 5, "service_level_s": 9}).table
    )
    support = strict[100]
    assert support["short_abandoned"] == 0
    # only K5 (7 s) and K12 (8 s) within 9 s, of 5 answered + 4 abandoned (none short under 5 s)
    assert support["service_level_rate"] == pytest.approx(2 / (5 + 4))


def test_call_details_are_legs_with_local_times(warehouse):
    details = report(warehouse, report="call-details").table.to_pylist()
    assert [d["call_id"] for d in details] == [
        *("c1", "c2a", "c2b", "c2c", "c11a", "c11b", "c14a", "c14b", "c14c", "c3", "c4", "c5", "c6"),
        *("c7", "c10", "c13", "c8", "c12a"),
    ]
    first = details[0]
    assert first["started_at_local"] == "2026-11-10T10:00:00+04:00" and first["agent_name"] == "Amal A"
    assert first["tags"] == ["vip"] and first["team_name"] == "Alpha"
    fixed = report(warehouse, report="call-details", timezone="UTC-12:00", start=golden.DAY, end=golden.DAY).table
    assert fixed.num_rows >= 1 and fixed["started_at_local"][0].as_py().endswith("-12:00")


def test_intervals_split_the_day(warehouse):
    hours = report(warehouse, interval="hour").table.to_pylist()
    k1 = [r for r in hours if r["group_id"] == 1 and r["period_start"] == "2026-11-10T10:00:00+04:00"]
    assert len(k1) == 1 and k1[0]["calls_handled"] == 1 and k1[0]["period_end"] == "2026-11-10T11:00:00+04:00"
    assert sum(r["calls_handled"] for r in hours) == 8


def test_an_empty_window_gives_no_rows(warehouse):
    assert (
        report(warehouse, start=golden.DAY + timedelta(days=10), end=golden.DAY + timedelta(days=10)).table.num_rows
        == 0
    )


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata", "UTC-12:00", "UTC+14:00"])
def test_every_leg_lands_in_the_interval_whose_labels_hold_it(zone):
    """The SQL numbers periods by arithmetic (local days, weeks, months, fixed steps); Python
    writes their labels. Legs every 13 minutes over the 2026-11-01 DST change and a month's end
    must each fall inside the labels of the period they were counted in."""
    start = datetime(2026, 10, 30, tzinfo=UTC)
    legs = [
        golden.leg(
            f"k{n}", (at := start + timedelta(minutes=13 * n)).isoformat(), (at + timedelta(seconds=30)).isoformat()
        )
        for n in range(4 * 24 * 60 // 13)
    ]
    with open_warehouse(":memory:") as wh:
        golden.load(wh, legs=legs)
        for interval in ("15m", "hour", "day", "week", "month"):
            spec = make_spec(
                report="call-details", instance=golden.INSTANCE, timezone=zone, rolling_date="custom",
                start=date(2026, 10, 31), end=date(2026, 11, 2), as_of=golden.AS_OF, interval=interval,
            )  # fmt: skip
            rows = compute_report(wh, spec).table.to_pylist()
            assert len(rows) > 200
            for row in rows:
                period = (datetime.fromisoformat(row["period_start"]), datetime.fromisoformat(row["period_end"]))
                assert period[0] <= row["started_at"] < period[1], (interval, row["call_id"], period)


def test_call_details_local_times_of_instants_with_fractions_of_a_second():
    legs = [golden.leg("f1", "2026-11-10T10:00:00.250Z", "2026-11-10T10:01:00.750Z")]
    with open_warehouse(":memory:") as wh:
        golden.load(wh, legs=legs)
        spec = make_spec(
            report="call-details", instance=golden.INSTANCE, timezone="UTC+05:30", rolling_date="custom",
            start=golden.DAY, end=golden.DAY, as_of=golden.AS_OF,
        )  # fmt: skip
        (row,) = compute_report(wh, spec).table.to_pylist()
    assert (row["started_at_local"], row["ended_at_local"]) == (
        "2026-11-10T15:30:00+05:30",
        "2026-11-10T15:31:00+05:30",
    )


def test_a_report_over_all_instances_keeps_each_instance_s_contacts_apart():
    """Two instances holding the same call ids (ids are unique per instance only): the report over
    all instances gives each instance exactly its own report, FCR and CSAT included."""
    with open_warehouse(":memory:") as wh:
        golden.load(wh)
        golden.load(wh, instance="other")
        alone = agents(wh)
        both = report(wh, instance=None, report="agent-performance").table.to_pylist()
    assert {row["instance"] for row in both} == {golden.INSTANCE, "other"}
    for instance in (golden.INSTANCE, "other"):
        rows = {row["group_id"]: row for row in both if row["instance"] == instance}
        assert rows.keys() == alone.keys()
        for agent, row in rows.items():
            assert {**row, "instance": golden.INSTANCE} == alone[agent], (instance, agent)
    assert sum(row["fcr_eligible"] for row in alone.values()) > 0
    assert sum(row["csat_responses"] for row in alone.values()) > 0
