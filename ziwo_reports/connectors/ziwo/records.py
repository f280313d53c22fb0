"""Ziwo records: the one mapping from Ziwo field names to canonical columns (calls, agents,
queues, numbers), and the checks that turn a raw call record into a typed `CallRecord` or a
`Reject` with its reason."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from ziwo_reports.connectors.ziwo.assumptions import (
    CALL_WRAP_UP_FIELD,
    SURVEY_SCORE_FIELD,
    TAGS_FIELD,
    TEAM_ID_FIELD,
    TEAM_NAME_FIELD,
)

Kind = Literal["str", "int", "seconds", "timestamp", "tags", "bool"]


@dataclass(frozen=True)
class Column:
    ziwo: str  # field name in the Ziwo record
    name: str  # canonical snake_case column
    kind: Kind


#: Ziwo field -> canonical column. Everything downstream uses the canonical names.
CALL_COLUMNS: tuple[Column, ...] = (
    Column("callID", "call_id", "str"),
    Column("primaryCallID", "primary_call_id", "str"),
    Column("id", "ziwo_id", "int"),
    Column("direction", "direction", "str"),
    Column("callerIDNumber", "caller_number", "str"),
    Column("callerIDName", "caller_name", "str"),
    Column("didCalled", "did_called", "str"),
    Column("agentId", "agent_id", "int"),
    Column("queueId", "queue_id", "int"),
    Column("queueName", "queue_name", "str"),
    Column("startedAt", "started_at", "timestamp"),
    Column("queueEnteredAt", "queue_entered_at", "timestamp"),
    Column("agentRingStartedAt", "agent_ring_started_at", "timestamp"),
    Column("answeredAt", "answered_at", "timestamp"),
    Column("endedAt", "ended_at", "timestamp"),
    Column("duration", "duration_s", "seconds"),
    Column("ivrTime", "ivr_time_s", "seconds"),
    Column("queueWaitTime", "queue_wait_time_s", "seconds"),
    Column("ringTime", "ring_time_s", "seconds"),
    Column("talkTime", "talk_time_s", "seconds"),
    Column("holdTime", "hold_time_s", "seconds"),
    Column(CALL_WRAP_UP_FIELD, "wrap_up_time_s", "seconds"),
    Column("result", "result", "str"),
    Column("hangupBy", "hangup_by", "str"),
    Column("hangupCause", "hangup_cause", "str"),
    Column("disposition", "disposition", "str"),
    Column("recordingFile", "recording_file", "str"),
    Column(SURVEY_SCORE_FIELD, "survey_score", "int"),
    Column(TAGS_FIELD, "tags", "tags"),
)

#: Reference data: Ziwo field -> canonical column of the warehouse tables.
AGENT_COLUMNS: tuple[Column, ...] = (
    Column("id", "agent_id", "int"),
    Column("firstName", "first_name", "str"),
    Column("lastName", "last_name", "str"),
    Column("username", "username", "str"),
    Column("ccLogin", "cc_login", "str"),
    Column(TEAM_ID_FIELD, "team_id", "int"),
    Column(TEAM_NAME_FIELD, "team_name", "str"),
    Column("wrapUpTime", "wrap_up_time_s", "seconds"),
    Column("status", "status", "str"),
    Column("createdAt", "created_at", "timestamp"),
    Column("deletedAt", "deleted_at", "timestamp"),
)
QUEUE_COLUMNS: tuple[Column, ...] = (
    Column("id", "queue_id", "int"),
    Column("name", "name", "str"),
    Column("surveyRequired", "survey_required", "bool"),
    Column("status", "status", "str"),
    Column("deletedAt", "deleted_at", "timestamp"),
)
NUMBER_COLUMNS: tuple[Column, ...] = (
    Column("id", "number_id", "int"),
    Column("did", "did", "str"),
    Column("linkType", "link_type", "str"),
    Column("linkData", "link_data", "str"),
    Column("status", "status", "str"),
    Column("deletedAt", "deleted_at", "timestamp"),
)

#: Why a record was rejected. Each reject carries one of these plus a detail naming field and value.
REJECT_REASONS = {
    "not_an_object": "the record is not a JSON object",
    "missing_call_id": "callID is missing or empty",
    "bad_timestamp": "a timestamp is missing (startedAt) or cannot be parsed",
    "bad_value": "a field has a value of the wrong type",
    "negative_duration": "a duration is below zero",
    "ended_before_started": "endedAt is earlier than startedAt",
    "unknown_agent": "agentId is not an agent of the instance",
}


@dataclass(slots=True)
class CallRecord:
    """One call leg: typed canonical fields, with the record as Ziwo sent it in `raw`."""

    call_id: str
    primary_call_id: str | None
    ziwo_id: int | None
    direction: str | None
    caller_number: str | None
    caller_name: str | None
    did_called: str | None
    agent_id: int | None
    queue_id: int | None
    queue_name: str | None
    started_at: datetime
    queue_entered_at: datetime | None
    agent_ring_started_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    duration_s: int | None
    ivr_time_s: int | None
    queue_wait_time_s: int | None
    ring_time_s: int | None
    talk_time_s: int | None
    hold_time_s: int | None
    wrap_up_time_s: int | None
    result: str | None
    hangup_by: str | None
    hangup_cause: str | None
    disposition: str | None
    recording_file: str | None
    survey_score: int | None
    tags: list[str]
    raw: dict[str, Any] = field(repr=False)

    @property
    def contact_id(self) -> str:
        return self.primary_call_id or self.call_id


@dataclass(slots=True)
class Reject:
    """A record that failed a check: nothing is dropped, it travels with its reason."""

    reason: str  # a key of REJECT_REASONS
    detail: str
    raw: Any
    day: date | None = None

    @property
    def call_id(self) -> str | None:
        value = self.raw.get("callID") if isinstance(self.raw, dict) else None
        return value if isinstance(value, str) and value else None


class _Invalid(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        self.reason, self.detail = reason, detail


def parse_timestamp(value: Any, name: str = "timestamp") -> datetime | None:
    """ISO 8601 text to an aware UTC datetime; None stays None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Invalid("bad_timestamp", f"{name} is {value!r}, not an ISO 8601 timestamp")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _Invalid("bad_timestamp", f"{name} is {value!r}, not an ISO 8601 timestamp") from None
    if parsed.tzinfo is UTC:
        return parsed
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)  # assumptions.NAIVE_TIMESTAMPS_ARE_UTC
    return parsed.astimezone(UTC)


def _int(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _Invalid("bad_value", f"{name} is {value!r}, not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
    raise _Invalid("bad_value", f"{name} is {value!r}, not a whole number")


def _str(value: Any, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise _Invalid("bad_value", f"{name} is {value!r}, not text")


def _bool(value: Any, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if value in (0, 1, "0", "1", "true", "false", "True", "False"):
        return str(value).lower() in ("1", "true")
    raise _Invalid("bad_value", f"{name} is {value!r}, not true or false")


def _tags(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        out: list[str] = []
        for item in value:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, dict) and isinstance(item.get("name"), str):
                out.append(item["name"])
            else:
                raise _Invalid("bad_value", f"{name} contains {item!r}, not a tag name")
        return out
    raise _Invalid("bad_value", f"{name} is {value!r}, not a list of tags")


def _by_kind(kind: Kind) -> tuple[tuple[str, str], ...]:
    return tuple((c.ziwo, c.name) for c in CALL_COLUMNS if c.kind == kind)


_TEXT, _INTS, _SECONDS, _TIMESTAMPS = (
    _by_kind("str"),
    _by_kind("int"),
    _by_kind("seconds"),
    _by_kind("timestamp"),
)


def _convert(raw: dict[str, Any], known_agent_ids: Collection[int] | None) -> dict[str, Any]:
    call_id = raw.get("callID")
    if not isinstance(call_id, str) or not call_id.strip():
        raise _Invalid("missing_call_id", f"callID is {call_id!r}")
    # The common types are checked inline: this runs once per record, a million times a backfill.
    values: dict[str, Any] = {}
    for ziwo, name in _TEXT:
        value = raw.get(ziwo)
        values[name] = value if value is None or value.__class__ is str else _str(value, ziwo)
    for ziwo, name in _INTS:
        value = raw.get(ziwo)
        values[name] = value if value is None or value.__class__ is int else _int(value, ziwo)
    negative = None
    for ziwo, name in _SECONDS:
        value = raw.get(ziwo)
        if value is not None and value.__class__ is not int:
            value = _int(value, ziwo)
        values[name] = value
        if negative is None and value is not None and value < 0:
            negative = f"{ziwo} is {value}, below zero"
    for ziwo, name in _TIMESTAMPS:
        values[name] = parse_timestamp(raw.get(ziwo), ziwo)
    values["tags"] = _tags(raw.get(TAGS_FIELD), TAGS_FIELD)
    started = values["started_at"]
    if started is None:
        raise _Invalid("bad_timestamp", "startedAt is missing")
    if negative:
        raise _Invalid("negative_duration", negative)
    ended = values["ended_at"]
    if ended is not None and ended < started:
        raise _Invalid(
            "ended_before_started",
            f"endedAt {raw.get('endedAt')!r} is before startedAt {raw.get('startedAt')!r}",
        )
    agent_id = values["agent_id"]
    if known_agent_ids is not None and agent_id is not None and agent_id not in known_agent_ids:
        raise _Invalid("unknown_agent", f"agentId {agent_id!r} is not an agent of this instance")
    return values


_CONVERTERS = {"str": _str, "int": _int, "seconds": _int, "bool": _bool, "tags": _tags, "timestamp": parse_timestamp}


def parse_row(raw: Any, columns: tuple[Column, ...]) -> dict[str, Any]:
    """A reference-data record (agent, queue, number) as canonical columns, plus `raw`.
    Raises ValueError naming the field and value when a field cannot be read."""
    if not isinstance(raw, dict):
        raise ValueError(f"record is {type(raw).__name__}, not an object")
    try:
        row = {c.name: _CONVERTERS[c.kind](raw.get(c.ziwo), c.ziwo) for c in columns}
    except _Invalid as problem:
        raise ValueError(problem.detail) from None
    if row[columns[0].name] is None:
        raise ValueError(f"{columns[0].ziwo} is missing")
    row["raw"] = raw
    return row


def parse_call(
    raw: Any, *, known_agent_ids: Collection[int] | None = None, day: date | None = None
) -> CallRecord | Reject:
    """Check one raw Ziwo call record. `known_agent_ids=None` skips the agent check."""
    if not isinstance(raw, dict):
        return Reject("not_an_object", f"record is {type(raw).__name__}, not an object", raw, day)
    try:
        values = _convert(raw, known_agent_ids)
    except _Invalid as problem:
        return Reject(problem.reason, problem.detail, raw, day)
    return CallRecord(raw=raw, **values)
