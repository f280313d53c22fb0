"""The report command's options are made from the models (ziwo_reports/cli/model_options.py): every
field has its option, and a field the models gain is an option at once, named by the rules, described
by the field and validated by the model, with errors that name the option and the value."""

from __future__ import annotations

import contextlib
import io
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from ziwo_reports import report_model
from ziwo_reports.cli import build_parser, main
from ziwo_reports.cli.model_options import option_name
from ziwo_reports.cli.report import report_spec_from
from ziwo_reports.connectors.files import FileOptions
from ziwo_reports.report_model import MetricSettings, ReportFilters, ReportSpec, Seconds, ZiwoId

#: Today's option names: users' scripts hold them.
NAMES = {
    "report": "--report", "instance": "--instance", "rolling_date": "--rolling-date", "start": "--start",
    "end": "--end", "timezone": "--timezone", "as_of": "--as-of", "group_by": "--group-by", "interval": "--interval",
    "filters.agent_ids": "--agent", "filters.team_ids": "--team", "filters.queue_ids": "--queue",
    "filters.outcomes": "--outcome", "filters.directions": "--direction", "filters.tags": "--tag",
    "filters.min_duration_s": "--min-duration",
    "settings.attribute_by": "--attribute-by", "settings.week_start": "--week-start",
    "settings.hold_average": "--hold-average", "settings.fcr_window": "--fcr-window",
    "settings.fcr_source": "--fcr-source", "settings.resolved_dispositions": "--resolved-disposition",
    "settings.csat_credit": "--csat-credit", "settings.short_abandon_s": "--short-abandon",
    "settings.service_level_s": "--service-level", "settings.wrap_up_fallback": "--wrap-up-fallback",
    "settings.fcr_repeat": "--fcr-repeat",
}  # fmt: skip


def report_args(*argv: str):
    return build_parser().parse_args(["report", *argv])


def report_help() -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        build_parser().parse_args(["report", "--help"])
    return " ".join(out.getvalue().split())  # argparse's line breaks undone


def compact(text: str) -> str:
    """Text without its whitespace: argparse breaks lines at spaces and after hyphens."""
    return "".join(text.split()).removesuffix(".")


def fields(model: type[BaseModel], prefix: str = "") -> dict[str, object]:
    """Every field of a model by dotted path, those of its nested models instead of the models."""
    found: dict[str, object] = {}
    for name, info in model.model_fields.items():
        inner = info.annotation
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            found |= fields(inner, f"{prefix}{name}.")
        else:
            found[prefix + name] = info
    return found


def test_every_field_of_the_spec_its_filters_and_settings_is_an_option_with_its_description():
    args = report_args()
    options = {".".join(option.path): option.flag for option in args.spec_options}
    model_fields = fields(ReportSpec)
    assert set(options) == set(model_fields)
    assert {f"filters.{name}" for name in ReportFilters.model_fields} <= set(options)
    assert {f"settings.{name}" for name in MetricSettings.model_fields} <= set(options)
    assert NAMES.items() <= options.items()
    files = {".".join(option.path): option.flag for option in args.file_options}
    assert files == {"formats": "--files", "destination": "--destination", "template": "--template"}
    shown = compact(report_help())
    for path, info in model_fields.items():
        assert compact(info.description) in shown, path
    # the template's description holds strftime's % signs, which argparse would read as its own
    assert compact(FileOptions.model_fields["template"].description) in shown
    assert "(default24h)" in shown and "(defaultResolved,Informationprovided)" in shown


def test_each_option_reaches_its_field():
    args = report_args(
        *("--report", "queue-performance", "--group-by", "none", "--instance", "acme", "--timezone", "Asia/Dubai"),
        *("--rolling-date", "custom", "--start", "2026-11-02", "--end", "2026-11-08"),
        *("--as-of", "2026-11-12T12:00+00:00", "--interval", "hour"),
        *("--agent", "7,8", "--agent", "9", "--team", "3", "--queue", "4, 5", "--outcome", "missed"),
        *("--outcome", "successful", "--direction", "inbound,internal", "--tag", "vip, gold", "--min-duration", "30"),
        *("--attribute-by", "end", "--week-start", "sunday", "--hold-average", "handled", "--fcr-window", "2d"),
        *("--fcr-source", "both", "--resolved-disposition", "Done,Fixed", "--csat-credit", "first"),
        *("--short-abandon", "5", "--service-level", "30", "--wrap-up-fallback", "none", "--fcr-repeat", "agent"),
    )
    spec = report_spec_from(args)
    assert spec.model_dump(exclude={"filters", "settings"}) == {
        "report": "queue-performance",
        "instance": "acme",
        "rolling_date": "custom",
        "start": date(2026, 11, 2),
        "end": date(2026, 11, 8),
        "timezone": "Asia/Dubai",
        "as_of": datetime(2026, 11, 12, 12, tzinfo=UTC),
        "group_by": "none",
        "interval": "hour",
    }
    assert spec.filters == ReportFilters(
        agent_ids=[7, 8, 9],
        team_ids=[3],
        queue_ids=[4, 5],
        outcomes=["answered", "missed"],
        directions=["inbound", "internal"],
        tags=["vip", "gold"],
        min_duration_s=30,
    )
    assert spec.settings == MetricSettings(
        attribute_by="end",
        week_start="sunday",
        hold_average="handled",
        fcr_window=timedelta(days=2),
        fcr_source="both",
        resolved_dispositions=["Done", "Fixed"],
        csat_credit="first",
        short_abandon_s=5,
        service_level_s=30,
        wrap_up_fallback="none",
        fcr_repeat="agent",
    )
    assert report_spec_from(report_args()) == ReportSpec()  # nothing given: the model's defaults


class MoreFilters(ReportFilters):
    skill_ids: list[ZiwoId] | None = Field(
        default=None, title="Skill ids", description="Only legs routed by these skills; None: every skill."
    )
    channels: list[Literal["voice", "chat"]] | None = Field(
        default=None, title="Channels", description="Only legs of these channels."
    )


class MoreSettings(MetricSettings):
    grace_s: Seconds = Field(default=3, title="Grace (s)", description="Abandons within this grace are not counted.")
    busy_hours: Literal["local", "utc"] = Field(
        default="local", title="Busy hours", description="Busy hours in the report's zone or in UTC."
    )
    sla_target: float = Field(default=0.8, ge=0, le=1, title="SLA target", description="Share to answer in SL.")
    count_internal: bool = Field(default=False, title="Count internal", description="Count internal calls too.")
    sl_interval: Literal[15, 30, 60] = Field(default=30, title="SL interval", description="Minutes per SL bucket.")
    late_window: timedelta = Field(
        default=timedelta(hours=2), title="Late window", description="Calls this late still count."
    )


class MoreSpec(ReportSpec):
    filters: MoreFilters = Field(default_factory=MoreFilters)
    settings: MoreSettings = Field(default_factory=MoreSettings)


@pytest.fixture
def more_fields(monkeypatch):
    """The report model with filters and settings it does not have: the command line and make_spec
    take the model from report_model, as they do the real one."""
    monkeypatch.setattr(report_model, "ReportSpec", MoreSpec)


@pytest.mark.usefixtures("more_fields")
def test_a_field_added_to_the_models_is_an_option_with_no_other_change():
    shown = compact(report_help())
    for option in (
        "--skill SKILL Only legs routed by these skills; None: every skill",
        "--channel CHANNEL Only legs of these channels (any of: voice, chat)",
        "--grace SECONDS Abandons within this grace are not counted (default 3)",
        "--busy-hours {local,utc} Busy hours in the report's zone or in UTC (default local)",
        "--sla-target SLA_TARGET Share to answer in SL (default 0.8)",
        "--count-internal, --no-count-internal Count internal calls too (default False)",
        "--sl-interval {15,30,60} Minutes per SL bucket (default 30)",
        "--late-window DURATION Calls this late still count (default 2h)",
    ):
        assert compact(option) in shown, option
    args = report_args("--skill", "1,2", "--skill", "3", "--channel", "chat", "--grace", "7", "--busy-hours", "utc")
    spec = report_spec_from(args)
    assert isinstance(spec, MoreSpec)
    assert spec.filters.skill_ids == [1, 2, 3] and spec.filters.channels == ["chat"]
    assert (spec.settings.grace_s, spec.settings.busy_hours, spec.settings.sla_target) == (7, "utc", 0.8)
    more = report_spec_from(
        report_args("--sla-target", "0.95", "--count-internal", "--sl-interval", "60", "--late-window", "90m")
    ).settings
    assert (more.sla_target, more.count_internal, more.sl_interval, more.late_window) == (
        0.95,
        True,
        60,
        timedelta(minutes=90),
    )
    assert report_spec_from(report_args("--no-count-internal")).settings.count_internal is False


@pytest.mark.usefixtures("more_fields")
@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--grace", "-1"], 1, "error: --grace -1: Input should be greater than or equal to 0"),
        (["--channel", "voice,fax"], 1, "error: --channel 'fax': Input should be 'voice' or 'chat'"),
        (["--skill", "0"], 1, "error: --skill 0: Input should be greater than or equal to 1"),
        (["--sla-target", "2"], 1, "error: --sla-target 2.0: Input should be less than or equal to 1"),
        (["--skill", "x"], 2, "error: argument --skill: 'x' is not a comma-separated list of ids"),
        (["--busy-hours", "x"], 2, "error: argument --busy-hours: invalid choice: 'x'"),
        (["--grace", "soon"], 2, "error: argument --grace: invalid int value: 'soon'"),
        (["--sl-interval", "45"], 2, "error: argument --sl-interval: invalid choice: '45' (choose from 15, 30, 60)"),
        (["--late-window", "soon"], 2, "error: argument --late-window: 'soon' is not a duration such as 48h"),
    ],
)
def test_a_new_fields_bad_values_are_refused_naming_the_option(capsys, tmp_path, argv, code, message):
    try:
        exit_code = main(["report", "--db", str(tmp_path / "none.duckdb"), *argv])
    except SystemExit as exit:  # argparse
        exit_code = exit.code
    err = capsys.readouterr().err
    assert exit_code == code and err.startswith(message) and len(err.splitlines()) == 1, err


def test_a_field_with_no_command_line_form_is_named(monkeypatch):
    class OddSettings(MetricSettings):
        weights: dict[str, int] = Field(default_factory=dict, description="Weights.")

    class OddSpec(ReportSpec):
        settings: OddSettings = Field(default_factory=OddSettings)

    monkeypatch.setattr(report_model, "ReportSpec", OddSpec)
    with pytest.raises(TypeError, match=r"field settings\.weights: no command-line form"):
        report_args()


@pytest.mark.parametrize(
    ("field", "many", "option"),
    [
        ("agent_ids", True, "--agent"),
        ("resolved_dispositions", True, "--resolved-disposition"),
        ("categories", True, "--category"),
        ("addresses", True, "--address"),
        ("min_duration_s", False, "--min-duration"),
        ("rolling_date", False, "--rolling-date"),
        ("status", False, "--status"),
    ],
)
def test_option_names_follow_the_rules(field, many, option):
    assert option_name(field, many=many) == option
