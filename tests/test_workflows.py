"""Workflows as files: the model, its one-line errors, the checks against the real report columns,
the committed JSON Schema, the examples, and `ziwo-reports workflow list|validate`."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from ziwo_reports.cli import main
from ziwo_reports.workflows.model import (
    SCHEMA_PATH,
    WorkflowError,
    check_workflow,
    load_workflow,
    load_workflows,
    operation_columns,
    parse_workflow,
    schema_text,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "workflows" / "examples"

DAILY = """\
name: daily
trigger:
  schedule: {cron: "0 6 * * *", timezone: Asia/Dubai}
operation:
  report: {report: queue-performance, rolling_date: yesterday, timezone: Asia/Dubai}
conditions: totals.service_level_rate < 0.8
deliveries:
  - {type: webhook, url: "https://hooks.example.com/ziwo"}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


DROP = object()


def edited(**changes) -> dict:
    """DAILY with fields changed, or dropped (DROP); a change to None leaves the field as it is."""
    document = yaml.safe_load(DAILY)
    for key, value in changes.items():
        if value is None:
            continue
        if value is DROP:
            document.pop(key, None)
        else:
            document[key] = value
    return document


def test_a_valid_file_loads(tmp_path):
    workflow = load_workflow(write(tmp_path, "daily.yaml", DAILY))
    assert workflow.name == "daily" and workflow.enabled and workflow.trigger.kind == "schedule"
    assert workflow.trigger.schedule.timezone == "Asia/Dubai"
    assert workflow.spec().report == "queue-performance" and workflow.spec().group_by == "queue"
    assert [t.type for t in workflow.targets()] == ["webhook"]
    assert check_workflow(workflow) is workflow


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"trigger": {"schedule": {"cron": "0 6 * *"}}}, "trigger.schedule.cron '0 6 * *': Invalid cron string"),
        (
            {"trigger": {"schedule": {"cron": "0 6 * * *", "timezone": "Asia/Dubay"}}},
            "trigger.schedule.timezone 'Asia/Dubay': not an IANA",
        ),
        ({"trigger": {"hourly": {}}}, "trigger: a trigger is one of"),
        (
            {"trigger": {"after_call": {"on_change": "twice"}}},
            "trigger.after_call.on_change 'twice': Input should be 'once' or 'again'",
        ),
        ({"name": "Daily Report"}, "name 'Daily Report': String should match pattern"),
        ({"name": DROP}, "name: Field required"),
        ({"colour": "red"}, "colour 'red': Extra inputs are not permitted"),
        ({"delay": "60"}, "delay '60': needs a unit"),
        ({"delay": "8d"}, "delay '8d': must be between 0s and 7d"),
        ({"delay": "soon"}, "delay 'soon': 'soon' is not a duration"),
        (
            {"operation": {"report": {"report": "call-details"}}},
            "operation.report.report 'call-details': Input should be",
        ),
        (
            {"operation": {"report": {"report": "agent-performance", "rolling_date": "lastweek"}}},
            "operation.report.rolling_date 'lastweek': rolling_date 'lastweek' is not one of",
        ),
        (
            {"operation": {"report": {"report": "agent-performance", "as_of": "2026-01-01T00:00:00Z"}}},
            "operation.report.as_of '2026-01-01T00:00:00Z'",
        ),
        (
            {"operation": {"report": {"report": "agent-performance", "filters": {"agent_ids": [0]}}}},
            "operation.report.filters.agent_ids.0 0: Input should be greater than or equal to 1",
        ),
        ({"operation": {"export": {}, "report": {}}}, "operation: an operation is one of"),
        ({"conditions": "duration_s >"}, "conditions 'duration_s >': expected a value at character"),
        ({"deliveries": []}, "deliveries []: needs at least one target"),
        (
            {"deliveries": [{"type": "webhook", "url": "ftp://hooks.example.com/"}]},
            "deliveries: webhook delivery: url 'ftp://hooks.example.com/': only http and https",
        ),
        ({"deliveries": [{"type": "fax", "number": "1"}]}, "deliveries: delivery type 'fax' is not one of"),
        (
            {
                "deliveries": [
                    {"type": "webhook", "url": "https://a.example.com/"},
                    {"type": "webhook", "url": "https://b.example.com/"},
                ]
            },
            "target name 'webhook' is given twice",
        ),
        (
            {"trigger": {"after_call": {}}},
            "operation 'report': does not go with trigger 'after_call', which takes call",
        ),
        (
            {"operation": {"call": None}},
            "operation 'call': does not go with trigger 'schedule', which takes report or export",
        ),
    ],
)
def test_each_error_is_one_line_naming_file_field_and_value(tmp_path, change, expected):
    path = write(tmp_path, "daily.yaml", yaml.safe_dump(edited(**change)))
    with pytest.raises(WorkflowError) as problem:
        load_workflow(path)
    message = str(problem.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: "), message
    assert expected in message, message


def test_secrets_in_refused_values_are_masked(tmp_path):
    change = {"deliveries": [{"type": "webhook", "url": "ftp://user:hunter2secret@hooks.example.com/"}]}
    with pytest.raises(WorkflowError) as problem:
        load_workflow(write(tmp_path, "daily.yaml", yaml.safe_dump(edited(**change))))
    assert "hunter2secret" not in str(problem.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: [unclosed\n", "not YAML at line"),
        ("- just\n- a list\n", "needs a mapping of workflow fields"),
        ("", "needs a mapping of workflow fields"),
    ],
)
def test_files_that_are_no_workflow(tmp_path, text, expected):
    path = write(tmp_path, "bad.yaml", text)
    with pytest.raises(WorkflowError, match=rf"^{path}: {expected}"):
        load_workflow(path)


def test_empty_settings_read_as_none_and_targets_per_type():
    workflow = parse_workflow(
        edited(
            trigger={"manual": None},
            operation={"export": None},
            conditions={"all": ["duration_s > 600", {"field": "tags", "operator": "contains", "value": "complaint"}]},
            delay="1h30m",
            deliveries={"webhook": [{"url": "https://hooks.example.com/a"}]},
        )
    )
    assert workflow.trigger.kind == "manual" and workflow.operation.kind == "export"
    assert workflow.spec().report == "call-details" and workflow.delay.total_seconds() == 5400
    assert json.loads(workflow.model_dump_json())["delay"] == "1h30m"
    check_workflow(workflow)


def test_columns_come_from_the_real_reports():
    queue = parse_workflow(edited())
    columns = operation_columns(queue)
    assert {
        "service_level_rate",
        "asa_s",
        "calls_abandoned",
        "totals.service_level_rate",
        "totals.calls_offered",
    } <= set(columns)
    agents = parse_workflow(edited(operation={"report": {"report": "agent-performance"}}))
    assert "avg_handle_time_s" in operation_columns(agents) and "service_level_rate" not in operation_columns(agents)
    call = parse_workflow(edited(trigger={"after_call": {}}, operation={"call": {}}))
    call_columns = operation_columns(call)
    assert {"duration_s", "tags", "caller_number", "agent_name", "queue_name"} <= set(call_columns)
    assert not any(name.startswith("totals.") for name in call_columns)  # one call has no totals
    export = parse_workflow(edited(operation={"export": {}}))
    assert "totals.legs" in operation_columns(export) and "duration_s" in operation_columns(export)


@pytest.mark.parametrize(
    ("operation", "trigger", "conditions", "expected"),
    [
        (
            {"report": {"report": "agent-performance"}},
            None,
            "service_level_rate < 80",
            'condition on "service_level_rate": unknown field; known fields: ',
        ),
        (
            {"report": {"report": "agent-performance"}},
            None,
            "totals.service_level_rate < 0.8",
            'condition on "totals.service_level_rate": unknown field',
        ),
        (  # a name from before every ratio became a fraction says what it is now
            {"report": {"report": "agent-performance"}},
            None,
            "totals.csat_pct < 80",
            'condition on "totals.csat_pct": unknown field (totals.csat_pct was renamed: now '
            "totals.csat_top2_rate, a fraction 0..1 (0.8 is 80%)); known fields: ",
        ),
        (
            {"report": {"report": "queue-performance"}},
            None,
            "calls_offered > high",
            'condition on "calls_offered": the field is a number',
        ),
        ({"call": {}}, {"after_call": {}}, "duration_s > 600 and tags contains 5", '"tags"'),
        ({"call": {}}, {"after_call": {}}, "caller_known = true", 'condition on "caller_known": unknown field'),
    ],
)
def test_conditions_are_checked_against_the_operation_columns(operation, trigger, conditions, expected):
    workflow = parse_workflow(edited(operation=operation, trigger=trigger, conditions=conditions), "w.yaml")
    with pytest.raises(WorkflowError) as problem:
        check_workflow(workflow, "w.yaml")
    message = str(problem.value)
    assert message.startswith("w.yaml: conditions: ") and expected in message and "\n" not in message
    if "known fields" in expected:
        assert "avg_handle_time_s" in message and "totals.calls_handled" in message  # the known ones, named


def test_two_workflows_with_one_name_are_refused(tmp_path):
    write(tmp_path, "a.yaml", DAILY)
    write(tmp_path, "b.yml", DAILY)
    write(tmp_path, "notes.txt", "not a workflow")
    with pytest.raises(WorkflowError, match=r"b\.yml: name 'daily' is taken by .*a\.yaml"):
        load_workflows(tmp_path)


#: The example workflows: the first four, each CRM's metrics and follow-up, the SQL database's, then the e-mail ones.
EXAMPLE_NAMES = (
    {"daily-agent-report", "missed-call-follow-up", "long-complaint-calls", "service-level-alert"}
    | {
        f"{crm}-{job}"
        for crm in ("salesforce", "zendesk", "hubspot")
        for job in ("agent-metrics", "missed-call-follow-up")
    }
    | {"sql-agent-metrics", "sql-call-details"}
    | {"email-morning-report", "email-missed-vip-alert"}
)


def test_the_examples_load_check_and_meet_the_schema():
    found = load_workflows(EXAMPLES)
    assert set(found) == EXAMPLE_NAMES
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    for path, workflow in found.values():
        check_workflow(workflow, str(path))
        assert path.read_text(encoding="utf-8").startswith("# yaml-language-server: $schema=")
        jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), schema)
        for target in workflow.targets():  # nothing reaches out of the examples to a real host of ours
            url = getattr(target, "url", "")
            assert not url or ".example." in url or "example-crm.com" in url
    assert found["missed-call-follow-up"][1].delay.total_seconds() == 3600
    assert found["service-level-alert"][1].operation.report.report == "queue-performance"


def test_the_committed_schema_is_current():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "regenerate it: python -c 'from ziwo_reports.workflows.model import SCHEMA_PATH, schema_text; "
        "SCHEMA_PATH.write_text(schema_text())'"
    )


def test_the_schema_refuses_what_the_model_refuses():
    schema = json.loads(schema_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    good = edited(deliveries={"webhook": [{"url": "https://hooks.example.com/a"}]})
    jsonschema.validate(good, schema)
    for bad in (
        edited(colour="red"),
        edited(trigger={"hourly": {}}),
        edited(deliveries=[{"type": "webhook", "url": "https://h.example.com/", "urll": "x"}]),
        edited(conditions={"field": "x", "operator": "~", "value": 1}),
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_cli_list(tmp_path, capsys):
    assert main(["workflow", "list", "--dir", str(EXAMPLES)]) == 0
    out = capsys.readouterr().out
    for name in ("daily-agent-report", "missed-call-follow-up", "long-complaint-calls", "service-level-alert"):
        assert name in out
    assert "schedule 0 6 * * * Asia/Dubai" in out and "after_call (once)" in out
    assert "file shared-folder, webhook ops-dashboard" in out and "http_api crm-follow-ups" in out
    assert main(["workflow", "list", "--dir", str(tmp_path)]) == 0
    assert "no workflows in" in capsys.readouterr().out


def test_cli_validate(tmp_path, capsys):
    assert main(["workflow", "validate", "--dir", str(EXAMPLES)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"ok {name}" for name in sorted(EXAMPLE_NAMES)]
    assert main(["workflow", "validate", "service-level-alert", "--dir", str(EXAMPLES)]) == 0
    assert capsys.readouterr().out == "ok service-level-alert\n"

    write(tmp_path, "daily.yaml", DAILY)
    bad = write(tmp_path, "broken.yaml", yaml.safe_dump(edited(name="broken", conditions="nope > 1")))
    cron = write(tmp_path, "cron.yaml", yaml.safe_dump(edited(name="cron", trigger={"schedule": {"cron": "0 6 * *"}})))
    assert main(["workflow", "validate", "--dir", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "ok daily\n"
    errors = captured.err.splitlines()
    assert len(errors) == 2
    assert errors[0].startswith(f'error: {bad}: conditions: condition on "nope": unknown field; known fields:')
    assert errors[1].startswith(f"error: {cron}: trigger.schedule.cron '0 6 * *': Invalid cron string")

    assert main(["workflow", "validate", str(cron)]) == 1
    assert capsys.readouterr().err.startswith(f"error: {cron}: trigger.schedule.cron '0 6 * *'")
    assert main(["workflow", "validate", "daily", "--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "ok daily\n"
    assert main(["workflow", "validate", "nightly", "--dir", str(tmp_path)]) == 1
    assert "no workflow 'nightly' in" in capsys.readouterr().err
    assert main(["workflow", "validate", "--dir", str(tmp_path / "missing")]) == 1
    assert "no such folder of workflows" in capsys.readouterr().err


def test_the_readme_walk_through_workflow_is_valid():
    """The workflow the README's walk-through writes out loads and passes `validate` as written."""
    import re

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Walk-through: the workflow builder's seven steps") :]
    document = re.search(r"```yaml\n(.*?)```", section, flags=re.DOTALL).group(1)
    workflow = check_workflow(parse_workflow(yaml.safe_load(document)), "README walk-through")
    assert workflow.name == "agents-yesterday" and workflow.spec().timezone == "UTC-12:00"
    assert [target.target_name for target in workflow.targets()] == ["ops-webhook"]
