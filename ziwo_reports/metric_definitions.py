"""What each report column means: a label, a kind (which tells files how to show it) and its formula,
worded as docs/metrics.md words it. Files take their number formats and their Definitions sheet from
here; a test checks that every column of every report has an entry, so a new SQL column needs one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

#: id: a key; text, time (an instant or a period bound), count, duration (seconds), rate (every ratio:
#: a fraction 0..1, named `*_rate`, shown as a percentage), score (CSAT 1..5), flag (true/false).
Kind = Literal["id", "text", "time", "count", "duration", "rate", "score", "flag"]
KINDS: tuple[Kind, ...] = Kind.__args__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Definition:
    column: str
    label: str
    kind: Kind
    formula: str


# Columns that mean the same in every report: (label, kind, formula).
_COMMON: dict[str, tuple[str, Kind, str]] = {
    "instance": ("Instance", "text", "The Ziwo instance (call center) the row comes from."),
    "group_id": ("Group id", "id", "The agent, team or queue id of the row (by group by); empty for group by none."),
    "group_name": ("Group", "text", "The agent's, team's or queue's name; 'all' for group by none."),
    "period_start": ("Period start", "time", "Start of the row's interval (or of the window), in the report zone."),
    "period_end": ("Period end", "time", "End of the row's interval (or of the window), excluded, in the report zone."),
    "timezone": ("Time zone", "text", "The report zone: an IANA name or a UTC offset."),
    "calls_offered": ("Calls offered", "count", "Inbound legs that rang the agent."),
    "calls_answered": ("Calls answered", "count", "Inbound legs the agent answered."),
    "calls_missed": (
        "Calls missed",
        "count",
        "Inbound legs that rang the agent and that nobody answered, the caller not hanging up first: the ring "
        "timed out (result timeout) or the agent rejected it (hangup cause CALL_REJECTED or USER_BUSY, or ended "
        "by the agent).",
    ),
    "abandoned_while_ringing": (
        "Abandoned while ringing",
        "count",
        "Inbound legs that rang the agent and that nobody answered because the caller hung up first "
        "(result cancel, not ended by the agent, hangup cause not CALL_REJECTED or USER_BUSY).",
    ),
    "calls_unanswered": (
        "Calls unanswered",
        "count",
        "calls_missed + abandoned_while_ringing: inbound legs that rang the agent and that nobody answered.",
    ),
    "outbound_calls": ("Outbound calls", "count", "Outbound legs of the agent."),
    "calls_handled": ("Calls handled", "count", "Legs the agent handled, inbound or outbound."),
    "total_talk_time_s": ("Total talk time", "duration", "Sum of talk_time_s over handled legs."),
    "avg_talk_time_s": ("Average talk time", "duration", "total_talk_time_s ÷ calls_handled."),
    "total_hold_time_s": ("Total hold time", "duration", "Sum of hold_time_s over handled legs."),
    "calls_put_on_hold": ("Calls put on hold", "count", "Handled legs with hold_time_s > 0."),
    "avg_hold_time_s": (
        "Average hold time",
        "duration",
        "total_hold_time_s ÷ calls_put_on_hold (hold average 'held'; or ÷ calls_handled, 'handled').",
    ),
    "longest_hold_s": ("Longest hold", "duration", "Largest hold_time_s of a handled leg."),
    "total_wrap_up_time_s": (
        "Total wrap-up time",
        "duration",
        "Sum of the wrap-up of handled legs: recorded, else (wrap-up fallback 'configured') the agent's "
        "configured wrap-up time, else 0.",
    ),
    "avg_wrap_up_time_s": ("Average wrap-up time", "duration", "total_wrap_up_time_s ÷ calls_handled."),
    "wrap_up_estimated_legs": (
        "Wrap-up estimated (legs)",
        "count",
        "Handled legs without a recorded wrap-up whose wrap-up is the agent's configured time (wrap-up "
        "fallback 'configured'; 0 with 'none').",
    ),
    "avg_handle_time_s": (
        "Average handle time (AHT)",
        "duration",
        "(total_talk_time_s + total_hold_time_s + total_wrap_up_time_s) ÷ calls_handled.",
    ),
    "avg_call_duration_s": (
        "Average call duration",
        "duration",
        "Average of ended_at − answered_at over handled legs.",
    ),
    "transfers_out": ("Transfers out", "count", "Handled legs transferred onward."),
    "transfer_rate": ("Transfer rate", "rate", "transfers_out ÷ calls_handled."),
    "fcr_eligible": (
        "FCR eligible",
        "count",
        "Contacts credited to the group for first-call resolution: an inbound leg an agent answered, "
        "caller number not withheld; credited to the agent of the first such leg.",
    ),
    "fcr_resolved": ("FCR resolved", "count", "Of the eligible contacts, those resolved."),
    "fcr_pending": (
        "FCR pending",
        "count",
        "Of the eligible contacts, those whose FCR window reaches past the data the warehouse holds.",
    ),
    "fcr_rate": ("FCR rate", "rate", "fcr_resolved ÷ (fcr_eligible − fcr_pending)."),
    "csat_responses": ("CSAT responses", "count", "Contacts with a survey score, credited to the group."),
    "csat_avg": ("CSAT average", "score", "Average score (1–5) of those contacts."),
    "csat_top2_rate": ("CSAT % (4–5)", "rate", "Those scoring 4 or 5 ÷ csat_responses."),
}

# Where queue-performance counts visits (a contact's stay in a queue) instead of agent legs.
_QUEUE: dict[str, tuple[str, Kind, str]] = {
    "group_id": ("Queue id", "id", "The queue id of the row; empty for group by none."),
    "group_name": ("Queue", "text", "The queue's name; 'all' for group by none."),
    "calls_offered": ("Calls offered", "count", "Visits: a contact's stay in the queue."),
    "calls_answered": ("Calls answered", "count", "Visits an agent answered."),
    "calls_abandoned": (
        "Calls abandoned",
        "count",
        "Visits nobody answered whose last leg there the caller hung up (result 'cancel', not an agent's "
        "reject): in the queue or while ringing.",
    ),
    "short_abandoned": (
        "Short abandons",
        "count",
        "Abandoned visits with a wait under the short_abandon_s setting (10 s unless the Summary says otherwise).",
    ),
    "abandon_rate": ("Abandon rate", "rate", "calls_abandoned ÷ calls_offered."),
    "service_level_rate": (
        "Service level %",
        "rate",
        "Answered visits with a wait of at most the service_level_s setting (20 s unless the Summary "
        "says otherwise) ÷ "
        "(calls_answered + calls_abandoned − short_abandoned).",
    ),
    "asa_s": (
        "Average speed of answer (ASA)",
        "duration",
        "Average wait of answered visits (rings of agents who did not answer included).",
    ),
    "avg_wait_s": ("Average wait", "duration", "Average wait of all visits."),
    "longest_wait_s": ("Longest wait", "duration", "Longest wait of all visits."),
    "abandoned_while_ringing": (
        "Abandoned while ringing",
        "count",
        "Abandoned visits whose caller hung up while an agent's phone rang.",
    ),
    "missed_legs": (
        "Missed rings (legs)",
        "count",
        "Legs of the visits that rang an agent who missed them (the ring timed out or the agent rejected it): "
        "counted in legs, as a visit can ring several agents.",
    ),
    "total_talk_time_s": ("Total talk time", "duration", "Sum of talk_time_s over the visits' handled legs."),
    "avg_talk_time_s": ("Average talk time", "duration", "total_talk_time_s ÷ calls_answered."),
    "total_hold_time_s": ("Total hold time", "duration", "Sum of hold_time_s over the visits' handled legs."),
    "calls_put_on_hold": ("Calls put on hold", "count", "Answered visits with hold_time_s > 0 on a handled leg."),
    "avg_hold_time_s": (
        "Average hold time",
        "duration",
        "total_hold_time_s ÷ calls_put_on_hold (hold average 'held'; or ÷ calls_answered, 'handled').",
    ),
    "longest_hold_s": ("Longest hold", "duration", "Largest hold_time_s of a handled leg of the visits."),
    "total_wrap_up_time_s": (
        "Total wrap-up time",
        "duration",
        "Sum of the wrap-up of the visits' handled legs: recorded, else (wrap-up fallback 'configured') the "
        "agent's configured wrap-up time, else 0.",
    ),
    "avg_wrap_up_time_s": ("Average wrap-up time", "duration", "total_wrap_up_time_s ÷ calls_answered."),
    "wrap_up_estimated_legs": (
        "Wrap-up estimated (legs)",
        "count",
        "Handled legs of the visits whose wrap-up is the agent's configured time (counted in legs; 0 with "
        "wrap-up fallback 'none').",
    ),
    "avg_handle_time_s": (
        "Average handle time (AHT)",
        "duration",
        "(total_talk_time_s + total_hold_time_s + total_wrap_up_time_s) ÷ calls_answered: per answered visit.",
    ),
    "transfers_out": ("Transfers out", "count", "Answered visits an agent transferred onward."),
    "transfer_rate": ("Transfer rate", "rate", "transfers_out ÷ calls_answered."),
    "fcr_eligible": (
        "FCR eligible",
        "count",
        "Visits holding a contact's first answered inbound leg (its FCR leg), caller number not withheld.",
    ),
    "fcr_resolved": ("FCR resolved", "count", "Of those visits, the contacts resolved."),
    "fcr_pending": (
        "FCR pending",
        "count",
        "Of those visits, the contacts whose FCR window reaches past the data the warehouse holds.",
    ),
    "csat_responses": (
        "CSAT responses",
        "count",
        "Visits holding the leg a contact's survey score is credited to.",
    ),
    "csat_avg": ("CSAT average", "score", "Average score (1–5) of those visits' contacts."),
}

# call-details: one row per leg, the warehouse's columns (docs/warehouse.md).
_CALL: dict[str, tuple[str, Kind, str]] = {
    "call_id": ("Call id", "id", "Ziwo callID of the leg."),
    "contact_id": ("Contact id", "id", "The first leg's callID: legs of one contact share it."),
    "primary_call_id": ("Primary call id", "id", "The first leg's callID on later legs; empty on the first."),
    "direction": ("Direction", "text", "inbound, outbound, internal or service."),
    "caller_number": ("Caller number", "text", "The customer's number as Ziwo shows it."),
    "agent_id": ("Agent id", "id", "The agent rung or connected."),
    "agent_name": ("Agent", "text", "The agent's first and last name."),
    "team_id": ("Team id", "id", "The agent's team."),
    "team_name": ("Team", "text", "The agent's team's name."),
    "queue_id": ("Queue id", "id", "The queue of the leg."),
    "queue_name": ("Queue", "text", "The queue's name."),
    "started_at": ("Started at", "time", "The leg started."),
    "queue_entered_at": ("Queue entered at", "time", "The leg entered the queue."),
    "agent_ring_started_at": ("Agent ring started at", "time", "The agent's phone started ringing."),
    "answered_at": ("Answered at", "time", "The leg was answered; empty when it was not."),
    "ended_at": ("Ended at", "time", "The leg ended."),
    "duration_s": ("Duration", "duration", "ended_at − started_at."),
    "queue_wait_time_s": ("Queue wait", "duration", "Time waiting in the queue."),
    "ring_time_s": ("Ring time", "duration", "Time ringing."),
    "talk_time_s": ("Talk time", "duration", "Time talking, hold excluded."),
    "hold_time_s": ("Hold time", "duration", "Time on hold."),
    "wrap_up_time_s": (
        "Wrap-up time",
        "duration",
        "The leg's own wrap-up when Ziwo recorded one, else (wrap-up fallback 'configured') the agent's "
        "configured wrap-up, else 0.",
    ),
    "wrap_up_estimated": (
        "Wrap-up estimated",
        "flag",
        "wrap_up_time_s is the agent's configured wrap-up, not one Ziwo recorded for the leg.",
    ),
    "result": ("Result", "text", "answered, timeout (the agent did not pick up), cancel (the caller hung up first), …"),
    "hangup_cause": ("Hang-up cause", "text", "FreeSWITCH cause; ATTENDED_TRANSFER or BLIND_TRANSFER for a transfer."),
    "transferred": ("Transferred", "flag", "The leg was transferred onward (its hang-up cause is a transfer)."),
    "disposition": ("Disposition", "text", "The agent's disposition."),
    "survey_score": ("Survey score", "score", "Post-call survey, 1 to 5."),
    "tags": ("Tags", "text", "The leg's tag names (joined with '; ' in CSV and Excel)."),
    "period_start": ("Period start", "time", "Start of the leg's interval (or of the window), in the report zone."),
    "period_end": ("Period end", "time", "End of the leg's interval (or of the window), excluded."),
    "started_at_local": ("Started (local)", "text", "started_at in the report zone, ISO 8601 with its offset."),
    "answered_at_local": ("Answered (local)", "text", "answered_at in the report zone, ISO 8601 with its offset."),
    "ended_at_local": ("Ended (local)", "text", "ended_at in the report zone, ISO 8601 with its offset."),
}

_BY_REPORT: dict[str, dict[str, tuple[str, Kind, str]]] = {
    "agent-performance": _COMMON,
    "queue-performance": {**_COMMON, **_QUEUE},
    "call-details": {**{k: _COMMON[k] for k in ("instance", "timezone")}, **_CALL},
}


def known_columns() -> list[str]:
    """Every column of every report, sorted."""
    return sorted({column for columns in _BY_REPORT.values() for column in columns})


#: Columns renamed when every ratio became a fraction (issue 16): old name -> what to write instead.
#: Errors about an unknown column or field name the new one.
RENAMED: dict[str, str] = {
    "service_level_pct": "service_level_rate, a fraction 0..1 (0.8 is 80%)",
    "csat_pct": "csat_top2_rate, a fraction 0..1 (0.8 is 80%)",
}


def renamed_hint(name: str) -> str:
    """' (renamed: ...)' for a column or a `totals.` field that was renamed, else ''."""
    prefix, _, column = name.rpartition(".")
    new = RENAMED.get(column)
    return f" ({name} was renamed: now {prefix + '.' if prefix else ''}{new})" if new else ""


class UndefinedColumnError(KeyError):
    """A report column without a definition: add it to ziwo_reports/metric_definitions.py."""


def definition(report: str, column: str) -> Definition:
    """The definition of one column of a report."""
    try:
        label, kind, formula = _BY_REPORT[report][column]
    except KeyError:
        raise UndefinedColumnError(
            f"column {column!r} of report {report!r} has no definition in ziwo_reports/metric_definitions.py"
        ) from None
    return Definition(column, label, kind, formula)


def definitions(report: str, columns: Iterable[str]) -> list[Definition]:
    """The definitions of a report's columns, in their order."""
    return [definition(report, column) for column in columns]


def describe(report: str, column: str) -> Definition:
    """The column's definition, or for a column without one (the tests catch those), a kind guessed
    from its name so that files still format it sensibly."""
    try:
        return definition(report, column)
    except UndefinedColumnError:
        kinds: dict[str, Kind] = {"_s": "duration", "_rate": "rate", "_at": "time", "_id": "id"}
        kind = next((k for suffix, k in kinds.items() if column.endswith(suffix)), "text")
        return Definition(column, column.replace("_", " ").capitalize(), kind, "(no definition yet)")


def format_value(value: Any, kind: Kind) -> str:
    """A value as people read it (the terminal, e-mails): durations m:ss or h:mm:ss, rates
    (fractions) as percentages, counts with thousands separators, NULL as –."""
    if value is None:
        return "–"
    if kind == "rate":
        return f"{100 * value:.1f}%"
    if kind == "duration" and isinstance(value, int | float):
        seconds = round(value)
        hours, rest = divmod(seconds, 3600)
        return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool) and kind == "count":
        return f"{value:,}"
    return str(value)
