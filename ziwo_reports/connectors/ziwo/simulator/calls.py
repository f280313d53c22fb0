"""Deterministic call legs of one simulated day, shaped as Ziwo `/callHistory/` records.

A day's contacts depend only on (seed, date) and the configuration, so any day can be built
alone, in any order, and built again identically. Contacts start on the day (local midnight to
local midnight, so 23 or 25 hours on DST change days) and follow daily and hourly volume curves
in the instance's time zone.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ziwo_reports.connectors.ziwo.assumptions import CALL_WRAP_UP_FIELD, SURVEY_SCORE_FIELD
from ziwo_reports.connectors.ziwo.simulator.world import QUEUES, Agent, Queue, World

#: Relative call volume by local hour (a two-peak office day).
HOURLY = (
    *(0.15, 0.10, 0.08, 0.07, 0.08, 0.15, 0.40, 1.00),  # 00-07
    *(2.20, 3.40, 4.00, 4.10, 3.60, 3.30, 3.80, 3.90),  # 08-15
    *(3.50, 2.80, 2.00, 1.40, 1.00, 0.70, 0.45, 0.25),  # 16-23
)
#: Relative volume by local weekday, Monday first (weekend: Saturday and Sunday in the UAE).
WEEKDAY = (1.14, 1.10, 1.06, 1.02, 0.98, 0.80, 0.90)
_WEEKDAY_MEAN = sum(WEEKDAY) / 7

OUTBOUND_SHARE = 0.12
IVR_LOSS = 0.03  # callers who hang up in the IVR
ANONYMOUS_SHARE = 0.03
REPEAT_WITHIN_HOURS = 0.12
REPEAT_WITHIN_DAYS = 0.06
SURVEY_RESPONSE = 0.35
MAX_TRANSFERS = 2
MAX_MISSED_RINGS = 3
NO_ANSWER_TIMEOUT = 20  # seconds an agent's phone rings before the call goes back to the queue
MAIN_NUMBER = "+97144010100"
CALLER_HUNG_UP = {"result": "cancel", "hangupBy": "customer", "hangupCause": "ORIGINATOR_CANCEL"}

DISPOSITIONS = (
    ("Resolved", 45),
    ("Information provided", 20),
    ("Follow-up required", 14),
    ("Callback requested", 8),
    ("Escalated", 7),
    ("Complaint", 6),
)
RESOLVED_DISPOSITIONS = ("Resolved", "Information provided")
TAGS = ("billing", "vip", "complaint", "new-customer", "callback", "refund", "technical", "arabic")
ANONYMOUS_SPELLINGS = ("anonymous", "Anonymous", "WITHHELD", "private", "")

#: Malformations of the hostile mode, named by the reject reason the client must give.
BAD_RECORD_KINDS = (
    "missing_call_id",
    "bad_timestamp",
    "negative_duration",
    "ended_before_started",
    "unknown_agent",
)


class Leg:
    """One served record: the JSON body plus what the server needs to sort, filter and judge it."""

    __slots__ = ("agent_id", "bad", "body", "call_id", "end", "id", "number", "start", "tags")

    def __init__(
        self,
        start: int,
        end: int,
        id: int,
        call_id: str,
        agent_id: int | None,
        number: str,
        bad: str | None,
        body: bytes,
        tags: bytes,
    ) -> None:
        self.start, self.end, self.id, self.call_id = start, end, id, call_id
        self.agent_id, self.number, self.bad, self.body, self.tags = agent_id, number, bad, body, tags

    def json(self, with_tags: bool) -> bytes:
        return self.body[:-1] + b',"tags":' + self.tags + b"}" if with_tags else self.body

    def record(self) -> dict:
        return json.loads(self.json(True))


def iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


def day_tag(seed: int, day: date) -> int:
    """The first 8 hex digits of every callID of a day, so a callID leads back to its day."""
    return (day.toordinal() ^ (seed * 2654435761)) & 0xFFFFFFFF


def day_of_call_id(seed: int, call_id: str) -> date | None:
    try:
        ordinal = (int(call_id[:8], 16) ^ (seed * 2654435761)) & 0xFFFFFFFF
        return date.fromordinal(ordinal)
    except (ValueError, OverflowError):
        return None


def new_call_id(rng: random.Random, tag: int) -> str:
    bits = rng.getrandbits(76)
    return (
        f"{tag:08x}-{bits >> 60:04x}-4{(bits >> 48) & 0xFFF:03x}-"
        f"{0x8000 | ((bits >> 36) & 0xFFF):04x}-{(bits & 0xFFFFFFFFF) * 4093 % 16**12:012x}"
    )


def customer_number(seed: int, day: date, index: int) -> str:
    """A mobile number in national form without the trunk 0, e.g. '501234567'."""
    digest = hashlib.blake2b(f"{seed}:{day.toordinal()}:{index}".encode(), digest_size=8).digest()
    return "5" + f"{int.from_bytes(digest, 'big') % 10**8:08d}"


def expected_contacts(world: World, day: date) -> float:
    start, end = world.day_bounds(day)
    weight = sum(_hour_weights(world, int(start.timestamp()), int(end.timestamp())))
    return world.config.calls_per_day * WEEKDAY[day.weekday()] / _WEEKDAY_MEAN * weight / sum(HOURLY)


def _hour_weights(world: World, start: int, end: int) -> list[float]:
    tz = world.tz
    return [HOURLY[datetime.fromtimestamp(t, tz).hour] for t in range(start, end, 3600)]


@dataclass
class _Recent:
    end: int
    national: str
    resolved: bool


class _DayBuilder:
    def __init__(self, world: World, day: date) -> None:
        cfg = world.config
        self.world, self.day, self.cfg = world, day, cfg
        self.rng = random.Random(f"{cfg.seed}:calls:{day.isoformat()}")
        self.tag = day_tag(cfg.seed, day)
        self.next_id = (day.toordinal() - 730000) * 1_000_000
        self.fresh = 0
        self.recent: list[_Recent] = []
        self.legs: list[dict] = []
        # (agent, joined, left) as epoch seconds, for every agent and per queue's teams
        self.everyone = [
            (a, a.created_at.timestamp(), a.deleted_at.timestamp() if a.deleted_at else math.inf) for a in world.agents
        ]
        self.by_team = {q.team_ids: [e for e in self.everyone if e[0].team_id in q.team_ids] for q in QUEUES}
        self.agents = {a.id: a for a in world.agents}
        self.survey = {q.id: q.survey for q in QUEUES}
        self.offset_cache: dict[int, int] = {}
        self.queue_weights = [q.share for q in QUEUES]

    # --- people -----------------------------------------------------------------------------

    def _present(self, national: str) -> str:
        r = self.rng.random()
        cc = self.cfg.country_code
        return f"+{cc}{national}" if r < 0.7 else f"00{cc}{national}" if r < 0.9 else f"0{national}"

    def _fresh_number(self) -> str:
        self.fresh += 1
        return customer_number(self.cfg.seed, self.day, self.fresh)

    def _caller(self, t: int) -> tuple[str, str | None]:
        """(number as shown, national number or None when withheld)."""
        rng = self.rng
        r = rng.random()
        if r < ANONYMOUS_SHARE:
            return rng.choice(ANONYMOUS_SPELLINGS), None
        r -= ANONYMOUS_SHARE
        if r < REPEAT_WITHIN_HOURS:
            candidates = [c for c in self.recent[-60:] if c.end < t and t - c.end < 8 * 3600]
            if candidates:
                weights = [1.0 if c.resolved else 4.0 for c in candidates]
                national = rng.choices(candidates, weights)[0].national
                return self._present(national), national
        elif r < REPEAT_WITHIN_HOURS + REPEAT_WITHIN_DAYS:
            back = self.day - timedelta(days=rng.randint(1, 4))
            national = customer_number(self.cfg.seed, back, rng.randint(1, max(1, self.cfg.calls_per_day // 2)))
            return self._present(national), national
        national = self._fresh_number()
        return self._present(national), national

    def _agent(self, team_ids: tuple[int, ...] | None, t: int, exclude: set[int]) -> Agent | None:
        pool = [
            agent
            for agent, joined, left in (self.by_team[team_ids] if team_ids else self.everyone)
            if joined <= t < left and agent.id not in exclude
        ]
        return self.rng.choice(pool) if pool else None

    # --- legs -------------------------------------------------------------------------------

    def _leg(self, **fields: object) -> dict:
        self.next_id += 1
        leg = {
            "id": self.next_id,
            "callID": new_call_id(self.rng, self.tag),
            "primaryCallID": None,
            "direction": "inbound",
            "callerIDNumber": None,
            "callerIDName": None,
            "didCalled": None,
            "agentId": None,
            "queueId": None,
            "queueName": None,
            "startedAt": None,
            "queueEnteredAt": None,
            "agentRingStartedAt": None,
            "answeredAt": None,
            "endedAt": None,
            "duration": 0,
            "ivrTime": 0,
            "queueWaitTime": 0,
            "ringTime": 0,
            "talkTime": 0,
            "holdTime": 0,
            CALL_WRAP_UP_FIELD: None,
            "result": None,
            "hangupBy": None,
            "hangupCause": None,
            "disposition": None,
            "recordingFile": None,
            SURVEY_SCORE_FIELD: None,
            "lostInIVR": False,
            "_tags": [],
        }
        leg.update(fields)
        start, end = leg.pop("_start"), leg.pop("_end")
        leg["startedAt"], leg["endedAt"] = iso(start), iso(end)
        leg["createdAt"] = leg["updatedAt"] = leg["endedAt"]
        leg["duration"] = end - start
        leg["_start_ts"], leg["_end_ts"] = start, end
        self.legs.append(leg)
        return leg

    def _answered_extras(self, agent: Agent, call_id: str) -> dict:
        rng = self.rng
        extras: dict[str, object] = {"recordingFile": f"{call_id}.mp3"}
        if rng.random() < 0.85:
            extras["disposition"] = rng.choices([d for d, _ in DISPOSITIONS], [w for _, w in DISPOSITIONS])[0]
        if rng.random() < 0.7:  # per-call wrap-up where the platform recorded one
            extras[CALL_WRAP_UP_FIELD] = max(0, int(rng.gauss(agent.wrap_up, agent.wrap_up / 3)))
        if rng.random() < 0.4:
            extras["_tags"] = rng.sample(TAGS, rng.randint(1, 2))
        return extras

    def inbound(self, t: int) -> None:
        rng = self.rng
        shown, national = self._caller(t)
        queue: Queue = rng.choices(QUEUES, self.queue_weights)[0]
        base = {"callerIDNumber": shown, "didCalled": queue.did}
        ivr = rng.randint(4, 35)
        if rng.random() < IVR_LOSS:
            end = t + rng.randint(3, ivr)
            self._leg(
                **base,
                _start=t,
                _end=end,
                ivrTime=end - t,
                **CALLER_HUNG_UP,
                lostInIVR=True,
            )
            return
        load = HOURLY[self._local_hour(t)] / max(HOURLY)
        patience = rng.expovariate(1 / 200)
        waited = 0.0
        leg_start, leg_ivr, entered = t, ivr, t + ivr
        first: dict | None = None
        last_answered: dict | None = None
        tried: set[int] = set()
        transfers = misses = 0
        while True:
            mean_wait = (3 + 14 * load) * (0.5 if queue.name == "VIP" else 1.0)
            # Mostly short waits, with a heavy tail when the queue backs up.
            wait = rng.expovariate(1 / mean_wait) if rng.random() < 0.88 else rng.expovariate(1 / (60 + 120 * load))
            ring_at = entered + int(wait)
            agent = self._agent(queue.team_ids, ring_at, tried) if misses < MAX_MISSED_RINGS else None
            common = {
                **base,
                "primaryCallID": first["callID"] if first else None,
                "queueId": queue.id,
                "queueName": queue.name,
                "queueEnteredAt": iso(entered),
                "ivrTime": leg_ivr,
            }
            if agent is None or waited + wait >= patience:  # abandoned in the queue
                stay = max(1, int(patience - waited)) if agent else max(1, int(min(wait, patience - waited)))
                leg = self._leg(
                    **common,
                    _start=leg_start,
                    _end=entered + stay,
                    queueWaitTime=stay,
                    **CALLER_HUNG_UP,
                )
                first = first or leg
                break
            waited += int(wait)
            missed = rng.random() < agent.miss_rate
            ring = NO_ANSWER_TIMEOUT if missed else rng.randint(2, 12)
            ringing = {
                **common,
                "agentId": agent.id,
                "agentRingStartedAt": iso(ring_at),
                "queueWaitTime": int(wait),
            }
            if waited + ring >= patience:  # the caller hangs up while the agent's phone rings
                ring = max(1, int(patience - waited))
                leg = self._leg(
                    **ringing,
                    _start=leg_start,
                    _end=ring_at + ring,
                    ringTime=ring,
                    **CALLER_HUNG_UP,
                )
                first = first or leg
                break
            waited += ring
            if missed:  # rang out: back to the queue, in a new leg
                leg = self._leg(
                    **ringing,
                    _start=leg_start,
                    _end=ring_at + ring,
                    ringTime=ring,
                    result="timeout",
                    hangupBy="system",
                    hangupCause="NO_ANSWER",
                )
                first = first or leg
                misses += 1
                tried.add(agent.id)
                leg_start = entered = ring_at + ring
                leg_ivr = 0
                continue
            answered = ring_at + ring
            talk = max(15, int(rng.lognormvariate(math.log(queue.mean_talk * agent.speed) - 0.18, 0.6)))
            hold = rng.randint(10, 240) if rng.random() < agent.hold_rate else 0
            end = answered + talk + hold
            transfer = transfers < MAX_TRANSFERS and rng.random() < agent.transfer_rate
            leg = self._leg(
                **ringing,
                _start=leg_start,
                _end=end,
                ringTime=ring,
                answeredAt=iso(answered),
                talkTime=talk,
                holdTime=hold,
                result="answered",
                hangupBy="agent" if transfer or rng.random() < 0.3 else "customer",
                hangupCause=rng.choice(("ATTENDED_TRANSFER", "BLIND_TRANSFER")) if transfer else "NORMAL_CLEARING",
            )
            leg.update(self._answered_extras(agent, leg["callID"]))
            first = first or leg
            last_answered = leg
            if not transfer:
                break
            transfers += 1
            if rng.random() < 0.5:
                queue = rng.choices(QUEUES, self.queue_weights)[0]
            leg_start = entered = end
            leg_ivr, misses, tried = 0, 0, set()
            patience = waited + rng.expovariate(1 / 120)
        last = self.legs[-1]
        if last is last_answered and self.survey[last["queueId"]] and rng.random() < SURVEY_RESPONSE:
            agent = self.agents[last["agentId"]]
            mood = 4.0 + (agent.csat_bias if agent else 0) - (0.6 if waited > 90 else 0)
            last[SURVEY_SCORE_FIELD] = min(5, max(1, round(rng.gauss(mood, 0.9))))
        if national:
            resolved = bool(last_answered and last_answered.get("disposition") in RESOLVED_DISPOSITIONS)
            self.recent.append(_Recent(last["_end_ts"], national, resolved))

    def outbound(self, t: int) -> None:
        rng = self.rng
        agent = self._agent(None, t, set())
        if agent is None:
            return
        recent = [c for c in self.recent[-40:] if c.end < t]
        national = rng.choice(recent).national if recent and rng.random() < 0.35 else self._fresh_number()
        common = {
            "direction": "outbound",
            "callerIDNumber": self._present(national),
            "didCalled": MAIN_NUMBER,
            "agentId": agent.id,
        }
        r = rng.random()
        if r < 0.65:
            ring = rng.randint(5, 30)
            talk = max(10, int(rng.lognormvariate(math.log(180 * agent.speed), 0.7)))
            hold = rng.randint(10, 120) if rng.random() < agent.hold_rate / 2 else 0
            leg = self._leg(
                **common,
                _start=t,
                _end=t + ring + talk + hold,
                ringTime=ring,
                answeredAt=iso(t + ring),
                talkTime=talk,
                holdTime=hold,
                result="answered",
                hangupBy=rng.choice(("agent", "customer")),
                hangupCause="NORMAL_CLEARING",
            )
            leg.update(self._answered_extras(agent, leg["callID"]))
        elif r < 0.85:
            ring = rng.randint(30, 45)
            self._leg(
                **common,
                _start=t,
                _end=t + ring,
                ringTime=ring,
                result="timeout",
                hangupBy="system",
                hangupCause="NO_ANSWER",
            )
        elif r < 0.95:
            ring = rng.randint(0, 3)
            self._leg(
                **common,
                _start=t,
                _end=t + ring + 1,
                ringTime=ring,
                result="busy",
                hangupBy="system",
                hangupCause="USER_BUSY",
            )
        else:
            self._leg(
                **common,
                _start=t,
                _end=t + 1,
                result="failed",
                hangupBy="system",
                hangupCause="NORMAL_TEMPORARY_FAILURE",
            )

    def _local_hour(self, t: int) -> int:
        hour_start = t - t % 3600  # offsets here are whole or half hours; hour granularity is enough
        offset = self.offset_cache.get(hour_start)
        if offset is None:
            delta = datetime.fromtimestamp(hour_start, self.world.tz).utcoffset()
            offset = self.offset_cache[hour_start] = int(delta.total_seconds()) if delta else 0
        return time.gmtime(t + offset).tm_hour


def _malform(rng: random.Random, leg: dict) -> str:
    kind = rng.choice(BAD_RECORD_KINDS)
    if kind == "missing_call_id":
        del leg["callID"]
    elif kind == "bad_timestamp":
        field = rng.choice(("startedAt", "endedAt"))
        leg[field] = rng.choice((leg[field][:10] + " 25:61:00", "not-a-date", leg[field][:4] + "-02-30T10:00:00Z"))
    elif kind == "negative_duration":
        field = rng.choice(("talkTime", "duration", "ringTime"))
        leg[field] = -max(1, leg[field])
    elif kind == "ended_before_started":
        leg["endedAt"] = iso(leg["_start_ts"] - rng.randint(1, 3600))
    else:
        leg["agentId"] = 990000 + rng.randrange(10000)
    return kind


def build_contacts(world: World, day: date) -> list[Leg]:
    """All legs of the contacts that start on `day` (some legs may start after midnight)."""
    cfg = world.config
    start, end = (int(b.timestamp()) for b in world.day_bounds(day))
    builder = _DayBuilder(world, day)
    rng = builder.rng
    weights = _hour_weights(world, start, end)
    count = round(expected_contacts(world, day) * rng.uniform(0.92, 1.08))
    hours = rng.choices(range(len(weights)), weights, k=count)
    for t in sorted(start + h * 3600 + rng.randrange(3600) for h in hours):
        if rng.random() < OUTBOUND_SHARE:
            builder.outbound(t)
        else:
            builder.inbound(t)
    bad_rng = random.Random(f"{cfg.seed}:bad:{day.isoformat()}")
    out: list[Leg] = []
    for leg in builder.legs:
        bad = None
        if cfg.faults == "hostile" and bad_rng.random() < cfg.bad_record_rate:
            bad = _malform(bad_rng, leg)
        out.append(to_leg(leg, bad))
    return out


def to_leg(leg: dict, bad: str | None = None) -> Leg:
    start, end, tags = leg.pop("_start_ts"), leg.pop("_end_ts"), leg.pop("_tags")
    agent_id = leg.get("agentId") if isinstance(leg.get("agentId"), int) else None
    return Leg(
        start,
        end,
        leg["id"],
        leg.get("callID", ""),
        agent_id,
        leg.get("callerIDNumber") or "",
        bad,
        json.dumps(leg, separators=(",", ":")).encode(),
        json.dumps(tags).encode(),
    )
