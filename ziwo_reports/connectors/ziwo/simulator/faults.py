"""Which fault, if any, a request meets. Deterministic under the seed for a client that sends
one request at a time."""

from __future__ import annotations

import random
import threading

from ziwo_reports.connectors.ziwo.simulator.world import SimConfig

#: flaky: what a busy or unwell server does.
FLAKY = ("429", "500", "502", "503", "slow", "reset")
#: hostile: all of flaky, plus what breaks naive clients. Besides these, in hostile mode a share
#: `fault_rate` of call-history pages holds one record twice (`oversize`, drawn on its own), and
#: the reference lists ignore `skip`.
HOSTILE = (*FLAKY, "expire_token", "truncate", "duplicate", "insert", "late")
#: Faults that only make sense on a call-history page after the first.
PAGING_ONLY = ("duplicate", "insert")
#: Faults that only make sense on a call-history page.
CALL_PAGES_ONLY = ("late",)
#: Every fault the hostile mode serves, `oversize` included.
HOSTILE_ALL = (*HOSTILE, "oversize")


class FaultPlan:
    """A share `fault_rate` of requests meets a fault. Kinds are dealt from a shuffled deck, so
    every kind comes up once in each round of faults, in an order set by the seed."""

    def __init__(self, config: SimConfig) -> None:
        self.rate = config.fault_rate
        self.kinds = {"none": (), "flaky": FLAKY, "hostile": HOSTILE}[config.faults]
        self.rng = random.Random(f"{config.seed}:faults")
        self._deck: list[str] = []
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def draw(self, *, call_page: bool, paging: bool, can_expire_token: bool) -> str | None:
        """The fault for the next request, or None. `call_page`: a call-history page; `paging`: one
        after the first; `can_expire_token`: the request carries a token in use for a while."""
        if not self.kinds:
            return None
        with self._lock:
            if self.rng.random() >= self.rate:
                return None

            def fits(kind: str) -> bool:
                return (
                    (paging or kind not in PAGING_ONLY)
                    and (call_page or kind not in CALL_PAGES_ONLY)
                    and (can_expire_token or kind != "expire_token")
                )

            kind = next((k for k in self._deck if fits(k)), None)
            if kind is None:
                fresh = list(self.kinds)
                self.rng.shuffle(fresh)
                self._deck += fresh
                kind = next(k for k in self._deck if fits(k))
            self._deck.remove(kind)
            self.counts[kind] = self.counts.get(kind, 0) + 1
            return kind

    def oversize(self) -> bool:
        """Hostile mode: whether this call-history page holds one of its records twice."""
        if self.kinds != HOSTILE:
            return False
        with self._lock:
            if self.rng.random() >= self.rate:
                return False
            self.counts["oversize"] = self.counts.get("oversize", 0) + 1
            return True

    def rng_for_data(self) -> random.Random:
        with self._lock:
            return random.Random(self.rng.getrandbits(64))
