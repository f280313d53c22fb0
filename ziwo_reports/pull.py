"""`pull`: Ziwo call records for a date range to JSON Lines, rejects beside them."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO

from connectors.ziwo import PullStats, ZiwoClient


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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_writer(path: Path) -> Iterator[IO[str]]:
    """Write to a temporary file beside `path` and rename it over `path` only on success,
    so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yield handle
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def pull_to_jsonl(client: ZiwoClient, start: date, end: date, out: Path, *, check_agents: bool = True) -> PullResult:
    """Write each accepted record as Ziwo sent it, one per line, and each reject with its reason."""
    known_agents = {agent["id"] for agent in client.agents()} if check_agents else None
    rejects_out = rejects_path(out)
    with atomic_writer(out) as records_file, atomic_writer(rejects_out) as rejects_file:
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
