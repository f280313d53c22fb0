"""`workflow test --send-test` to a CRM: a test record is a record, so it goes only to the target's
sandbox (`sandbox:`, the options that differ there), never to production; without a sandbox the
test send is refused with one line. Against two fakes of each CRM: production and sandbox."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests import golden
from tests.contracts import harnesses as h
from tests.fakes.salesforce import FakeSalesforce
from tests.fakes.zendesk import FakeZendesk
from ziwo_reports.connectors.delivery import DeliveryConfigError, parse_target
from ziwo_reports.connectors.sandbox import in_sandbox
from ziwo_reports.report_model import row_keys
from ziwo_reports.warehouse import open_warehouse
from ziwo_reports.workflows.marked_send import MarkedItem, marked, send_test
from ziwo_reports.workflows.model import WorkflowError


@pytest.fixture
def item(golden_db) -> MarkedItem:
    with open_warehouse(golden_db, read_only=True) as warehouse:
        report = golden.report_of(warehouse, interval="none")
    one = report.table.slice(0, 1)
    return MarkedItem(replace(report, table=one, keys=row_keys(report).slice(0, 1)), "agent 1", True)


def _sent_once(target, item) -> None:
    [send] = send_test(item, [target])
    assert send.problem is None and [r.status for r in send.results] == ["sent"], send


def test_salesforce_test_sends_go_to_the_sandbox_org(tmp_path: Path, item):
    production = h._sf_options(tmp_path)
    with FakeSalesforce() as sandbox:
        sandbox.add_object(production["sobject"], dict(h.SF_ORG.objects[production["sobject"]].fields))
        # domain `test` would clear the production login_url; the fake stands in for test.salesforce.com
        target = parse_target({**production, "sandbox": {"login_url": sandbox.url}})
        _sent_once(target, item)
        assert len(sandbox.records(production["sobject"])) == 1
    assert h.SF_ORG.records(production["sobject"]) == []


def test_zendesk_test_sends_go_to_the_sandbox_account(tmp_path: Path, item):
    production = h._zendesk_options(tmp_path)
    key = production["custom_object_key"]
    with FakeZendesk() as sandbox:
        sandbox.define_object(key, {"agent_id": "text", "agent_name": "text", "answered": "integer"})
        target = parse_target({**production, "sandbox": {"base_url": sandbox.url}})
        _sent_once(target, item)
        assert len(sandbox.records(key)) == 1
    assert h.ZENDESK.records(key) == {}


def test_hubspot_test_sends_go_to_the_test_account(tmp_path: Path, item):
    production = h._hubspot_options(tmp_path / "production")
    sandbox = h._hubspot(tmp_path / "sandbox")
    target = parse_target({**production, "sandbox": {"api_base": sandbox.url}})
    _sent_once(target, item)
    assert len(sandbox.records("p_agent_metrics")) == 1
    assert h._hubspot(tmp_path / "production").records("p_agent_metrics") == {}


def test_without_a_sandbox_a_crm_test_send_is_refused(tmp_path: Path, item):
    target = parse_target(h._hubspot_options(tmp_path))
    [send] = send_test(item, [target])
    assert send.results == [] and "has no sandbox: a test send to a CRM writes real records" in send.problem
    assert h._hubspot(tmp_path).records("p_agent_metrics") == {}


def test_a_sandbox_changes_only_where_and_as_whom(tmp_path: Path):
    with pytest.raises(DeliveryConfigError, match=r"sandbox .*sobject: not an option a sandbox changes"):
        parse_target({**h._sf_options(tmp_path), "sandbox": {"sobject": "Other__c"}})
    with pytest.raises(DeliveryConfigError, match=r"sandbox .*is empty"):
        parse_target({**h._hubspot_options(tmp_path), "sandbox": {}})
    # a sandbox given as a domain clears the production login URL: the test never goes to production
    sandboxed = in_sandbox(parse_target({**h._sf_options(tmp_path), "sandbox": {"domain": "test"}}))
    assert sandboxed.login_url is None and sandboxed.domain == "test" and sandboxed.sandbox is None
    with pytest.raises(WorkflowError, match="has no sandbox"):
        marked(parse_target(h._zendesk_options(tmp_path)))
