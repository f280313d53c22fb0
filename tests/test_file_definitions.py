"""Every column of every report has a definition: a new SQL column without one fails here."""

from __future__ import annotations

import pytest

from tests.file_reports import simulator_reports
from ziwo_reports.metric_definitions import KINDS, UndefinedColumnError, definition, definitions


@pytest.mark.parametrize("name", ["agent-performance", "agent-performance-daily", "queue-performance", "call-details"])
def test_every_column_of_a_real_report_is_defined(name):
    report = simulator_reports()[name]
    for meaning in definitions(report.spec.report, report.table.column_names):
        assert meaning.label and meaning.formula and meaning.kind in KINDS, meaning


def test_kinds_follow_the_column_conventions():
    for report in ("agent-performance", "queue-performance", "call-details"):
        table = simulator_reports()[report].table
        for column in table.column_names:
            kind = definition(report, column).kind
            if column.endswith("_s"):
                assert kind == "duration", column
            elif column.endswith("_rate"):
                assert kind == "rate", column
            elif kind == "rate":
                raise AssertionError(f"{column}: every ratio is named *_rate, a fraction 0..1")
            elif column in ("period_start", "period_end") or column.endswith("ed_at"):
                assert kind == "time", column


def test_queue_counts_are_worded_as_visits_and_an_unknown_column_is_named():
    assert "Visits" in definition("queue-performance", "calls_offered").formula
    assert "rang the agent" in definition("agent-performance", "calls_offered").formula
    with pytest.raises(UndefinedColumnError, match="'calls_juggled' of report 'agent-performance'"):
        definition("agent-performance", "calls_juggled")
