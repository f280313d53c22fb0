"""The simulator's call list: days built on demand and kept in a small LRU cache, so memory stays
bounded however many days and calls are served; plus the calls added or changed while it runs,
and the ground truth of what it serves."""

from __future__ import annotations

import random
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from ziwo_reports.connectors.ziwo.simulator.calls import (
    Leg,
    build_contacts,
    day_of_call_id,
    day_tag,
    iso,
    new_call_id,
    to_leg,
)
from ziwo_reports.connectors.ziwo.simulator.world import QUEUES, World


@dataclass
class Truth:
    """What the simulator serves for a date range."""

    calls: set[str] = field(default_factory=set)  # callIDs of well-formed records
    bad: dict[int, str] = field(default_factory=dict)  # Ziwo `id` of a malformed record -> reject reason

    def by_reason(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for reason in self.bad.values():
            counts[reason] = counts.get(reason, 0) + 1
        return dict(sorted(counts.items()))


class CallStore:
    def __init__(self, world: World, cache_days: int = 4) -> None:
        self.world = world
        self.cache_days = cache_days
        self._lock = threading.RLock()
        self._contacts: OrderedDict[date, list[Leg]] = OrderedDict()
        self._days: OrderedDict[date, list[Leg]] = OrderedDict()
        self._counts: dict[date, int] = {}
        self._added: dict[date, list[Leg]] = {}
        self._changes: dict[str, dict] = {}  # callID -> fields changed after the call was first served
        self._deleted: set[str] = set()  # callIDs no longer listed
        self._added_seq = 0

    # --- days -------------------------------------------------------------------------------

    @property
    def cached_days(self) -> int:
        """How many days are held in memory now (bounded by `cache_days` per cache)."""
        return max(len(self._contacts), len(self._days))

    def in_window(self, day: date) -> bool:
        return self.world.first_day <= day <= self.world.last_day

    def _cached(self, cache: OrderedDict[date, list[Leg]], day: date, build: Callable[[], list[Leg]]) -> list[Leg]:
        legs = cache.get(day)
        if legs is None:
            legs = cache[day] = build()
            while len(cache) > self.cache_days:
                cache.popitem(last=False)
        else:
            cache.move_to_end(day)
        return legs

    def contacts(self, day: date) -> list[Leg]:
        """Legs of the contacts that started on `day`, with later changes applied."""
        with self._lock:
            if not self.in_window(day):
                return []
            return self._cached(self._contacts, day, lambda: self._build_contacts(day))

    def _build_contacts(self, day: date) -> list[Leg]:
        legs = build_contacts(self.world, day)
        if self._changes:
            legs = [self._changed(leg) if leg.call_id in self._changes else leg for leg in legs]
        if self._deleted:
            legs = [leg for leg in legs if leg.call_id not in self._deleted]
        return legs + self._added.get(day, [])

    def _changed(self, leg: Leg) -> Leg:
        record = leg.record()
        tags = record.pop("tags")
        record.update(self._changes[leg.call_id])
        record.update(_start_ts=leg.start, _end_ts=leg.end, _tags=tags)
        return to_leg(record, leg.bad)

    def day(self, day: date) -> list[Leg]:
        """Records that started on `day` (local) and had ended by "now", oldest first."""
        with self._lock:
            if not self.in_window(day):
                return []
            return self._cached(self._days, day, lambda: self._build_day(day))

    def _build_day(self, day: date) -> list[Leg]:
        start, end = (int(b.timestamp()) for b in self.world.day_bounds(day))
        now = int(self.world.now.timestamp())
        spill = [leg for leg in self.contacts(day - timedelta(days=1)) if leg.start >= start]
        legs = [leg for leg in spill + self.contacts(day) if leg.start < end and leg.end <= now]
        legs.sort(key=lambda leg: (leg.start, leg.id))
        self._counts[day] = len(legs)
        return legs

    def count(self, day: date) -> int:
        with self._lock:
            if day not in self._counts:
                self.day(day)
            return self._counts.get(day, 0)

    def window_days(self, first: date | None, last: date | None) -> list[date]:
        first = max(first or self.world.first_day, self.world.first_day)
        last = min(last or self.world.last_day, self.world.last_day)
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]

    # --- queries ----------------------------------------------------------------------------

    def page(self, days: list[date], *, descending: bool, skip: int, limit: int) -> list[Leg]:
        """`limit` records from offset `skip` of the days' records in start order."""
        out: list[Leg] = []
        with self._lock:
            for day in reversed(days) if descending else days:
                n = self.count(day)
                if skip >= n:
                    skip -= n
                    continue
                legs = self.day(day)
                take = limit - len(out)
                if descending:
                    out.extend(reversed(legs[max(0, n - skip - take) : n - skip]))
                else:
                    out.extend(legs[skip : skip + take])
                skip = 0
                if len(out) >= limit:
                    break
        return out

    def scan(self, days: list[date], *, descending: bool) -> Iterator[Leg]:
        for day in reversed(days) if descending else days:
            legs = self.day(day)
            yield from reversed(legs) if descending else legs

    def find(self, call_id: str) -> Leg | None:
        day = day_of_call_id(self.world.config.seed, call_id)
        if day is None:
            return None
        for candidate in (day, day + timedelta(days=1)):  # a leg may start after its contact's day
            for leg in self.day(candidate):
                if leg.call_id == call_id:
                    return leg
        return None

    def truth(self, first: date | None = None, last: date | None = None) -> Truth:
        truth = Truth()
        for leg in self.scan(self.window_days(first, last), descending=False):
            if leg.bad:
                truth.bad[leg.id] = leg.bad
            else:
                truth.calls.add(leg.call_id)
        return truth

    # --- changes while running --------------------------------------------------------------

    def add_call_beside(self, neighbour: Leg, rng: random.Random) -> Leg:
        """A new call that started the same second as `neighbour` (a late CDR), so it lands next
        to it in the list and shifts the offsets of every record after it."""
        with self._lock:
            day = self._day_of(neighbour.start)
            now = int(self.world.now.timestamp())
            end = min(neighbour.start + rng.randint(5, 40), now)
            queue = rng.choice(QUEUES)
            self._added_seq += 1
            record = {
                "id": (day.toordinal() - 730000) * 1_000_000 + 900_000 + self._added_seq,
                "callID": new_call_id(rng, day_tag(self.world.config.seed, day)),
                "primaryCallID": None,
                "direction": "inbound",
                "callerIDNumber": f"+{self.world.config.country_code}5{rng.randrange(10**8):08d}",
                "callerIDName": None,
                "didCalled": queue.did,
                "agentId": None,
                "queueId": queue.id,
                "queueName": queue.name,
                "startedAt": iso(neighbour.start),
                "queueEnteredAt": iso(neighbour.start),
                "agentRingStartedAt": None,
                "answeredAt": None,
                "endedAt": iso(end),
                "duration": end - neighbour.start,
                "ivrTime": 0,
                "queueWaitTime": end - neighbour.start,
                "ringTime": 0,
                "talkTime": 0,
                "holdTime": 0,
                "result": "cancel",
                "hangupBy": "customer",
                "hangupCause": "ORIGINATOR_CANCEL",
                "lostInIVR": False,
                "createdAt": iso(end),
                "updatedAt": iso(end),
                "_start_ts": neighbour.start,
                "_end_ts": end,
                "_tags": [],
            }
            leg = to_leg(record)
            contact_day = day  # added calls are single-leg contacts of the day they start on
            self._added.setdefault(contact_day, []).append(leg)
            self._forget(contact_day)
            return leg

    def change_call(self, call_id: str, **fields: object) -> dict:
        """Change a served call, as Ziwo does when, say, a disposition is set later. Returns the record."""
        with self._lock:
            leg = self.find(call_id)
            if leg is None:
                raise KeyError(f"no call {call_id!r} in the simulator")
            fields.setdefault("updatedAt", iso(int(self.world.now.timestamp())))
            self._changes.setdefault(call_id, {}).update(fields)
            self._forget(day_of_call_id(self.world.config.seed, call_id))
            found = self.find(call_id)
            assert found is not None
            return found.record()

    def delete_call(self, call_id: str) -> None:
        """Stop listing a call, as when a CDR is purged."""
        with self._lock:
            if self.find(call_id) is None:
                raise KeyError(f"no call {call_id!r} in the simulator")
            self._deleted.add(call_id)
            self._forget(day_of_call_id(self.world.config.seed, call_id))

    def set_now(self, now: datetime) -> None:
        """Move the simulated clock: calls that end before `now` become visible, days run up to it."""
        with self._lock:
            last_day = now.astimezone(self.world.tz).date()
            self.world = replace(self.world, now=now, last_day=max(last_day, self.world.first_day))
            self._contacts.clear()
            self._days.clear()
            self._counts.clear()

    def _day_of(self, ts: int) -> date:
        return datetime.fromtimestamp(ts, self.world.tz).date()

    def _forget(self, day: date | None) -> None:
        if day is None:
            return
        for d in (day, day + timedelta(days=1)):
            self._contacts.pop(d, None)
            self._days.pop(d, None)
            self._counts.pop(d, None)
