"""The `ziwo-ingest` Prefect flow: log in, refresh agents and queues, then pull, validate and load
the calls day by day into the DuckDB warehouse, with a table artifact and a markdown summary.

Run it once with `python flows/ingest.py` (Ziwo settings from the environment), or deploy it
with `prefect deploy --all` (see prefect.yaml).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from datetime import date, timedelta
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from connectors.ziwo import ZiwoClient, ZiwoListingError, ZiwoSettings
from ziwo_reports import redaction
from ziwo_reports.ingest import Counts, IngestOptions, IngestRun, plan_ingest, summary_line, verification_summary
from ziwo_reports.warehouse import DEFAULT_DB, open_warehouse

# Tasks do not retry: every HTTP request already retries under the one HTTP policy, and a day
# that failed is read again by the next run's lookback. NO_CACHE: the inputs are live objects.
STEP = {"retries": 0, "cache_policy": NO_CACHE}


@task(name="log in", **STEP)
def log_in(client: ZiwoClient) -> str:
    user = client.login()
    return str(user.get("username", ""))


@task(name="refresh agents, teams, queues, numbers", **STEP)
def refresh_reference_data(run: IngestRun) -> dict[str, int]:
    return run.refresh_reference_data()


@task(name="pull, validate and load calls", task_run_name="calls of {day}", **STEP)
def ingest_day(run: IngestRun, day: date) -> Counts:
    """Fails when the day's listing could not be verified (what was read is loaded)."""
    return run.ingest_day(day)


def instance_settings(credentials_block: str | None) -> ZiwoSettings:
    """The instance of the named Ziwo Credentials block, else of the ZIWO_* environment."""
    if credentials_block:
        from connectors.ziwo.block import ZiwoCredentials

        return ZiwoCredentials.load(credentials_block).settings()
    return ZiwoSettings.from_sources()


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


def artifact_key(*parts: str) -> str:
    """An artifact key: lower-case letters, digits and dashes."""
    return re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")


def _artifacts(run: IngestRun) -> None:
    key = artifact_key("ziwo-ingest", run.instance)
    rows = []
    for day, counts in sorted(run.by_day.items()):
        check = run.checks.get(day)
        verification = {
            "verified": check.verified if check else False,
            "records_read": check.records if check else None,
            "server_total": check.server_total if check else None,
            "passes": check.passes if check else None,
        }
        rows.append({"day": str(day), **verification, **counts.as_dict()})
    create_table_artifact(rows, key=key, description=f"Calls ingested per day, run {run.run_id}")
    totals = run.totals
    lines = [
        f"# Ziwo ingest of `{run.instance}`, run {run.run_id}",
        "",
        f"{run.plan.mode.replace('_', ' ')} of {run.plan.describe()}",
        "",
        f"Listings: {verification_summary(run.checks.values())}",
        "",
        "| new | updated | unchanged | removed | quarantined | pages | retries | re-logins |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {totals.new} | {totals.updated} | {totals.unchanged} | {totals.removed} | {totals.quarantined} "
        f"| {totals.pages} | {totals.retries} | {totals.relogins} |",
        "",
        "Reference data: " + ", ".join(f"{n} {name}" for name, n in run.reference.items()),
    ]
    if run.quarantine_reasons:
        lines += ["", "| quarantined | reason |", "|---:|---|"]
        lines += [f"| {n} | `{reason}` |" for reason, n in run.quarantine_reasons.most_common()]
    create_markdown_artifact("\n".join(lines), key=f"{key}-summary", description=summary_line(run))


@flow(name="ziwo-ingest")
def ingest(
    credentials_block: str | None = None,
    db_path: str = str(DEFAULT_DB),
    lookback_hours: float = 48,
    first_day: date | None = None,
    last_day: date | None = None,
    full_refresh: bool = False,
    initial_days: int = 30,
) -> dict[str, int]:
    """Incremental ingest of one Ziwo instance; `first_day`/`last_day` backfill a range instead.

    Credentials come from the named Ziwo Credentials block, or from ZIWO_* environment variables.
    """
    redaction.install()
    logger = get_run_logger()
    options = IngestOptions(
        lookback=timedelta(hours=lookback_hours),
        first_day=first_day,
        last_day=last_day,
        full_refresh=full_refresh,
        initial_days=initial_days,
    )
    settings = instance_settings(credentials_block)
    # The slot queues flow runs on this warehouse; the lock wait covers anything else holding the
    # file (a command-line ingest), up to $ZIWO_REPORTS_DB_WAIT seconds.
    with (
        warehouse_slot(db_path),
        open_warehouse(db_path, on_wait=logger.warning) as warehouse,
        ZiwoClient(settings) as client,
    ):
        plan = plan_ingest(warehouse, settings.instance, settings.timezone, options)
        run = IngestRun(warehouse, client, plan, options)
        run.start()
        failure: BaseException | None = None
        try:
            logger.info("logged in to %s as %s", settings.base_url, log_in(client))
            refresh_reference_data(run)
            for day in plan.days:
                state = ingest_day(run, day, return_state=True)
                # A day not verified is recorded with it and fails the run at its end; other
                # failures stop the run here.
                with suppress(ZiwoListingError):
                    state.result()
        except BaseException as error:
            failure = error
            raise
        finally:
            run.finish(failure)
            _artifacts(run)
    logger.info(summary_line(run))
    unverified = run.unverified()
    if unverified is not None:
        raise unverified
    return run.totals.as_dict()


if __name__ == "__main__":
    ingest()
