"""The `ziwo-ingest` Prefect flow: log in, refresh agents and queues, then pull, validate and load
the calls day by day into the DuckDB warehouse, with a table artifact and a markdown summary.

Run it once with `python -m ziwo_reports.flows.ingest` (Ziwo settings from the environment), or deploy it
with `prefect deploy --all` (see prefect.yaml).
"""

from __future__ import annotations

import re
from contextlib import suppress
from datetime import date, timedelta
from typing import Annotated

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from ziwo_reports import redaction
from ziwo_reports.connectors.ziwo import ZiwoClient, ZiwoListingError, ZiwoSettings
from ziwo_reports.flows.parameters import CredentialsBlock, DbPath, form, warehouse_path
from ziwo_reports.flows.slots import warehouse_slot
from ziwo_reports.ingest import Counts, IngestOptions, IngestRun, plan_ingest, summary_line, verification_summary
from ziwo_reports.warehouse import open_warehouse

# Tasks do not retry: every HTTP request already retries under the one HTTP policy, and a day
# that failed is read again by the next run's lookback. NO_CACHE: the inputs are live objects.
STEP = {"retries": 0, "cache_policy": NO_CACHE}


def sign_in(client: ZiwoClient) -> str:
    """Log in with the username and password; with an access token alone, check the token by
    reading the profile, as the command line uses a token without logging in. Returns who."""
    if client.settings.can_login:
        user = client.login()
    else:
        user, _ = client.get("/profile")
    return str(user.get("username", "")) if isinstance(user, dict) else ""


@task(name="log in", **STEP)
def log_in(client: ZiwoClient) -> str:
    return sign_in(client)


@task(name="refresh agents, teams, queues, numbers", **STEP)
def refresh_reference_data(run: IngestRun) -> dict[str, int]:
    return run.refresh_reference_data()


@task(name="pull, validate and load calls", task_run_name="calls of {day}", **STEP)
def ingest_day(run: IngestRun, day: date) -> Counts:
    """Fails when the day's listing could not be verified (what was read is loaded)."""
    return run.ingest_day(day)


def instance_settings(credentials_block: str | None = None) -> ZiwoSettings:
    """The instance of the named Ziwo Credentials block, else of the ZIWO_* environment."""
    if credentials_block:
        from ziwo_reports.connectors.ziwo.block import ZiwoCredentials

        return ZiwoCredentials.load(credentials_block).settings()
    return ZiwoSettings.from_sources()


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
    credentials_block: CredentialsBlock = "",
    db_path: DbPath = "",
    lookback_hours: Annotated[
        float,
        form("Lookback (hours)", "Hours before the last run that are read again, for late and changed calls.", ge=0),
    ] = 48,
    first_day: Annotated[
        date | None,
        form(
            "Backfill from",
            "Read from this day of the instance to the last day instead of the recent days; None: no backfill.",
        ),
    ] = None,
    last_day: Annotated[
        date | None,
        form(
            "Backfill to", "The last day of a backfill, included; None with a first day: today in the instance's zone."
        ),
    ] = None,
    full_refresh: Annotated[
        bool, form("Full refresh", "Read every day the warehouse holds again; drop the calls Ziwo no longer lists.")
    ] = False,
    initial_days: Annotated[
        int, form("Initial days", "Days a first run reads, when the warehouse holds nothing of this instance.", ge=1)
    ] = 30,
) -> dict[str, int]:
    """Incremental ingest of one Ziwo instance; `first_day`/`last_day` backfill a range instead."""
    redaction.install()
    logger = get_run_logger()
    db_path = warehouse_path(db_path)
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
