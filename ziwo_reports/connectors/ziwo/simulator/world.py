"""The simulated call center: configuration, teams, queues, numbers and agents."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ziwo_reports.connectors.ziwo.assumptions import SIMULATOR_MAX_PAGE_SIZE
from ziwo_reports.timewindows import MAX_DAYS, check_instant

FaultMode = Literal["none", "flaky", "hostile"]
FAULT_MODES: tuple[FaultMode, ...] = ("none", "flaky", "hostile")

#: The page cap of the hostile mode: below what clients usually ask (Ziwo's own clients ask 100
#: [REV] to 1000 [CTX]), as the server that taught us to verify listings capped at 100.
HOSTILE_PAGE_CAP = 100

DEFAULT_USERNAME = "supervisor@simulator.ziwo.test"
DEFAULT_PASSWORD = "simulator-password"

#: The range of every numeric setting, both ends included; the command line checks its options
#: against the same table. Each bound is far beyond any use and keeps the simulator's arithmetic
#: finite: ten years of days, a call center of 10,000 agents and a million calls a day, an hour of
#: Retry-After, ten minutes of slowness, a year of token life.
LIMITS: dict[str, tuple[int | float, int | float]] = {
    "seed": (-(2**63), 2**63 - 1),
    "days": (1, MAX_DAYS),
    "agents": (4, 10_000),
    "calls_per_day": (0, 1_000_000),
    "fault_rate": (0.0, 1.0),
    "bad_record_rate": (0.0, 1.0),
    "token_ttl": (0.001, 366 * 86_400.0),
    "max_page_size": (1, 100_000),
    "retry_after": (0, 3_600),
    "slow_seconds": (0.0, 600.0),
    "cache_days": (2, 10_000),
}


def check_limit(name: str, value: object) -> None:
    """Refuse a numeric setting that is not a finite number in its LIMITS."""
    low, high = LIMITS[name]
    integral = isinstance(low, int)
    kind_ok = isinstance(value, int) if integral else isinstance(value, int | float)
    if isinstance(value, bool) or not kind_ok or not (math.isfinite(value) and low <= value <= high):  # type: ignore[arg-type]
        kind = "a whole number" if integral else "a finite number"
        raise ValueError(f"{name} {value!r} is out of range: {kind} from {_number(low)} to {_number(high)}")


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,}"


@dataclass(frozen=True)
class SimConfig:
    """Everything that shapes the simulated instance. Same config, same data."""

    seed: int = 42
    days: int = 30
    agents: int = 25
    calls_per_day: int = 2000
    timezone: str = "Asia/Dubai"
    faults: FaultMode = "none"
    fault_rate: float = 0.05  # share of requests that meet a fault (flaky, hostile)
    bad_record_rate: float = 0.005  # share of records that are malformed (hostile)
    username: str = DEFAULT_USERNAME
    password: str = field(default=DEFAULT_PASSWORD, repr=False)
    token_ttl: float = 3600.0  # seconds an access token lives
    max_page_size: int | None = None  # largest page served; default 1000, hostile HOSTILE_PAGE_CAP
    totals: bool = True  # call-history pages say `info.totalRecords`
    retry_after: int = 1  # seconds sent with 429
    slow_seconds: float = 1.0  # delay of a slow response
    now: datetime | None = None  # the simulated "now"; calls end before it. Default: start time
    cache_days: int = 4  # days held in memory; more serves big ranges faster, with more memory
    country_code: str = "971"

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone {self.timezone!r} is not an IANA time zone name") from None
        if self.faults not in FAULT_MODES:
            raise ValueError(f"faults {self.faults!r} is not one of {', '.join(FAULT_MODES)}")
        if self.max_page_size is None:
            cap = HOSTILE_PAGE_CAP if self.faults == "hostile" else SIMULATOR_MAX_PAGE_SIZE
            object.__setattr__(self, "max_page_size", cap)
        for name in LIMITS:
            check_limit(name, getattr(self, name))
        if self.now is not None and self.now.tzinfo is None:
            raise ValueError(f"now {self.now!r} needs a time zone offset")
        if self.now is not None:
            check_instant(self.now, "now")  # its days, and 400 days before them, stay dates


@dataclass(frozen=True)
class Team:
    id: int
    name: str


@dataclass(frozen=True)
class Queue:
    id: int
    name: str
    survey: bool  # surveyRequired: callers get a post-call survey
    share: float  # share of inbound contacts
    mean_talk: int  # seconds
    team_ids: tuple[int, ...]
    did: str  # the number that routes to this queue


@dataclass(frozen=True)
class Agent:
    id: int
    first_name: str
    last_name: str
    team_id: int
    wrap_up: int  # configured wrapUpTime, seconds
    speed: float  # talk-time multiplier
    miss_rate: float  # chance of not answering a ring
    hold_rate: float
    transfer_rate: float
    csat_bias: float
    created_at: datetime
    deleted_at: datetime | None

    @property
    def username(self) -> str:
        return f"{self.first_name}.{self.last_name}@simulator.ziwo.test".lower()

    @property
    def cc_login(self) -> int:
        return 1000 + self.id % 1000

    def active_on(self, day_start: datetime, day_end: datetime) -> bool:
        return self.created_at < day_end and (self.deleted_at is None or self.deleted_at > day_start)


TEAMS = (
    Team(11, "Sales"),
    Team(12, "Support A"),
    Team(13, "Support B"),
    Team(14, "Billing"),
)

QUEUES = (
    Queue(101, "Customer Support", True, 0.38, 330, (12, 13), "+97144010101"),
    Queue(102, "Sales", True, 0.20, 240, (11,), "+97144010102"),
    Queue(103, "Billing", False, 0.16, 280, (14, 13), "+97144010103"),
    Queue(104, "VIP", True, 0.08, 400, (12,), "+97144010104"),
    Queue(105, "Arabic Support", False, 0.18, 300, (13, 12), "+97144010105"),
)

_FIRST = (
    "Aisha",
    "Omar",
    "Fatima",
    "Yusuf",
    "Layla",
    "Karim",
    "Mariam",
    "Hassan",
    "Noor",
    "Tariq",
    "Sara",
    "Ali",
    "Huda",
    "Rami",
    "Dana",
    "Samir",
    "Rania",
    "Khalid",
    "Lina",
    "Faisal",
    "Maya",
    "Adel",
    "Zainab",
    "Nabil",
    "Reem",
    "Hadi",
    "Salma",
    "Majid",
    "Yara",
    "Bilal",
)
_LAST = (
    "Haddad",
    "Nasser",
    "Khoury",
    "Mansour",
    "Saleh",
    "Farouk",
    "Aziz",
    "Rahman",
    "Qasim",
    "Hamdan",
    "Issa",
    "Jaber",
    "Saad",
    "Darwish",
    "Karam",
    "Habib",
    "Zayed",
    "Obeid",
    "Shams",
    "Tamimi",
)


@dataclass(frozen=True)
class World:
    config: SimConfig
    tz: ZoneInfo
    now: datetime
    first_day: date
    last_day: date
    agents: tuple[Agent, ...]

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """Local midnight to local midnight, as UTC instants (23, 24 or 25 hours apart)."""
        start = datetime.combine(day, time(), self.tz).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(), self.tz).astimezone(UTC)
        return start, end

    def agent(self, agent_id: int) -> Agent | None:
        return next((a for a in self.agents if a.id == agent_id), None)

    def team(self, team_id: int) -> Team:
        return next(t for t in TEAMS if t.id == team_id)

    def queue(self, queue_id: int) -> Queue:
        return next(q for q in QUEUES if q.id == queue_id)


def build_world(config: SimConfig) -> World:
    tz = ZoneInfo(config.timezone)
    now = (config.now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    last_day = now.astimezone(tz).date()
    first_day = last_day - timedelta(days=config.days - 1)
    rng = random.Random(f"{config.seed}:agents")
    long_ago = datetime.combine(first_day - timedelta(days=400), time(9), tz).astimezone(UTC)
    agents = []
    for index in range(config.agents):
        created, deleted = long_ago, None
        if config.agents >= 8 and index == config.agents - 1:  # joined during the window
            created = datetime.combine(last_day - timedelta(days=min(7, config.days // 2)), time(8), tz)
        if config.agents >= 8 and index == config.agents - 2:  # left during the window
            deleted = datetime.combine(last_day - timedelta(days=min(10, config.days // 2)), time(18), tz)
        agents.append(
            Agent(
                id=2001 + index,
                first_name=_FIRST[index % len(_FIRST)],
                last_name=_LAST[(index * 7) % len(_LAST)],
                team_id=TEAMS[index % len(TEAMS)].id,
                wrap_up=rng.choice((10, 15, 20, 30, 45, 60)),
                speed=round(rng.uniform(0.7, 1.4), 2),
                miss_rate=round(rng.uniform(0.02, 0.15), 3),
                hold_rate=round(rng.uniform(0.1, 0.4), 2),
                transfer_rate=round(rng.uniform(0.02, 0.12), 3),
                csat_bias=round(rng.uniform(-0.8, 0.6), 2),
                created_at=created.astimezone(UTC),
                deleted_at=deleted.astimezone(UTC) if deleted else None,
            )
        )
    return World(config, tz, now, first_day, last_day, tuple(agents))
