"""The Prefect global concurrency slot of a warehouse file: flow runs on one file queue for it,
each logging that it waits, instead of failing on DuckDB's file lock."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from prefect import get_run_logger


def warehouse_slot_name(db_path: str | Path) -> str:
    """The Prefect global concurrency limit of a warehouse file: readable, and one per file however
    its path is spelled (relative, through a symlink)."""
    path = Path(db_path).expanduser().resolve()
    stem = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")[:40] or "warehouse"
    return f"ziwo-warehouse-{stem}-{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"


@contextmanager
def warehouse_slot(db_path: str | Path) -> Iterator[str]:
    """Hold the warehouse's global concurrency slot (limit 1, created on first use), so flow runs on
    one file queue, each logging that it waits, instead of failing on DuckDB's file lock.

    Without a limit, Prefect's `concurrency()` only warns and goes on (`strict=True` raises), and
    its server no longer creates limits on acquisition: so create it here. The wait for the slot
    has no bound, as Prefect's queues have none: the holder is a live run (a killed one loses the
    slot when its lease expires, after a minute) and a deployment's own timeout bounds a run.
    """
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.client.schemas.objects import ConcurrencyLeaseHolder
    from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError
    from prefect.concurrency.sync import concurrency
    from prefect.context import FlowRunContext
    from prefect.exceptions import MissingContextError, ObjectAlreadyExists, ObjectNotFound

    name = warehouse_slot_name(db_path)
    try:
        logger = get_run_logger()
    except MissingContextError:  # outside a flow run: a script or a test holding the slot
        logger = logging.getLogger("ziwo_reports.flows")
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
                logger.info("created the concurrency limit %s (1 slot) for the warehouse %s", name, db_path)
            except ObjectAlreadyExists:  # another run created it meanwhile
                pass
    context = FlowRunContext.get()
    holder = ConcurrencyLeaseHolder(type="flow_run", id=context.flow_run.id) if context and context.flow_run else None
    # The slot only queues runs; DuckDB's file lock still guards the data. So a lease that cannot
    # be renewed for a while (an API hiccup) is no reason to kill a long ingest.
    options = {"strict": True, "holder": holder, "lease_duration": 60, "raise_on_lease_renewal_failure": False}
    started = time.monotonic()
    with ExitStack() as held:
        try:
            held.enter_context(concurrency(name, max_retries=0, **options))
        except ConcurrencySlotAcquisitionError as error:
            cause = error.__cause__
            if not (isinstance(cause, httpx.HTTPStatusError) and cause.response.status_code == 423):
                raise
            logger.info("waiting for the warehouse slot %s: another flow run is using %s", name, db_path)
            held.enter_context(concurrency(name, **options))
        taken = time.monotonic()
        logger.info("took the warehouse slot %s after %.1f s", name, taken - started)
        try:
            yield name
        finally:
            logger.info("releasing the warehouse slot %s after %.1f s", name, time.monotonic() - taken)
