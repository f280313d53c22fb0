"""The options of a Zendesk target (type `zendesk`): where (subdomain or base URL), with which
credentials, and which job: `upsert` metrics rows into a custom object, `user_fields` (each row's
metrics into the user fields of the agent's Zendesk user), or `follow_up` calls with a ticket or an
internal note."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from ziwo_reports.connectors.delivery import TargetOptions
from ziwo_reports.connectors.http_api.mapping import FieldSpec, parse_mapping, template_names
from ziwo_reports.connectors.http_delivery import check_target_url
from ziwo_reports.connectors.sandbox import check_sandbox, sandbox_field
from ziwo_reports.connectors.secrets import check_reference

#: Zendesk takes at most 100 items per custom object records job (and per create_or_update_many).
MAX_JOB_ITEMS = 100
#: Zendesk queues at most 30 background jobs per account at a time.
MAX_QUEUED_JOBS = 30
_SUBDOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_OBJECT_KEY = re.compile(r"^[a-z][a-z0-9_]{0,59}$")


#: The options a sandbox may change (`workflow test --send-test` sends there).
SANDBOX_OPTIONS = ("subdomain", "base_url", "credentials", "allow_private_urls")


class ZendeskTarget(TargetOptions):
    """A Zendesk account as a delivery target."""

    form_title: ClassVar[str] = "Zendesk"
    form_description: ClassVar[str] = (
        "Zendesk Support: metrics upserted into a custom object by external id (jobs of up to 100 records), "
        "or a follow-up ticket or internal note for each call, with the credentials of a Zendesk Credentials block."
    )

    type: Literal["zendesk"] = Field(
        default="zendesk", title="Type", description="zendesk: a custom object upsert or call follow-ups in Zendesk."
    )
    subdomain: str | None = Field(
        default=None,
        title="Subdomain",
        description="The account's subdomain: acme for https://acme.zendesk.com. One of subdomain and base_url.",
    )
    base_url: str | None = Field(
        default=None,
        title="Base URL",
        description="The account's URL instead of the subdomain (a host mapped name, a sandbox, a local fake), "
        "e.g. https://acme-sandbox.zendesk.com; no path.",
    )
    credentials: str = Field(
        title="Credentials",
        description="The name of a 'Zendesk Credentials' block, or env:PREFIX for PREFIX_<FIELD> environment "
        "variables (PREFIX_AUTH, PREFIX_EMAIL, PREFIX_API_TOKEN, ...).",
    )
    job: Literal["upsert", "user_fields", "follow_up"] = Field(
        default="upsert",
        title="Job",
        description="upsert: each row a custom object record, keyed by the row's stable key in external_id; "
        "user_fields: each row's values into the user fields of a Zendesk user (the agent's, found by external_id "
        "from user_key), one row per user; "
        "follow_up: for after_call workflows, a ticket or internal note per call on the caller's requester.",
    )
    user_key: str = Field(
        default="{group_id}",
        min_length=1,
        title="User key",
        description="user_fields: the external_id of the Zendesk user a row updates, a template over the row's "
        "columns (e.g. 'ziwo-{group_id}' when agents' Zendesk external_id is their Ziwo id with a prefix).",
    )
    custom_object_key: str | None = Field(
        default=None,
        title="Custom object key",
        description="upsert: the key of the custom object the records go to (e.g. agent_metrics).",
    )
    record_name: str = Field(
        default="{row_key}",
        min_length=1,
        title="Record name",
        description="upsert: the record's name, a template over the row's columns and report fields "
        "(e.g. '{group_name} {period_start}'); Zendesk requires a name.",
    )
    mapping: dict[str, str | FieldSpec] = Field(
        default_factory=dict,
        title="Field mapping",
        description="upsert: custom object field key -> a column or a spec (column, const, template, meta; cast, "
        "format_time, ...). user_fields: user field key -> a column or a spec. follow_up: extra ticket fields of a "
        "created ticket (priority, type, tags, ...).",
    )
    follow_up_as: Literal["ticket", "internal_note"] = Field(
        default="ticket",
        title="Follow up as",
        description="follow_up: a new ticket for the call (requester: the caller), or an internal note on the "
        "requester's latest open ticket (a new ticket when none is open).",
    )
    on_no_match: Literal["create_contact", "skip"] = Field(
        default="create_contact",
        title="On no match",
        description="follow_up: when no user has the caller's number, create one (an end-user keyed by the "
        "number) or skip the call (recorded as skipped).",
    )
    phone_column: str = Field(
        default="caller_number",
        min_length=1,
        title="Phone column",
        description="follow_up: the column holding the caller's number.",
    )
    subject: str = Field(
        default="Follow up call from {caller_number}",
        min_length=1,
        title="Subject",
        description="follow_up: the ticket's subject, a template over the call's columns.",
    )
    body: str = Field(
        default="Call {call_id} from {caller_number} ({direction}, {result}) at {started_at}, queue {queue_name}, "
        "agent {agent_name}.",
        min_length=1,
        title="Body",
        description="follow_up: the text of the ticket's first comment or of the internal note, a template over the "
        "call's columns. Always private (public: false).",
    )
    batch_size: int = Field(
        default=MAX_JOB_ITEMS,
        ge=1,
        le=MAX_JOB_ITEMS,
        title="Records per job",
        description="upsert and user_fields: records (users) per bulk job (Zendesk: at most 100).",
    )
    max_queued_jobs: int = Field(
        default=10,
        ge=1,
        le=MAX_QUEUED_JOBS,
        title="Jobs queued at a time",
        description="upsert: bulk jobs submitted and not yet finished at a time (Zendesk queues 30 per account).",
    )
    job_poll_interval_s: float = Field(
        default=1.0, ge=0.01, le=60, title="Job poll interval (s)", description="upsert: seconds between job polls."
    )
    job_poll_timeout_s: float = Field(
        default=600,
        gt=0,
        le=3600,
        title="Job poll timeout (s)",
        description="upsert: a job not finished after this long fails its records (replay sends them again).",
    )
    concurrency: int = Field(
        default=4, ge=1, le=16, title="Concurrency", description="Requests in flight at a time (1-16)."
    )
    timeout_s: float = Field(
        default=30, gt=0, le=600, title="Timeout (s)", description="Seconds one attempt of a request may take."
    )
    allow_private_urls: bool = Field(
        default=False,
        title="Allow private URLs",
        description="Allow a base_url on loopback or a private network (a local fake or proxy); off: public only.",
    )

    #: A sandbox's option that clears another (the production address it stands in for).
    sandbox_clears: ClassVar[dict[str, str]] = {"subdomain": "base_url", "base_url": "subdomain"}
    sandbox: dict[str, Any] | None = sandbox_field(
        SANDBOX_OPTIONS, {"subdomain": "acme1700000000", "credentials": "env:ZENDESK_SANDBOX"}
    )

    @field_validator("sandbox")
    @classmethod
    def _sandbox(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_sandbox(value, SANDBOX_OPTIONS)

    @field_validator("subdomain")
    @classmethod
    def _subdomain(cls, value: str | None) -> str | None:
        if value is not None and not _SUBDOMAIN.match(value):
            raise ValueError("is not a Zendesk subdomain (lowercase letters, digits, dashes), e.g. acme")
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        check_target_url(value)
        if value.rstrip("/").count("/") > 2 or "?" in value:
            raise ValueError("has a path or query: give the account's origin only, e.g. https://acme.zendesk.com")
        return value.rstrip("/")

    @field_validator("custom_object_key")
    @classmethod
    def _object_key(cls, value: str | None) -> str | None:
        if value is not None and not _OBJECT_KEY.match(value):
            raise ValueError("is not a custom object key (lowercase letters, digits and underscores)")
        return value

    @field_validator("credentials")
    @classmethod
    def _credentials(cls, value: str) -> str:
        return check_reference(value)

    @field_validator("record_name", "subject", "body")
    @classmethod
    def _template(cls, value: str) -> str:
        template_names(value)
        return value

    @field_validator("mapping", mode="before")
    @classmethod
    def _mapping(cls, value: Any) -> Any:
        return parse_mapping(value) if value is not None else {}

    @model_validator(mode="after")
    def _consistent(self) -> ZendeskTarget:
        if (self.subdomain is None) == (self.base_url is None):
            raise ValueError("give one of subdomain (acme) and base_url (https://acme.zendesk.com)")
        if self.job == "upsert":
            if self.custom_object_key is None:
                raise ValueError("custom_object_key: job upsert needs the key of the custom object")
            if not self.mapping:
                raise ValueError("mapping: job upsert needs at least one custom object field")
        elif self.job == "user_fields":
            if not self.mapping:
                raise ValueError("mapping: job user_fields needs at least one user field")
        else:
            reserved = {"subject", "comment", "requester_id", "external_id"}
            clash = sorted(reserved & {target.split(".")[0] for target in self.mapping})
            if clash:
                raise ValueError(f"mapping.{clash[0]}: follow_up sets it itself (subject and body are options)")
        return self

    @property
    def origin(self) -> str:
        """The account's URL: base_url, or https://<subdomain>.zendesk.com."""
        return self.base_url or f"https://{self.subdomain}.zendesk.com"
