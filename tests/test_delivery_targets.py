"""Delivery targets from a YAML file (`report --deliver FILE`, `--dry-run`), and credentials from a
Prefect block or the environment (`credentials: NAME` or `env:PREFIX`)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from tests import golden
from ziwo_reports.cli import main
from ziwo_reports.connectors.delivery import DeliveryConfigError
from ziwo_reports.connectors.secrets import CredentialsError, check_reference, load_credentials
from ziwo_reports.connectors.ziwo.block import ZiwoCredentials
from ziwo_reports.deliveries import list_deliveries, read_targets
from ziwo_reports.redaction import redact
from ziwo_reports.warehouse import open_warehouse


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "gold.duckdb"
    with open_warehouse(path) as warehouse:
        golden.load(warehouse)
    return path


def report_args(db, *more):
    return [
        "report", "--db", str(db), "--instance", "gold", "--timezone", "Asia/Dubai", "--rolling-date", "custom",
        "--start", "2026-11-10", "--end", "2026-11-10", "--as-of", golden.AS_OF.isoformat(), *more,
    ]  # fmt: skip


def write(tmp_path, text):
    path = tmp_path / "deliveries.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "needs a list of deliveries"),
        ("type: file", "needs a list of deliveries"),
        ("- [1, 2]", "delivery 1: [1, 2] is not a mapping"),
        ("- type: pigeon", "delivery 1: delivery type 'pigeon' is not one of"),
        ("- type: file\n  formats: [docx]", "delivery 1: file delivery: formats"),
        ("- type: file\n- type: file\n  formats: [csv]", "delivery name 'file' is given twice"),
        ("- type: file\n  wat: 1", "delivery 1: file delivery: wat 1: Extra inputs are not permitted"),
        ("- type: file\n  formats: [csv\n", "not YAML at line"),
    ],
)
def test_a_deliveries_file_is_checked_item_by_item(tmp_path, text, problem):
    with pytest.raises(DeliveryConfigError) as refused:
        read_targets(write(tmp_path, text))
    assert problem in str(refused.value) and "\n" not in str(refused.value)


def test_a_deliveries_file_may_hold_a_deliveries_key(tmp_path):
    path = write(tmp_path, f"deliveries:\n  - type: file\n    name: team-a\n    destination: {tmp_path / 'a'}\n")
    (target,) = read_targets(path)
    assert target.target_name == "team-a" and target.type == "file"


def test_bad_deliveries_file_fails_before_the_warehouse_is_read(db, tmp_path, capsys):
    path = write(tmp_path, "- type: file\n  formats: [docx]\n")
    assert main(report_args(db, "--deliver", str(path))) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: --deliver '{path}': delivery 1: file delivery: formats")
    assert main(report_args(db, "--deliver", str(tmp_path / "missing.yaml"))) == 1
    assert "cannot read it" in capsys.readouterr().err
    assert main(report_args(db, "--dry-run")) == 1
    assert "--dry-run shows what --deliver or --files would send" in capsys.readouterr().err


def test_dry_run_shows_the_plan_and_sends_and_records_nothing(db, tmp_path, capsys):
    out = tmp_path / "out"
    path = write(tmp_path, f"- type: file\n  name: team-a\n  destination: {out}\n  formats: [csv, json]\n")
    assert main(report_args(db, "--deliver", str(path), "--dry-run")) == 0
    shown = capsys.readouterr().out
    assert "dry run, nothing is sent or recorded" in shown
    assert "file team-a: 2 items" in shown and "write" in shown
    assert not out.exists()
    with open_warehouse(db, read_only=True) as warehouse:
        assert list_deliveries(warehouse) == []


def test_deliver_sends_to_every_target_and_keeps_the_ledger(db, tmp_path, capsys):
    path = write(
        tmp_path,
        f"- type: file\n  name: team-a\n  destination: {tmp_path / 'a'}\n  formats: [csv]\n"
        f"- type: file\n  name: team-b\n  destination: {tmp_path / 'b'}\n  formats: [json]\n",
    )
    assert main(report_args(db, "--deliver", str(path))) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and len(list((tmp_path / "a").rglob("*.csv"))) == 1
    assert len(list((tmp_path / "b").rglob("*.json"))) == 1
    with open_warehouse(db, read_only=True) as warehouse:
        rows = list_deliveries(warehouse)
    assert {(r.target_name, r.status) for r in rows} == {("team-a", "sent"), ("team-b", "sent")}
    assert len({r.run_id for r in rows}) == 1, "one command, one run"


# --- credentials --------------------------------------------------------------------------------


@pytest.mark.parametrize("reference", ["acme-hook", "env:ACME_HOOK", "env:A1"])
def test_references_name_a_block_or_an_environment_prefix(reference):
    assert check_reference(reference) == reference


@pytest.mark.parametrize("reference", ["", "Acme Hook", "env:", "env:acme", "whsec_abc", "https://x/y"])
def test_anything_else_is_refused_as_a_reference(reference):
    with pytest.raises(ValueError, match="neither the name of a Prefect block"):
        check_reference(reference)


def test_credentials_from_the_environment_are_registered_as_secrets():
    environ = {"ACME_ZIWO_USERNAME": "sup@acme.test", "ACME_ZIWO_PASSWORD": "pw-from-env-3141"}
    block = load_credentials(ZiwoCredentials, "env:ACME_ZIWO", environ)
    assert block.username == "sup@acme.test" and isinstance(block.password, SecretStr)
    assert block.password.get_secret_value() == "pw-from-env-3141"
    assert redact("login with pw-from-env-3141") == "login with ***"


def test_missing_or_bad_environment_credentials_are_one_line_naming_the_variable():
    with pytest.raises(CredentialsError, match=r"no environment variable NOPE_<FIELD> is set"):
        load_credentials(ZiwoCredentials, "env:NOPE", {})
    with pytest.raises(CredentialsError, match=r"BAD_COUNTRY_CODE \(country_code\)") as refused:
        load_credentials(ZiwoCredentials, "env:BAD", {"BAD_COUNTRY_CODE": "+971x"})
    assert "\n" not in str(refused.value)


def test_credentials_from_a_prefect_block(prefect_api):
    ZiwoCredentials(username="sup@acme.test", password="pw-in-a-block-2718").save("acme-creds", overwrite=True)
    block = load_credentials(ZiwoCredentials, "acme-creds")
    assert block.password.get_secret_value() == "pw-in-a-block-2718"
    assert redact("pw-in-a-block-2718") == "***"
    with pytest.raises(CredentialsError, match="no 'Ziwo Credentials' block of that name"):
        load_credentials(ZiwoCredentials, "no-such-block")


def test_every_deliveries_example_in_the_readme_validates(tmp_path):
    """The YAML blocks of the README that are delivery targets read as `--deliver` reads them."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", readme, re.S) if re.search(r"^- type: ", b, re.M)]
    assert len(blocks) >= 3
    types = set()
    for block in blocks:
        path = tmp_path / "example.yaml"
        path.write_text(block, encoding="utf-8")
        types |= {target.type for target in read_targets(path)}
    assert types >= {"webhook", "http_api"}


def test_deliver_to_a_webhook_and_an_api_from_the_command_line(db, tmp_path, capsys, monkeypatch):
    import base64
    import json

    from tests.receivers import Receiver

    secret = "whsec_" + base64.b64encode(b"cli-test-signing-key-of-32-bytes").decode()
    monkeypatch.setenv("CLI_HOOK_SIGNING_SECRETS", secret)
    monkeypatch.setenv("CLI_API_AUTH", "bearer")
    monkeypatch.setenv("CLI_API_TOKEN", "cli-api-token-99887766")
    with Receiver() as receiver:
        receiver.verify("/hook", [secret])
        path = write(
            tmp_path,
            f"- type: webhook\n  name: hook\n  url: {receiver.url('/hook')}\n  mode: row\n"
            f"  credentials: env:CLI_HOOK\n  allow_private_urls: true\n"
            f"- type: http_api\n  name: api\n  url: {receiver.url('/api/agents/{group_id}')}\n  method: PUT\n"
            f"  credentials: env:CLI_API\n  allow_private_urls: true\n  mapping: {{answered: calls_answered}}\n",
        )
        assert main(report_args(db, "--deliver", str(path), "--check")) == 0
        checked = capsys.readouterr().out.splitlines()
        assert checked[0].startswith("ok  webhook hook: HEAD http://127.0.0.1:") and " ms, answers" in checked[0]
        assert checked[1].startswith("ok  http_api api: HEAD") and receiver.events("/hook") == {}

        assert main(report_args(db, "--deliver", str(path), "--dry-run")) == 0
        shown = capsys.readouterr().out
        assert [r.method for r in receiver.requests("/hook")] == ["HEAD"], "a dry run sent something"
        assert "webhook hook: " in shown and "http_api api: " in shown
        assert "cli-api-token-99887766" not in shown and "Bearer ***" in shown
        assert '"webhook-signature": "v1,' in shown and '\\"answered\\":' in shown

        assert main(report_args(db, "--deliver", str(path))) == 0
        out = capsys.readouterr().out
        rows = len(receiver.events("/hook"))
        assert rows > 0 and f"webhook hook: {rows} of {rows} items sent" in out
        assert all(r.verified for r in receiver.requests("/hook") if r.method == "POST")
        puts = [r for r in receiver.requests("/api/agents/1") if r.method == "PUT"]
        assert puts and json.loads(puts[0].body) == {"answered": json.loads(puts[0].body)["answered"]}
        assert puts[0].headers["authorization"] == "Bearer cli-api-token-99887766"

        receiver.fail("/hook", 422)
        assert main(report_args(db, "--deliver", str(path), "--check")) == 1
        assert "FAILED  webhook hook: HEAD" in capsys.readouterr().out
        assert main(report_args(db, "--deliver", str(path))) == 1
        captured = capsys.readouterr()
        (line,) = captured.err.strip().splitlines()
        assert line.startswith(f"error: --deliver '{path}': webhook delivery 'hook': {rows} of {rows} items failed")
        assert "HTTP 422" in line and "replay --id" in line
        assert "http_api api: " in captured.out, "the other target was still delivered"


def test_the_flows_deliveries_read_the_forms_lists_per_type_and_a_flat_list_alike():
    from pydantic import ValidationError

    from ziwo_reports.connectors.delivery import deliveries_model

    deliveries = deliveries_model()
    hook = {"type": "webhook", "name": "hook", "url": "https://hooks.example.com/in"}
    api = {"type": "http_api", "name": "api", "url": "https://api.example.com/x"}
    from_form = deliveries.model_validate({"webhook": [hook], "http_api": [api]})
    from_list = deliveries.model_validate([hook, api])
    assert (
        [t.target_name for t in from_form.targets()] == [t.target_name for t in from_list.targets()] == ["api", "hook"]
    )
    assert deliveries().targets() == []
    assert set(deliveries.model_fields) == {
        "file",
        "webhook",
        "http_api",
        "salesforce",
        "zendesk",
        "hubspot",
        "sql",
        "email",
    }
    assert {f.title for f in deliveries.model_fields.values()} == {
        "More report files",
        "Webhooks",
        "HTTP APIs",
        "Salesforce",
        "Zendesk",
        "HubSpot",
        "SQL databases",
        "E-mails",
    }
    assert all(f.description for f in deliveries.model_fields.values())
    with pytest.raises(ValidationError, match="delivery type 'pigeon' is not one of"):
        deliveries.model_validate([{"type": "pigeon"}])
    with pytest.raises(ValidationError, match=r"webhook\.0\.url"):
        deliveries.model_validate({"webhook": [{"type": "webhook", "url": "ftp://x"}]})


def test_connector_credentials_blocks_keep_secrets_obfuscated_in_the_api(prefect_api):
    """What the Prefect UI shows of a saved block: its secret fields obfuscated; what a delivery
    loads by the block's name: the values."""
    import base64

    from prefect.client.orchestration import get_client

    from ziwo_reports.connectors.http_api.block import HttpApiCredentials
    from ziwo_reports.connectors.webhook.block import WebhookCredentials

    secret = "whsec_" + base64.b64encode(b"block-test-signing-key-32-bytes!").decode()
    WebhookCredentials(signing_secrets=[secret], bearer_token="hook-token-in-block-5511").save(
        "hook-creds", overwrite=True
    )
    HttpApiCredentials(auth="bearer", token="api-token-in-block-6622").save("api-creds", overwrite=True)
    with get_client(sync_client=True) as client:
        for slug, name, values in (
            ("webhook-credentials", "hook-creds", (secret, "hook-token-in-block-5511")),
            ("http-api-credentials", "api-creds", ("api-token-in-block-6622",)),
        ):
            document = client.read_block_document_by_name(name, block_type_slug=slug, include_secrets=False)
            shown = str(document.data)
            assert all(value not in shown for value in values) and "****" in shown
    hook = load_credentials(WebhookCredentials, "hook-creds")
    assert hook.signing_secrets[0].get_secret_value() == secret
    assert load_credentials(HttpApiCredentials, "api-creds").token.get_secret_value() == "api-token-in-block-6622"
    assert redact("api-token-in-block-6622 hook-token-in-block-5511") == "*** ***"


def test_a_token_pasted_as_credentials_is_refused_and_never_shown(capsys):
    """A HubSpot private-app token has the shape of a block name; taken as one it would reach the
    ledger's options and the error that names the field."""
    from ziwo_reports.connectors.delivery import DeliveryConfigError, parse_target

    token = "pat-na1-1a2b3c4d-5e6f-4a1b-9c8d-7e6f5a4b3c2d"
    for options in (
        {"type": "hubspot", "credentials": token, "object_type": "p_agent_metrics"},
        {"type": "webhook", "url": "https://hooks.example.com/x", "credentials": token},
    ):
        with pytest.raises(DeliveryConfigError) as refused:
            parse_target(options)
        assert token not in str(refused.value) and "looks like a token itself" in str(refused.value)
    assert parse_target({"type": "webhook", "url": "https://hooks.example.com/x", "credentials": "ops-hook"})
