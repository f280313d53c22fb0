"""`pull`: Ziwo call records for a date range to JSON Lines, rejects beside them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ziwo_reports.connectors.ziwo import PullStats, ZiwoClient
from ziwo_reports.files import atomic_writers


@dataclass
class PullResult:
    start: date
    end: date
    out: Path
    rejects_out: Path
    stats: PullStats

    def summary(self) -> str:
        return f"pulled {self.start}..{self.end}: {self.stats.summary()} -> {self.out}"


def rejects_path(out: Path) -> Path:
    """`calls.jsonl` -> `calls.rejects.jsonl`."""
    return out.with_name(f"{out.stem}.rejects{out.suffix or '.jsonl'}")


def pull_to_jsonl(client: ZiwoClient, start: date, end: date, out: Path, *, check_agents: bool = True) -> PullResult:
    """Write each accepted record as Ziwo sent it, one per line, and each reject with its reason.
    Both files appear together, and only when the whole pull succeeded."""
    known_agents = {agent["id"] for agent in client.agents()} if check_agents else None
    rejects_out = rejects_path(out)
    with atomic_writers(out, rejects_out) as (records_file, rejects_file):
        for batch in client.iter_calls(start, end, known_agent_ids=known_agents):
            for record in batch.records:
                records_file.write(json.dumps(record.raw, separators=(",", ":"), ensure_ascii=False) + "\n")
            for reject in batch.rejects:
                line = {
                    "reason": reject.reason,
                    "detail": reject.detail,
                    "day": str(reject.day),
                    "record": reject.raw,
                }
                rejects_file.write(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n")
    return PullResult(start, end, out, rejects_out, client.stats)
