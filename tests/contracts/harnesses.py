"""What the contract suite needs to know of each delivery type: a working target, how to look at
what the target holds, how to make it fail once, and the secrets that must never show.

Every registered delivery type must have a harness here (test_every_delivery_type_has_a_harness):
adding a type means running the whole contract suite against it."""

from __future__ import annotations

import atexit
import base64
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow.parquet as pq

from tests.fakes.hubspot import HubSpotFake, Property
from tests.fakes.salesforce import FakeSalesforce
from tests.fakes.salesforce import Field as SfField
from tests.fakes.zendesk import FakeZendesk
from tests.receivers import Receiver
from tests.smtp_server import SmtpServer


@dataclass
class Harness:
    """A delivery type under the contract suite, against a target of its own in `tmp`."""

    options: Callable[[Path], dict[str, Any]]  # working options for a target under this folder
    bad_options: dict[str, Any]  # options validate() must refuse
    bad_field: str  # the field the refusal names
    observe: Callable[[Path], Any]  # what the target holds now, comparable between runs
    break_target: Callable[[Path], None]  # make the next delivery fail ...
    mend_target: Callable[[Path], None]  # ... and work again
    secrets: list[str] = field(default_factory=list)  # values in the options that must never show


def _file_data(path: Path) -> Any:
    """A file's data, without what differs from run to run by design (when it was generated)."""
    if path.suffix == ".csv":
        return path.read_bytes()
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    if path.suffix == ".json":
        document = json.loads(path.read_text(encoding="utf-8"))
        document.pop("generated_at", None)
        return document
    workbook = openpyxl.load_workbook(path, read_only=True)
    return {
        sheet.title: [row for row in sheet.iter_rows(values_only=True)]
        for sheet in workbook
        if sheet.title != "Summary"
    }


def _files(folder: Path) -> dict[str, Any]:
    out = folder / "out"
    if not out.exists():
        return {}
    return {str(p.relative_to(out)): _file_data(p) for p in sorted(out.rglob("*")) if p.is_file()}


def _block(folder: Path) -> None:
    (folder / "out").mkdir(exist_ok=True)
    (folder / "out" / "reports").write_text("a file where the folder should be")


def _unblock(folder: Path) -> None:
    (folder / "out" / "reports").unlink()


# --- HTTP targets: one loopback receiver for the session, a path per test folder -------------------

RECEIVER = Receiver().__enter__()  # a daemon thread: it ends with the test process
API_KEY = "contract-api-key-7c1d9e4b"
os.environ.update({"ZR_CONTRACT_API_AUTH": "api_key", "ZR_CONTRACT_API_API_KEY": API_KEY})


def _http_path(folder: Path) -> str:
    return "/contract/" + hashlib.sha256(str(folder).encode()).hexdigest()[:16]


def _http_break(folder: Path) -> None:
    RECEIVER.script(_http_path(folder), [], retry_after="0")
    RECEIVER.fail(_http_path(folder), 503)


def _http_mend(folder: Path) -> None:
    RECEIVER.fail(_http_path(folder), None)


# --- webhook: the receiver verifies every signature --------------------------------------------

WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"contract-suite-signing-key-32by").decode()
WEBHOOK_TOKEN = "contract-bearer-token-5f1d"
WEBHOOK_ENV = "CONTRACT_WEBHOOK"


def _webhook_options(folder: Path) -> dict[str, Any]:
    os.environ[f"{WEBHOOK_ENV}_SIGNING_SECRETS"] = WEBHOOK_SECRET
    os.environ[f"{WEBHOOK_ENV}_BEARER_TOKEN"] = WEBHOOK_TOKEN
    receiver, path = RECEIVER, _http_path(folder)
    receiver.verify(path, [WEBHOOK_SECRET])
    return {
        "type": "webhook",
        "name": "contract-webhook",
        "url": receiver.url(path),
        "mode": "row",
        "credentials": f"env:{WEBHOOK_ENV}",
        "allow_private_urls": True,
    }


def _hook_events(folder: Path) -> dict[str, Any]:
    return RECEIVER.events(_http_path(folder))


# --- zendesk: a fake of the Zendesk API for the session, a custom object per test folder ----------

ZENDESK = FakeZendesk().__enter__()  # a daemon thread: it ends with the test process
os.environ.update(
    {
        "ZR_CONTRACT_ZD_AUTH": "api_token",
        "ZR_CONTRACT_ZD_EMAIL": ZENDESK.email,
        "ZR_CONTRACT_ZD_API_TOKEN": ZENDESK.api_token,
    }
)


# --- salesforce: one fake org for the session, an object per test folder ------------------------------

SF_ORG = FakeSalesforce().__enter__()  # a daemon thread: it ends with the test process
SF_ENV = "ZR_CONTRACT_SF"
os.environ.update(
    {
        f"{SF_ENV}_AUTH": "password",
        f"{SF_ENV}_USERNAME": SF_ORG.username,
        f"{SF_ENV}_PASSWORD": SF_ORG.password,
        f"{SF_ENV}_SECURITY_TOKEN": SF_ORG.security_token,
        f"{SF_ENV}_CONSUMER_KEY": SF_ORG.consumer_key,
        f"{SF_ENV}_CONSUMER_SECRET": SF_ORG.consumer_secret,
    }
)


def _zendesk_object(folder: Path) -> str:
    return "co_" + hashlib.sha256(str(folder).encode()).hexdigest()[:16]


def _zendesk_options(folder: Path) -> dict[str, Any]:
    key = _zendesk_object(folder)
    if key not in ZENDESK.objects:
        ZENDESK.define_object(key, {"agent_id": "text", "agent_name": "text", "answered": "integer"})
    return {
        "type": "zendesk",
        "name": "contract-zendesk",
        "base_url": ZENDESK.url,
        "allow_private_urls": True,
        "credentials": "env:ZR_CONTRACT_ZD",
        "custom_object_key": key,
        "mapping": {
            "agent_id": {"column": "group_id", "cast": "string"},
            "agent_name": "group_name",
            "answered": "calls_answered",
        },
        "job_poll_interval_s": 0.02,
    }


def _zendesk_records(folder: Path) -> dict[str, Any]:
    records = ZENDESK.records(_zendesk_object(folder))
    return {key: (record["name"], record["custom_object_fields"]) for key, record in records.items()}


def _zendesk_break(folder: Path) -> None:
    ZENDESK.fail(f"/api/v2/custom_objects/{_zendesk_object(folder)}", 503)


def _zendesk_mend(folder: Path) -> None:
    ZENDESK.fail(f"/api/v2/custom_objects/{_zendesk_object(folder)}", None)


class _SalesforceSecrets(list):
    """The org's passwords and secrets, and every session token it has issued so far."""

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter([SF_ORG.password, SF_ORG.security_token, SF_ORG.consumer_secret, *SF_ORG.issued])


def _sf_object(folder: Path) -> str:
    return "M" + hashlib.sha256(str(folder).encode()).hexdigest()[:12] + "__c"


def _sf_options(folder: Path) -> dict[str, Any]:
    name = _sf_object(folder)
    if name not in SF_ORG.objects:
        SF_ORG.add_object(
            name,
            {
                "Row_Key__c": SfField(external_id=True, unique=True),
                "Agent__c": SfField(),
                "Answered__c": SfField("double"),
            },
        )
    return {
        "type": "salesforce",
        "name": "contract-salesforce",
        "credentials": f"env:{SF_ENV}",
        "login_url": SF_ORG.url,
        "allow_private_urls": True,
        "sobject": name,
        "external_id_field": "Row_Key__c",
        "mapping": {"Agent__c": "group_name", "Answered__c": "calls_answered"},
    }


def _sf_records(folder: Path) -> list[dict[str, Any]]:
    """The object's records without what the org sets (ids, modification times)."""
    name = _sf_object(folder)
    if name not in SF_ORG.objects:
        return []
    records = [{k: v for k, v in r.items() if k not in ("Id", "LastModifiedDate")} for r in SF_ORG.records(name)]
    return sorted(records, key=lambda r: r["Row_Key__c"])


def _sf_break(folder: Path) -> None:
    _sf_options(folder)
    SF_ORG.objects[_sf_object(folder)].fields["Row_Key__c"].external_id = False  # no longer an upsert key


def _sf_mend(folder: Path) -> None:
    SF_ORG.objects[_sf_object(folder)].fields["Row_Key__c"].external_id = True


# --- hubspot: a fake HubSpot per test folder (tests/fakes/hubspot.py) ------------------------------

HUBSPOT_TOKEN = "pat-na1-contract-0b7e2c4d-1f9a"
os.environ["ZR_CONTRACT_HUBSPOT_ACCESS_TOKEN"] = HUBSPOT_TOKEN
_HUBSPOT: dict[Path, HubSpotFake] = {}
HUBSPOT_PROPERTIES = ["agent_name", "calls_answered", "csat_avg", "period_start"]


def _hubspot(folder: Path) -> HubSpotFake:
    if folder not in _HUBSPOT:
        fake = _HUBSPOT[folder] = HubSpotFake(tokens=[HUBSPOT_TOKEN]).__enter__()  # daemon: ends with the process
        fake.define(
            "p_agent_metrics",
            [
                Property("ziwo_row_key", unique=True),
                Property("agent_name"),
                Property("calls_answered", "number"),
                Property("csat_avg", "number"),
                Property("period_start", "datetime"),
            ],
        )
    return _HUBSPOT[folder]


def _hubspot_options(folder: Path) -> dict[str, Any]:
    return {
        "type": "hubspot",
        "name": "contract-hubspot",
        "object_type": "p_agent_metrics",
        "credentials": "env:ZR_CONTRACT_HUBSPOT",
        "api_base": _hubspot(folder).url,
        "allow_private_urls": True,
        "batch_size": 4,
        "mapping": {
            "agent_name": "group_name",
            "calls_answered": "calls_answered",
            "csat_avg": "csat_avg",
            "period_start": "period_start",
        },
    }


def _hubspot_records(folder: Path) -> dict[str, Any]:
    # what HubSpot holds, keyed by the row key, without HubSpot's own ids (their order follows the batches')
    held = _hubspot(folder).by("p_agent_metrics", "ziwo_row_key")
    return {key: {k: v for k, v in record.items() if k != "id"} for key, record in held.items()}


# --- sql: a schema (PostgreSQL), database (MariaDB) or file (SQLite) per test folder -----------------

PG_PASSWORD = "contract-pg-password-31c8e0"  # trust auth takes any; it must never show all the same
os.environ["ZR_CONTRACT_PG_URL"] = f"postgresql://postgres:{PG_PASSWORD}@127.0.0.1:5432/test"
os.environ["ZR_CONTRACT_MARIADB_URL"] = "mysql://root@127.0.0.1:3306/test"
_SQL: dict[tuple[str, Path], Any] = {}


def _sql_namespace(dialect: str, folder: Path) -> Any:
    from tests.sql_servers import make_namespace

    if (dialect, folder) not in _SQL:
        name = "zrc_" + hashlib.sha256(str(folder).encode()).hexdigest()[:16]
        namespace = _SQL[(dialect, folder)] = make_namespace(dialect, folder / "sqlite", name)
        atexit.register(namespace.drop_schema)
    return _SQL[(dialect, folder)]


def _sql_options(dialect: str) -> Callable[[Path], dict[str, Any]]:
    def options(folder: Path) -> dict[str, Any]:
        namespace = _sql_namespace(dialect, folder)
        where: dict[str, Any] = {
            "postgresql": {"credentials": "env:ZR_CONTRACT_PG"},
            "mariadb": {"credentials": "env:ZR_CONTRACT_MARIADB"},
            "sqlite": {"url": namespace.url},
        }[dialect]
        if namespace.schema:
            where["schema"] = namespace.schema
        return {"type": "sql", "name": f"contract-{dialect}", "table": "agent_metrics", "chunk_rows": 4, **where}

    return options


def _sql_rows(dialect: str) -> Callable[[Path], Any]:
    def rows(folder: Path) -> Any:
        namespace = _sql_namespace(dialect, folder)
        if not namespace.exists("agent_metrics"):
            return []
        return [
            {k: str(v) for k, v in row.items()} for row in namespace.rows("agent_metrics", without=("delivered_at",))
        ]

    return rows


def _sql_break(dialect: str) -> Callable[[Path], None]:
    def broken(folder: Path) -> None:
        namespace = _sql_namespace(dialect, folder)
        if dialect == "sqlite":  # a file where the database's folder should be
            (folder / "sqlite").rename(folder / "sqlite-aside")
            (folder / "sqlite").write_text("not a folder")
        else:
            namespace.drop_schema()

    return broken


def _sql_mend(dialect: str) -> Callable[[Path], None]:
    def mended(folder: Path) -> None:
        namespace = _sql_namespace(dialect, folder)
        if dialect == "sqlite":
            (folder / "sqlite").unlink()
            (folder / "sqlite-aside").rename(folder / "sqlite")
        else:
            namespace.create_schema()

    return mended


def _sql_harness(dialect: str) -> Harness:
    return Harness(
        options=_sql_options(dialect),
        bad_options={"type": "sql", "url": "sqlite:///x.db", "table": "agent metrics\n"},
        bad_field="table",
        observe=_sql_rows(dialect),
        break_target=_sql_break(dialect),
        mend_target=_sql_mend(dialect),
        secrets=[PG_PASSWORD] if dialect == "postgresql" else [],
    )


# --- email: one real SMTP server (aiosmtpd, STARTTLS with a certificate made here, a login), a
# recipient per test folder ---------------------------------------------------------------------------

SMTP_PASSWORD = "contract-smtp-password-8e2a"
SMTP = SmtpServer(Path(tempfile.mkdtemp()), mode="starttls", users={"reports-bot": SMTP_PASSWORD}).__enter__()
os.environ.update(SMTP.environment("ZR_CONTRACT_SMTP", username="reports-bot", password=SMTP_PASSWORD))


def _mailbox(folder: Path) -> str:
    return f"contract-{hashlib.sha256(str(folder).encode()).hexdigest()[:12]}@acme.example"


def _email_options(folder: Path) -> dict[str, Any]:
    return {
        "type": "email",
        "name": "contract-email",
        "credentials": "env:ZR_CONTRACT_SMTP",
        "sender": "Ziwo reports <reports@acme.example>",
        "to": [_mailbox(folder)],
        "attach": ["xlsx", "csv"],
        "tls_ca_file": str(SMTP.cert),
        "attempts": 1,
    }


def _emails(folder: Path) -> list[Any]:
    """The messages the folder's mailbox got: their subject, the text without its generation time,
    the attachments' names and the CSV's bytes (the Message-ID derives from the recipients too:
    another folder's differs)."""
    held = []
    for received in SMTP.mailbox.to(_mailbox(folder)):
        message = received.message
        text = message.get_body(("plain",)).get_content()
        text = "\n".join(line for line in text.splitlines() if not line.startswith("Generated "))
        files = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
        held.append(
            (
                message["Subject"],
                text,
                sorted(files),
                [v for k, v in sorted(files.items()) if k.endswith(".csv")],
            )
        )
    return held


HARNESSES: dict[str, Harness] = {
    "file": Harness(
        options=lambda folder: {
            "type": "file",
            "name": "contract-files",
            "destination": str(folder / "out" / "reports"),
            "formats": ["xlsx", "csv", "parquet", "json"],
        },
        bad_options={"type": "file", "formats": ["docx"]},
        bad_field="formats",
        observe=_files,
        break_target=_block,
        mend_target=_unblock,
    ),
    "http_api": Harness(
        options=lambda folder: {
            "type": "http_api",
            "name": "contract-api",
            "url": RECEIVER.url(_http_path(folder)),
            "method": "POST",
            "credentials": "env:ZR_CONTRACT_API",
            "mapping": {"agent.id": "group_id", "agent.name": "group_name", "answered": "calls_answered"},
            "allow_private_urls": True,
        },
        bad_options={"type": "http_api", "url": "https://api.example.com/x", "mapping": {"a": {"cast": "integer"}}},
        bad_field="mapping.a",
        observe=lambda folder: RECEIVER.events(_http_path(folder)),
        break_target=_http_break,
        mend_target=_http_mend,
        secrets=[API_KEY],
    ),
    "webhook": Harness(
        options=_webhook_options,
        bad_options={"type": "webhook", "url": "ftp://hooks.example.com/in"},
        bad_field="url",
        observe=_hook_events,
        break_target=_http_break,
        mend_target=_http_mend,
        secrets=[WEBHOOK_SECRET, WEBHOOK_TOKEN],
    ),
    "zendesk": Harness(
        options=_zendesk_options,
        bad_options={
            "type": "zendesk",
            "subdomain": "acme",
            "credentials": "env:ZD",
            "custom_object_key": "Agent Metrics",
            "mapping": {"a": "b"},
        },
        bad_field="custom_object_key",
        observe=_zendesk_records,
        break_target=_zendesk_break,
        mend_target=_zendesk_mend,
        secrets=[ZENDESK.api_token],
    ),
    "salesforce": Harness(
        options=_sf_options,
        bad_options={
            "type": "salesforce",
            "credentials": "env:X",
            "sobject": "Obj__c",
            "external_id_field": "Key__c",
            "batch_size": 500,
        },
        bad_field="batch_size",
        observe=_sf_records,
        break_target=_sf_break,
        mend_target=_sf_mend,
        secrets=_SalesforceSecrets(),
    ),
    "hubspot": Harness(
        options=_hubspot_options,
        bad_options={"type": "hubspot", "credentials": "env:X", "object_type": "p_x", "batch_size": 500},
        bad_field="batch_size",
        observe=_hubspot_records,
        break_target=lambda folder: _hubspot(folder).revoke_all() and None,
        mend_target=lambda folder: _hubspot(folder).accept(HUBSPOT_TOKEN),
        secrets=[HUBSPOT_TOKEN],
    ),
    # one type, three databases: the contract runs against each
    "sql:postgresql": _sql_harness("postgresql"),
    "sql:mariadb": _sql_harness("mariadb"),
    "sql:sqlite": _sql_harness("sqlite"),
    "email": Harness(
        options=_email_options,
        bad_options={
            "type": "email",
            "credentials": "env:X",
            "sender": "reports@acme.example",
            "to": ["not-an-address"],
        },
        bad_field="to",
        observe=_emails,
        break_target=lambda folder: SMTP.mailbox.refuse_recipients.add(_mailbox(folder)),
        mend_target=lambda folder: SMTP.mailbox.refuse_recipients.discard(_mailbox(folder)),
        secrets=[SMTP_PASSWORD],
    ),
}
