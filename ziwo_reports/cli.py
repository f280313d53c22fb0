"""The `ziwo-reports` command line. Heavy imports happen inside the commands, so that
`--help` and quick commands stay fast."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import sys
import time
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from ziwo_reports import redaction

log = logging.getLogger("ziwo_reports")


class _Parser(argparse.ArgumentParser):
    """Option errors as one line, `error: argument --x: ...`, like every other error (exit 2)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _within_years(value: date, text: str) -> None:
    """Dates users give stay within the years timewindows allows: date sums never overflow."""
    from ziwo_reports.timewindows import FIRST_DAY, LAST_DAY

    if not FIRST_DAY <= value <= LAST_DAY:
        raise argparse.ArgumentTypeError(
            f"{text!r} is outside the years {FIRST_DAY.year} to {LAST_DAY.year} that dates may take"
        )


def _date(text: str) -> date:
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date as YYYY-MM-DD") from None
    _within_years(value, text)
    return value


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 date-time") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset, e.g. {text}+04:00 or {text}Z")
    _within_years(value.date(), text)
    return value


def _duration(text: str):  # -> timedelta
    from ziwo_reports.timewindows import parse_duration

    try:
        return parse_duration(text)
    except ValueError as problem:
        raise argparse.ArgumentTypeError(str(problem)) from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _wait_seconds(text: str) -> float:
    from ziwo_reports.warehouse import lock_wait

    try:
        return lock_wait(text)
    except ValueError as problem:
        raise argparse.ArgumentTypeError(str(problem).removeprefix("--wait ")) from None


def _add_wait_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        type=_wait_seconds,
        metavar="SECONDS",
        help="while another process holds the warehouse file, wait up to this long for it "
        "(default $ZIWO_REPORTS_DB_WAIT or 300)",
    )


def _open(db: Path, args: argparse.Namespace, *, read_only: bool):  # -> Warehouse
    """The warehouse of a command: waits for another process's lock, saying so once on stderr."""
    from ziwo_reports.warehouse import open_warehouse

    return open_warehouse(
        db, read_only=read_only, wait=args.wait, on_wait=lambda message: print(message, file=sys.stderr, flush=True)
    )


def _days(text: str) -> int:
    """A number of days, 1 to timewindows.MAX_DAYS (ten years)."""
    from ziwo_reports.timewindows import MAX_DAYS

    value = _positive_int(text)
    if value > MAX_DAYS:
        raise argparse.ArgumentTypeError(f"{text!r} is more than {MAX_DAYS} days (ten years)")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number: 0 (any free port) to 65535")
    return value


def _limited(name: str, kind: type[int] | type[float]):  # -> Callable[[str], int | float]
    """An argparse type for a numeric simulator setting, checked against SimConfig's own LIMITS."""

    def parse(text: str) -> int | float:
        from ziwo_reports.connectors.ziwo.simulator.world import check_limit

        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
        try:
            check_limit(name, value)
        except ValueError as problem:
            reason = str(problem).split(" is ", 1)[1]  # "<name> <value> is out of range: ..."
            raise argparse.ArgumentTypeError(f"{text!r} is {reason}") from None
        return value

    return parse


def _check_output(option: str, path: Path) -> None:
    """Refuse, before any work, an output path that cannot become a file, naming the option."""
    from ziwo_reports.files import check_output_file

    try:
        check_output_file(path)
    except ValueError as problem:
        raise ValueError(f"{option} {str(path)!r}: {problem}") from None


def _add_connection_options(parser: argparse.ArgumentParser, *, for_block: bool = False) -> None:
    group = parser.add_argument_group(
        "Ziwo connection (each also from the environment: ZIWO_INSTANCE or ZIWO_BASE_URL, "
        "ZIWO_USERNAME, ZIWO_PASSWORD, ZIWO_ACCESS_TOKEN, ZIWO_TIMEZONE, ZIWO_COUNTRY_CODE, ZIWO_PAGE_SIZE)"
    )
    group.add_argument("--instance", help="instance name: 'acme' means https://acme-api.aswat.co")
    group.add_argument("--base-url", help="API base URL, e.g. the simulator's http://127.0.0.1:8765")
    group.add_argument("--username", help="login e-mail")
    group.add_argument("--password", help="password (prefer ZIWO_PASSWORD: options show in `ps`)")
    group.add_argument("--access-token", help="an existing access token instead of a login")
    if not for_block:
        group.add_argument("--block", help="name of a saved 'Ziwo Credentials' Prefect block to use instead")
    group.add_argument("--timezone", help="the instance's IANA time zone, in which Ziwo reads dates (default UTC)")
    group.add_argument("--country-code", help="the instance's country calling code, for repeat callers (default 971)")
    if not for_block:
        group.add_argument("--page-size", type=_positive_int, help="records per request (default 500)")


def _settings(args: argparse.Namespace):  # -> ZiwoSettings
    from ziwo_reports.connectors.ziwo import ZiwoSettings
    from ziwo_reports.http import HttpPolicy

    http = HttpPolicy.from_env()
    extra = {"page_size": args.page_size} if args.page_size else {}
    if args.block:
        from ziwo_reports.connectors.ziwo.block import ZiwoCredentials

        if args.timezone:
            extra["timezone"] = args.timezone
        if args.country_code:
            extra["country_code"] = args.country_code
        return ZiwoCredentials.load(args.block).settings(http=http, **extra)
    options = {
        "instance": args.instance,
        "base_url": args.base_url,
        "timezone": args.timezone,
        "country_code": args.country_code,
        "username": args.username,
        "password": args.password,
        "access_token": args.access_token,
        **extra,
    }
    return ZiwoSettings.from_sources(options, http=http)


def cmd_pull(args: argparse.Namespace) -> int:
    from ziwo_reports.connectors.ziwo import ZiwoClient, ZiwoListingError
    from ziwo_reports.files import check_output_file
    from ziwo_reports.pull import pull_to_jsonl, rejects_path

    end = args.to or args.from_
    if end < args.from_:
        raise ValueError(f"--to {end} is before --from {args.from_}")
    out = args.out or Path("reports_out") / f"calls_{args.from_}_{end}.jsonl"
    _check_output("--out", out)
    try:
        check_output_file(rejects_path(out))
    except ValueError as problem:
        raise ValueError(f"--out {str(out)!r}: its rejects file {rejects_path(out).name!r}: {problem}") from None
    with ZiwoClient(_settings(args)) as client:
        try:
            result = pull_to_jsonl(client, args.from_, end, out, check_agents=not args.no_agent_check)
        except ZiwoListingError as unverified:
            raise RuntimeError(f"{unverified}; nothing written") from None
    print(result.summary() + (f" (rejects: {result.rejects_out})" if result.stats.rejects else ""))
    return 0


def _simulator_config(args: argparse.Namespace):  # -> SimConfig
    from ziwo_reports.connectors.ziwo.simulator import SimConfig

    return SimConfig(
        seed=args.seed,
        days=args.days,
        agents=args.agents,
        calls_per_day=args.calls_per_day,
        timezone=args.timezone,
        faults=args.faults,
        fault_rate=args.fault_rate,
        bad_record_rate=args.bad_record_rate,
        username=args.sim_username,
        password=args.sim_password,
        token_ttl=args.token_ttl,
        retry_after=args.retry_after,
        slow_seconds=args.slow_seconds,
        max_page_size=args.max_page_size,
        totals=args.totals,
        now=args.now,
        cache_days=args.cache_days,
    )


def cmd_simulator(args: argparse.Namespace) -> int:
    from ziwo_reports.connectors.ziwo.simulator import Simulator

    simulator = Simulator(_simulator_config(args), host=args.host, port=args.port)
    try:
        simulator.start()  # bind first: the banner promises an address that answers
    except OSError as problem:
        reason = problem.strerror or str(problem)
        raise ValueError(f"--host {args.host} --port {args.port}: cannot listen there: {reason}") from None
    try:
        cfg = simulator.config
        print(
            f"Ziwo simulator on {simulator.base_url}: seed {cfg.seed}, {cfg.agents} agents, "
            f"~{cfg.calls_per_day} calls/day, {simulator.first_day}..{simulator.last_day} in {cfg.timezone}, "
            f"faults {cfg.faults}; log in as {cfg.username}. Ctrl-C stops it.",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    finally:
        simulator.stop()
    return 0


def _ingest_options(args: argparse.Namespace):  # -> IngestOptions
    from ziwo_reports.ingest import IngestOptions

    return IngestOptions(
        lookback=args.lookback,
        first_day=args.from_,
        last_day=args.to,
        full_refresh=args.full_refresh,
        initial_days=args.initial_days,
    )


@contextlib.contextmanager
def _progress(client):  # -> Iterator[ProgressHook]
    """A progress bar on stderr: days done, pages and records read."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    done_records: dict = {}
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days · {task.fields[pages]} pages · {task.fields[records]} records"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = progress.add_task("ingest", total=None, pages=0, records=0)

    def update(day, counts) -> None:
        done_records[day] = counts.records
        progress.update(
            task,
            description=f"ingest {day}",
            completed=len(done_records) - 1,
            pages=client.stats.pages,
            records=sum(done_records.values()),
        )

    with progress:
        yield progress, task, update


def cmd_ingest(args: argparse.Namespace) -> int:
    from ziwo_reports.connectors.ziwo import ZiwoClient, ZiwoListingError
    from ziwo_reports.ingest import IngestRun, plan_ingest, quarantine_lines, summary_line

    options = _ingest_options(args)
    settings = _settings(args)
    unverified: ZiwoListingError | None = None
    with _open(args.db, args, read_only=False) as warehouse, ZiwoClient(settings) as client:
        plan = plan_ingest(warehouse, settings.instance, settings.timezone, options)
        with _progress(client) as (progress, task, update):
            progress.update(task, total=len(plan.days))
            run = IngestRun(warehouse, client, plan, options, on_progress=update)
            try:
                run.run()
            except ZiwoListingError as failure:  # the other days are loaded: say what was
                unverified = failure
    print(summary_line(run) + f" -> {args.db}")
    for line in quarantine_lines(run):
        print(line)
    if unverified is not None:
        again = "this day" if len(unverified.checks) == 1 else "these days"
        raise RuntimeError(f"{unverified}; the next ingest reads {again} again")
    return 0


#: Spec fields as the command line spells them, for error messages.
_OPTION_OF_FIELD = {
    "rolling_date": "--rolling-date", "timezone": "--timezone", "as_of": "--as-of", "start": "--start",
    "end": "--end", "group_by": "--group-by", "interval": "--interval", "report": "--report",
    "settings.fcr_window": "--fcr-window",
    "filters.min_duration_s": "--min-duration", "filters.outcomes": "--outcome", "filters.directions": "--direction",
    "settings.short_abandon_s": "--short-abandon", "settings.service_level_s": "--service-level",
    "instance": "--instance", "filters.agent_ids": "--agent", "filters.team_ids": "--team",
    "filters.queue_ids": "--queue", "filters.tags": "--tag", "settings.resolved_dispositions": "--resolved-disposition",
}  # fmt: skip


def _in_option_terms(message: str) -> str:
    """A spec error in the command line's words: each field followed by its value becomes the option."""
    for field, option in sorted(_OPTION_OF_FIELD.items(), key=lambda kv: -len(kv[0])):
        name = field.split(".")[-1]
        # a field name followed by its value (a quote or a digit) becomes the option
        message = re.sub(rf"(?<![\w-])(?:{re.escape(field)}|{re.escape(name)}) (?=['\d-])", f"{option} ", message)
    return message


def _ids(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of ids") from None


def _formats(text: str) -> list[str]:
    from ziwo_reports.connectors.files.naming import EXTENSIONS

    formats = _names(text)
    if not formats or set(formats) - set(EXTENSIONS):
        known = f"{', '.join(EXTENSIONS[:-1])} and {EXTENSIONS[-1]}"
        raise argparse.ArgumentTypeError(f"{text!r}: formats are {known}")
    return formats


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _flatten(lists: list[list] | None) -> list | None:
    return [item for part in lists for item in part] if lists else None


def report_spec_from(args: argparse.Namespace):  # -> ReportSpec
    """The report spec of the command's options; errors name the option and the value."""
    from ziwo_reports.report_model import ReportSpecError, make_spec

    filters = {
        "agent_ids": _flatten(args.agent),
        "team_ids": _flatten(args.team),
        "queue_ids": _flatten(args.queue),
        "outcomes": _flatten(args.outcome),
        "directions": _flatten(args.direction),
        "tags": _flatten(args.tag),
        "min_duration_s": args.min_duration,
    }
    settings = {
        "attribute_by": args.attribute_by,
        "week_start": args.week_start,
        "hold_average": args.hold_average,
        "fcr_window": args.fcr_window,
        "fcr_source": args.fcr_source,
        "resolved_dispositions": _flatten(args.resolved_disposition),
        "csat_credit": args.csat_credit,
        "short_abandon_s": args.short_abandon,
        "service_level_s": args.service_level,
    }
    values = {
        "report": args.report,
        "instance": args.instance,
        "rolling_date": args.rolling_date,
        "start": args.start,
        "end": args.end,
        "timezone": args.timezone,
        "as_of": args.as_of,
        "group_by": args.group_by,
        "interval": args.interval,
        "filters": {k: v for k, v in filters.items() if v is not None},
        "settings": {k: v for k, v in settings.items() if v is not None},
    }
    try:
        return make_spec(**{k: v for k, v in values.items() if v is not None})
    except ReportSpecError as problem:
        raise ReportSpecError(_in_option_terms(str(problem))) from None


def cmd_report(args: argparse.Namespace) -> int:
    from ziwo_reports.connectors.files import write_report_files
    from ziwo_reports.report import compute_report
    from ziwo_reports.report_model import ReportSpecError
    from ziwo_reports.report_output import render, write

    spec, files = _report_request(args)
    if not args.db.exists():
        raise ValueError(f"--db {str(args.db)!r}: no warehouse there; run `ziwo-reports ingest` first")
    # Read-only: reports run side by side, and beside nothing that writes; the file is never changed.
    with _open(args.db, args, read_only=True) as warehouse:
        try:
            report = compute_report(warehouse, spec)
        except ReportSpecError as problem:  # an instance the warehouse does not hold
            raise ReportSpecError(_in_option_terms(str(problem))) from None
    if files:
        try:
            written = write_report_files(report, files)
        except Exception as problem:  # a full disk: nothing of this run is left in place, or the error lists it
            raise RuntimeError(f"--files {','.join(args.files)!r}: {problem}") from None
        for file in written:
            print(f"{report.title}: wrote {_shown(file.path)} ({file.format}, {file.bytes:,} bytes, {file.rows} rows)")
    elif args.out is None and args.format is None:
        render(report)
    else:
        try:
            write(report, args.format or "csv", args.out)
        except OSError as problem:
            raise OSError(f"--out {str(args.out)!r}: {problem}") from None
        if args.out is not None:
            print(f"{report.title}: {report.table.num_rows} rows -> {args.out}")
    return 0


def _report_request(args: argparse.Namespace):  # -> tuple[ReportSpec, FileOptions | None]
    """The spec and file options of `report`, with every option checked before the warehouse is
    opened: options that conflict, the window's size, the output file or folder and its names."""
    from ziwo_reports.report_model import ReportSpecError, report_window

    def given(*options: tuple[str, object]) -> list[str]:
        return [f"{option} {str(value)!r}" for option, value in options if value is not None]

    if args.files:
        clashing = given(("--format", args.format), ("--out", args.out))
        if clashing:
            raise ValueError(
                f"--files {','.join(args.files)!r} conflicts with {' and '.join(clashing)}: report files go to "
                "--destination, named by --template; give --files or --format/--out"
            )
    else:
        stray = given(("--destination", args.destination), ("--template", args.template))
        if stray:
            raise ValueError(f"{' and '.join(stray)}: only with --files, which is not given")
    spec = report_spec_from(args)
    try:
        _, window = report_window(spec)
    except ReportSpecError as problem:
        raise ReportSpecError(_in_option_terms(str(problem))) from None
    if not args.files:
        if args.out is not None:
            _check_output("--out", args.out)
        return spec, None
    files = _file_options(args)
    _check_report_files(args, spec, window, files)
    return spec, files


def _check_report_files(args: argparse.Namespace, spec, window, files) -> None:
    """The destination is a folder (or can be made one) and every file name fits the file system."""
    from ziwo_reports.connectors.files.destination import DestinationError, OutsideDestinationError
    from ziwo_reports.connectors.files.naming import TemplateError
    from ziwo_reports.connectors.files.write import check_report_files

    try:
        check_report_files(spec, window, files)
    except DestinationError as problem:
        raise ValueError(f"--destination {files.destination!r}: {problem}") from None
    except (TemplateError, OutsideDestinationError) as problem:
        message = str(problem).removeprefix(f"file name template {files.template!r} ")
        default = "" if args.template else " (the default)"
        raise ValueError(f"--template {files.template!r}{default}: {message}") from None


def _file_options(args: argparse.Namespace):  # -> FileOptions
    """The report-file options; errors name the option and the value."""
    from pydantic import ValidationError

    from ziwo_reports.connectors.files import FileOptions

    values = {"formats": args.files, "destination": str(args.destination or "reports_out")}
    if args.template:
        values["template"] = args.template
    try:
        return FileOptions(**values)
    except ValidationError as problems:
        error = problems.errors()[0]
        option = "--" + str(error["loc"][0]).replace("formats", "files")
        message = error["msg"].removeprefix("Value error, ").removeprefix(f"file name template {error['input']!r} ")
        raise ValueError(f"{option} {error['input']!r}: {message}") from None


def _shown(path: str) -> str:
    """A written file as the user named it: relative to the current folder when inside it."""
    if "://" in path:
        return path
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def cmd_demo(args: argparse.Namespace) -> int:
    from ziwo_reports.connectors.files import write_report_files
    from ziwo_reports.connectors.files.headline import totals
    from ziwo_reports.connectors.ziwo import ZiwoClient, ZiwoSettings
    from ziwo_reports.connectors.ziwo.simulator import Simulator
    from ziwo_reports.http import HttpPolicy
    from ziwo_reports.ingest import IngestOptions, ingest, quarantine_lines, summary_line
    from ziwo_reports.report import compute_report
    from ziwo_reports.report_model import make_spec
    from ziwo_reports.report_output import format_value, render

    cfg = _simulator_config(args)
    db = args.out_dir / "ziwo.duckdb"
    if not args.verbose:  # the summaries count the retries; one line per retry is for -v
        logging.getLogger("ziwo_reports.http").setLevel(logging.ERROR)
    with Simulator(cfg) as simulator:
        print(
            f"simulator: {simulator.base_url}, {cfg.agents} agents, ~{cfg.calls_per_day} calls/day, "
            f"{simulator.first_day}..{simulator.last_day} in {cfg.timezone}, faults {cfg.faults}"
        )
        settings = ZiwoSettings(
            base_url=simulator.base_url,
            instance="simulator",
            timezone=cfg.timezone,
            username=cfg.username,
            password=cfg.password,
            http=HttpPolicy.from_env(backoff_base=0.2),
        )
        options = IngestOptions(initial_days=cfg.days)
        with _open(db, args, read_only=False) as warehouse:
            for label in ("first run", "next run"):
                with ZiwoClient(settings) as client:
                    run = ingest(warehouse, client, options, now=simulator.store.world.now)
                print(f"{label}: {summary_line(run)}")
                for line in quarantine_lines(run):
                    print(line)
        first, last = simulator.first_day, simulator.last_day
        truth = simulator.truth(first, last)
        span = {"instance": "simulator", "first_day": first, "last_day": last}
        # The checks only read, as a report does: read-only, beside any other reader of the file.
        with _open(db, args, read_only=True) as warehouse:
            held = {call_id for (call_id,) in warehouse.run("held_calls", **span)}
            (quarantined,) = warehouse.one("quarantined_between", **span)
            tables = dict(warehouse.run("instance_row_counts", instance="simulator"))
            spec = make_spec(instance="simulator", rolling_date="yesterday", timezone=args.report_timezone)
            report = compute_report(warehouse, spec, now=simulator.store.world.now)
    print(f"warehouse {db}: " + ", ".join(f"{n} {name}" for name, n in tables.items()))
    missing, extra = len(truth.calls - held), len(held - truth.calls)
    print(
        f"check against the simulator's ground truth for {first}..{last}: {len(truth.calls)} calls served, "
        f"{len(held)} in the warehouse, {missing} missing, {extra} extra; "
        f"{len(truth.bad)} malformed served, {quarantined} in quarantine"
    )
    if missing or extra or quarantined != len(truth.bad):
        print("MISMATCH with the ground truth", file=sys.stderr)
        return 1
    print()
    render(report)
    print("totals: " + ", ".join(f"{t.label} {format_value(t.value, t.kind)}" for t in totals(report)))
    for file in write_report_files(report, formats=["xlsx", "csv"], destination=str(args.out_dir)):
        print(f"wrote {_shown(file.path)} ({file.format}, {file.bytes:,} bytes, {file.rows} rows)")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from prefect import serve
    from prefect.settings import PREFECT_API_URL

    from ziwo_reports.flows.deployments import runner_deployments, work_pool_deployments

    deployments = runner_deployments(names=args.deployment or None)
    # serve() would replace a work pool's deployment of the same name: its pull steps lost, the
    # next worker run failing, and the deployment paused when serve stops. Refuse instead.
    held = work_pool_deployments(deployments)
    if held:
        where = "; ".join(f"{', '.join(names)} in work pool {pool!r}" for pool, names in held.items())
        raise ValueError(
            f"not serving: {PREFECT_API_URL.value() or 'the Prefect API'} has {where} (prefect deploy), and serve "
            "would replace them; `prefect deployment delete` them first, or serve on another Prefect server"
        )
    print("serving " + ", ".join(d.name for d in deployments) + " (Ctrl-C stops)")
    serve(*deployments, limit=args.limit)
    return 0


def _password_prompt(username: str) -> str:
    """The password, typed without echo on a terminal, else the first line of standard input."""
    import getpass

    if sys.stdin is None:
        return ""
    if sys.stdin.isatty():
        return getpass.getpass(f"Ziwo password for {username}: ")
    return sys.stdin.readline().rstrip("\r\n")


def cmd_save_block(args: argparse.Namespace) -> int:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL

    from ziwo_reports.connectors.ziwo import ZiwoClient, instance_url
    from ziwo_reports.connectors.ziwo.block import ZiwoCredentials
    from ziwo_reports.flows.ingest import sign_in

    if not re.fullmatch(r"[a-z0-9-]+", args.name):  # Prefect's rule for block names
        raise ValueError(f"block name {args.name!r}: only lowercase letters, digits and dashes, e.g. ziwo")
    api = PREFECT_API_URL.value()
    if not api:
        raise ValueError(
            "PREFECT_API_URL is not set, so the block would go to a temporary Prefect server and be lost: "
            "export PREFECT_API_URL=http://127.0.0.1:4200/api (your server's API) first"
        )
    with get_client(sync_client=True) as prefect_client:
        problem = prefect_client.api_healthcheck()
        if problem is not None:
            raise ValueError(f"PREFECT_API_URL {api!r} does not answer ({problem}); is `prefect server start` running?")
        try:  # before the password is asked for
            prefect_client.read_block_document_by_name(args.name, block_type_slug="ziwo-credentials")
            if not args.overwrite:
                raise ValueError(
                    f"a Ziwo Credentials block named {args.name!r} exists on {api}; --overwrite replaces it"
                )
        except ObjectNotFound:
            pass
    args.block, args.page_size = None, None
    token = args.access_token or os.environ.get("ZIWO_ACCESS_TOKEN")
    username = args.username or os.environ.get("ZIWO_USERNAME")
    if username and not token and not (args.password or os.environ.get("ZIWO_PASSWORD")):
        args.password = _password_prompt(username)
    settings = _settings(args)
    if not args.no_check:
        with ZiwoClient(settings) as client:
            who = sign_in(client)
        print(f"logged in to {settings.base_url} as {who or settings.username}")
    try:
        derived = instance_url(settings.instance) == settings.base_url
    except ValueError:  # not an aswat.co instance name
        derived = False
    block = ZiwoCredentials(
        instance=settings.instance,
        base_url=None if derived else settings.base_url,
        timezone=settings.timezone,
        country_code=settings.country_code,
        username=settings.username,
        password=settings.password,
        access_token=settings.access_token,
    )
    block.save(args.name, overwrite=args.overwrite)
    login = "an access token" if settings.access_token and not settings.username else settings.username
    print(
        f"saved Ziwo Credentials block {args.name!r} on {api}: instance {settings.instance} at {settings.base_url}, "
        f"{settings.timezone}, country code {settings.country_code}, login {login}"
    )
    return 0


def _add_simulator_options(parser: argparse.ArgumentParser, *, faults: str, fault_rate: float) -> None:
    from ziwo_reports.connectors.ziwo.simulator import DEFAULT_PASSWORD, DEFAULT_USERNAME, FAULT_MODES

    def whole(name: str):  # -> Callable[[str], int]
        return _limited(name, int)

    def number(name: str):  # -> Callable[[str], float]
        return _limited(name, float)

    g = parser.add_argument_group("simulated instance")
    g.add_argument("--seed", type=whole("seed"), default=42, help="same seed, same data (default 42)")
    g.add_argument("--days", type=whole("days"), default=30, help="days of history up to today (default 30)")
    g.add_argument("--agents", type=whole("agents"), default=25, help="number of agents (default 25)")
    g.add_argument(
        "--calls-per-day",
        type=whole("calls_per_day"),
        default=2000,
        help="average contacts a day (default 2000)",
    )
    g.add_argument("--timezone", default="Asia/Dubai", help="the instance's IANA time zone (default Asia/Dubai)")
    g.add_argument("--now", type=_instant, help="simulated current time, ISO 8601 with offset (default: now)")
    g.add_argument("--faults", choices=FAULT_MODES, default=faults, help=f"fault mode (default {faults})")
    g.add_argument(
        "--fault-rate",
        type=number("fault_rate"),
        default=fault_rate,
        help=f"share of requests with a fault (default {fault_rate})",
    )
    g.add_argument(
        "--bad-record-rate",
        type=number("bad_record_rate"),
        default=0.005,
        help="share of malformed records, hostile mode (default 0.005)",
    )
    g.add_argument(
        "--retry-after",
        type=whole("retry_after"),
        default=1,
        help="Retry-After seconds sent with 429 (default 1)",
    )
    g.add_argument(
        "--slow-seconds",
        type=number("slow_seconds"),
        default=1.0,
        help="delay of a slow response (default 1.0)",
    )
    g.add_argument(
        "--token-ttl",
        type=number("token_ttl"),
        default=3600.0,
        help="access-token lifetime in seconds (default 3600)",
    )
    g.add_argument(
        "--max-page-size", type=whole("max_page_size"), help="largest page served (default 1000; hostile faults: 100)"
    )
    g.add_argument(
        "--no-totals", dest="totals", action="store_false", help="call-history pages say no info.totalRecords"
    )
    g.add_argument(
        "--cache-days",
        type=whole("cache_days"),
        default=4,
        help="days kept in memory (default 4; benchmarks: all)",
    )
    g.add_argument(
        "--username",
        dest="sim_username",
        default=DEFAULT_USERNAME,
        help=f"login accepted (default {DEFAULT_USERNAME})",
    )
    g.add_argument(
        "--password",
        dest="sim_password",
        default=DEFAULT_PASSWORD,
        help="password accepted (default in README)",
    )


def _add_report_options(parser: argparse.ArgumentParser) -> None:
    from ziwo_reports.timewindows import INTERVALS, WEEKDAYS

    parser.add_argument(
        "--db",
        type=Path,
        default=Path(os.environ.get("ZIWO_REPORTS_DB") or "reports_out/ziwo.duckdb"),
        help="warehouse file (default $ZIWO_REPORTS_DB or reports_out/ziwo.duckdb)",
    )
    parser.add_argument("--instance", help="the Ziwo instance (default: every instance in the warehouse)")
    g = parser.add_argument_group("what and when")
    g.add_argument(
        "--report", choices=("agent-performance", "queue-performance", "call-details"), default="agent-performance"
    )
    g.add_argument(
        "--rolling-date",
        default="yesterday",
        help="today, yesterday, this_week, last_week, this_month, "
        "last_month, last_7_days, last_30_days, last_n_days:N, custom (default yesterday)",
    )
    g.add_argument("--start", type=_date, help="custom: first day, YYYY-MM-DD")
    g.add_argument("--end", type=_date, help="custom: last day, included")
    g.add_argument("--timezone", default="UTC", help="report zone: Asia/Dubai, UTC-12:00, +05:30, GMT-3 (default UTC)")
    g.add_argument("--as-of", type=_instant, help="'now' for the rolling date, ISO 8601 with offset (default: now)")
    g.add_argument("--group-by", choices=("agent", "team", "queue", "none"), help="default agent (queue report: queue)")
    g.add_argument("--interval", choices=INTERVALS, default="none", help="rows per interval (default none)")
    f = parser.add_argument_group("filters (comma-separated lists; repeatable)")
    f.add_argument("--agent", type=_ids, action="append", help="agent ids")
    f.add_argument("--team", type=_ids, action="append", help="team ids")
    f.add_argument("--queue", type=_ids, action="append", help="queue ids")
    f.add_argument(
        "--outcome", type=_names, action="append", help="answered (or successful), missed, abandoned, transferred"
    )
    f.add_argument("--direction", type=_names, action="append", help="inbound, outbound")
    f.add_argument("--tag", type=_names, action="append", help="legs with any of these tags")
    f.add_argument("--min-duration", type=int, help="legs lasting at least this many seconds")
    m = parser.add_argument_group("metric settings (defaults in docs/metrics.md)")
    m.add_argument(
        "--attribute-by", choices=("start", "end"), help="a leg counts in the window of its start (default) or end"
    )
    m.add_argument("--week-start", choices=WEEKDAYS, help="first day of a week (default monday)")
    m.add_argument("--hold-average", choices=("held", "handled"), help="avg hold over held (default) or handled legs")
    m.add_argument("--fcr-window", type=_duration, help="repeat-call window for first-call resolution (default 24h)")
    m.add_argument(
        "--fcr-source", choices=("repeat", "disposition", "both"), help="what resolves a contact (default repeat)"
    )
    m.add_argument("--resolved-disposition", type=_names, action="append", help="dispositions meaning resolved")
    m.add_argument("--csat-credit", choices=("last", "first"), help="CSAT to the last (default) or first agent")
    m.add_argument("--short-abandon", type=int, help="seconds: shorter abandons are short (default 10)")
    m.add_argument("--service-level", type=int, help="seconds: answered within counts in SL (default 20)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ziwo-reports", description="Reports on Ziwo call-center data.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    pull = commands.add_parser("pull", help="pull call records of a date range to JSON Lines")
    _add_connection_options(pull)
    pull.add_argument("--from", dest="from_", type=_date, required=True, help="first day, YYYY-MM-DD (instance time)")
    pull.add_argument("--to", type=_date, help="last day, included (default: --from)")
    pull.add_argument("--out", type=Path, help="output file (default reports_out/calls_<from>_<to>.jsonl)")
    pull.add_argument("--no-agent-check", action="store_true", help="do not reject calls of unknown agents")
    pull.set_defaults(func=cmd_pull)

    ingest = commands.add_parser("ingest", help="load Ziwo calls, agents and queues into the DuckDB warehouse")
    _add_connection_options(ingest)
    ingest.add_argument(
        "--db",
        type=Path,
        default=Path(os.environ.get("ZIWO_REPORTS_DB") or "reports_out/ziwo.duckdb"),
        help="warehouse file (default $ZIWO_REPORTS_DB or reports_out/ziwo.duckdb)",
    )
    ingest.add_argument("--from", dest="from_", type=_date, help="backfill from this instance day, YYYY-MM-DD")
    ingest.add_argument("--to", type=_date, help="backfill to this day, included (default: today)")
    ingest.add_argument("--lookback", type=_duration, default="48h", help="window re-read each run (default 48h)")
    ingest.add_argument(
        "--full-refresh", action="store_true", help="re-read all held days; drop legs Ziwo no longer lists"
    )
    ingest.add_argument(
        "--initial-days", type=_days, default=30, help="days a first run reads (default 30, at most 3660)"
    )
    _add_wait_option(ingest)
    ingest.set_defaults(func=cmd_ingest)

    report = commands.add_parser("report", help="compute a report from the warehouse")
    _add_report_options(report)
    report.add_argument("--format", choices=("csv", "json"), help="print or write CSV or JSON instead of a table")
    report.add_argument("--out", type=Path, help="write to this file (default: the terminal)")
    f = report.add_argument_group("report files (Excel, CSV, Parquet, JSON; see README)")
    f.add_argument("--files", type=_formats, help="write these files, comma-separated: xlsx,csv,parquet,json")
    f.add_argument("--destination", help="folder or fsspec URL (default reports_out)")
    f.add_argument("--template", help="file name template (default {report}_{instance}_{period}_{zone}.{ext})")
    _add_wait_option(report)
    report.set_defaults(func=cmd_report)

    serve = commands.add_parser(
        "serve", help="run the deployments of prefect.yaml (schedules included) in this process, without a work pool"
    )
    serve.add_argument("--deployment", action="append", help="only this deployment (repeatable; default: all)")
    serve.add_argument("--limit", type=_positive_int, help="at most this many flow runs at once")
    serve.set_defaults(func=cmd_serve)

    save_block = commands.add_parser(
        "save-block",
        help="save the Ziwo connection as a 'Ziwo Credentials' block on the Prefect server of PREFECT_API_URL",
        description="Save the Ziwo connection (options, else ZIWO_* variables) as a Ziwo Credentials block on "
        "the Prefect server of PREFECT_API_URL, after a login to check it. Without a password or token given, "
        "the password is asked for (not echoed), or read from standard input when that is not a terminal.",
    )
    save_block.add_argument("name", help="block name, e.g. ziwo (the deployments of prefect.yaml read `ziwo`)")
    _add_connection_options(save_block, for_block=True)
    save_block.add_argument("--overwrite", action="store_true", help="replace a block of that name")
    save_block.add_argument("--no-check", action="store_true", help="save without logging in to Ziwo first")
    save_block.set_defaults(func=cmd_save_block)

    sim = commands.add_parser("simulator", help="serve the built-in Ziwo API simulator")
    sim.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sim.add_argument("--port", type=_port, default=8765, help="port (default 8765; 0: any free port)")
    _add_simulator_options(sim, faults="none", fault_rate=0.05)
    sim.set_defaults(func=cmd_simulator)

    demo = commands.add_parser(
        "demo", help="start the simulator, ingest its calls twice, check the warehouse, report on yesterday"
    )
    demo.add_argument("--out-dir", type=Path, default=Path("reports_out"), help="where files go (default reports_out)")
    demo.add_argument(
        "--report-timezone",
        default="UTC-12:00",
        help="zone of the closing agent-performance report (default UTC-12:00)",
    )
    _add_simulator_options(demo, faults="flaky", fault_rate=0.05)
    _add_wait_option(demo)
    demo.set_defaults(func=cmd_demo, slow_seconds=0.3)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    redaction.install()
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one clean line for the user; the traceback only with -vv
        log.debug("failed", exc_info=True)
        message = re.sub(r"\s*\n\s*", " ", str(exc).strip())  # one line, whatever the exception held
        print(f"error: {redaction.redact(message)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
