"""What the Salesforce connector is asked to do (type `salesforce`): a pydantic model a flow takes
as a typed parameter and the Prefect UI renders as a form. Static checks only, no I/O."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from ziwo_reports.connectors.delivery import TargetOptions
from ziwo_reports.connectors.http_api.mapping import FieldSpec, parse_mapping
from ziwo_reports.connectors.http_delivery import check_target_url
from ziwo_reports.connectors.sandbox import check_sandbox, sandbox_field
from ziwo_reports.connectors.secrets import check_reference

#: An API name of an object or field: Account, Agent_Metric__c, ns__Field__c.
API_NAME = r"^[A-Za-z][A-Za-z0-9_]*$"
#: `login`, `test`, or a My Domain prefix (`acme.my`, `acme--uat.sandbox.my`).
DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
#: sObject Collections take at most this many records a request.
COLLECTION_LIMIT = 200

DEFAULT_FOLLOW_UP_MAPPING: dict[str, Any] = {
    "Subject": {"template": "Ziwo call from {caller_number}"},
    "Description": {"template": "Call {call_id} in {queue_name}, {direction}, result {result}, started {started_at}"},
}
DEFAULT_CONTACT_MAPPING: dict[str, Any] = {
    "LastName": {"template": "Caller {caller_number}"},
    "Phone": "caller_number",
}


#: The options a sandbox may change (`workflow test --send-test` sends there).
SANDBOX_OPTIONS = ("domain", "login_url", "credentials", "allow_private_urls")


class SalesforceTarget(TargetOptions):
    """A Salesforce org as a delivery target: metrics rows upserted by external id, or a follow-up
    on each call of an after_call workflow."""

    form_title: ClassVar[str] = "Salesforce"
    form_description: ClassVar[str] = (
        "Metrics rows upserted into an object by an external id field (sObject Collections of 200, Bulk API 2.0 "
        "for large runs), or a Task or Case on the Contact or Lead who called (after_call workflows)."
    )

    type: Literal["salesforce"] = Field(
        default="salesforce", title="Type", description="salesforce: upsert rows or create follow-ups in Salesforce."
    )
    job: Literal["upsert", "follow_up"] = Field(
        default="upsert",
        title="Job",
        description="upsert: each row upserted into `sobject` by its stable key in `external_id_field`; follow_up: "
        "for after_call workflows, a Task or Case on the Contact or Lead matched by the caller's number.",
    )
    credentials: str = Field(
        title="Credentials",
        description="The name of a 'Salesforce Credentials' block, or env:PREFIX for PREFIX_<FIELD> environment "
        "variables (PREFIX_AUTH, PREFIX_USERNAME, PREFIX_CONSUMER_KEY, PREFIX_PRIVATE_KEY, ...).",
    )
    domain: str = Field(
        default="login",
        title="Login domain",
        description="login (production), test (a sandbox) or your My Domain prefix (acme.my for "
        "acme.my.salesforce.com); client_credentials needs My Domain.",
    )
    login_url: str | None = Field(
        default=None,
        title="Login URL",
        description="Where the token request goes, overriding `domain` (e.g. https://acme.my.salesforce.com); the "
        "API calls go to the instance URL the token answer names.",
    )
    api_version: str = Field(
        default="62.0", pattern=r"^\d{2,3}\.0$", title="API version", description="The REST API version, e.g. 62.0."
    )
    sobject: str | None = Field(
        default=None,
        pattern=API_NAME,
        title="Object",
        description="upsert: the object the rows go into (API name, e.g. Ziwo_Agent_Metric__c).",
    )
    external_id_field: str | None = Field(
        default=None,
        pattern=API_NAME,
        title="External id field",
        description="upsert: the object's External ID + Unique text field that holds each row's stable key "
        "(e.g. Ziwo_Row_Key__c); the key is put in it for you.",
    )
    mapping: dict[str, str | FieldSpec] = Field(
        default_factory=dict,
        title="Field mapping",
        description="Salesforce field API name -> a column name, or a spec with one of column, const, template, meta "
        "(and cast, format_time, timezone, join, default). upsert: the object's fields (empty: each column under "
        "its own name); follow_up: the Task's or Case's fields (empty: a Subject and Description of the call).",
    )
    mode: Literal["auto", "collections", "bulk"] = Field(
        default="auto",
        title="Upsert mode",
        description="auto: sObject Collections (200 records a request) up to bulk_threshold rows, Bulk API 2.0 "
        "above; collections or bulk: always that one.",
    )
    bulk_threshold: int = Field(
        default=2000,
        ge=1,
        title="Bulk threshold",
        description="auto: more rows than this go through one Bulk API 2.0 job (Salesforce's advice: about 2,000).",
    )
    batch_size: int = Field(
        default=COLLECTION_LIMIT,
        ge=1,
        le=COLLECTION_LIMIT,
        title="Records per request",
        description="sObject Collections: records per request (Salesforce takes at most 200).",
    )
    bulk_poll_s: float = Field(
        default=2.0, gt=0, le=60, title="Bulk poll interval (s)", description="Seconds between job status requests."
    )
    bulk_timeout_s: float = Field(
        default=1800,
        gt=0,
        le=86_400,
        title="Bulk timeout (s)",
        description="How long to wait for a Bulk API 2.0 job to finish; its rows fail (for replay) past that.",
    )
    lock_retries: int = Field(
        default=3,
        ge=0,
        le=10,
        title="Lock retries",
        description="Times a record that failed with UNABLE_TO_LOCK_ROW is sent again (with backoff) before it "
        "counts as failed.",
    )
    follow_up: Literal["task", "case"] = Field(
        default="task",
        title="Follow-up",
        description="follow_up: a Task (WhoId: the Contact or Lead) or a Case (ContactId: Contacts only, a Case "
        "cannot name a Lead).",
    )
    follow_up_key_field: str = Field(
        default="Ziwo_Call_Key__c",
        pattern=API_NAME,
        title="Follow-up key field",
        description="follow_up: the Task's or Case's text field that holds the call's key, so a rerun updates "
        "the follow-up and never makes a second: upserted by it when the field is External ID, else found "
        "by a query on it and then updated or created.",
    )
    phone_column: str = Field(
        default="caller_number",
        min_length=1,
        title="Phone column",
        description="follow_up: the column with the caller's number, matched against Phone and MobilePhone.",
    )
    on_no_match: Literal["create_contact", "skip"] = Field(
        default="skip",
        title="On no match",
        description="follow_up: when no Contact (nor, for a Task, Lead) has the number: create_contact (by "
        "contact_mapping) and put the follow-up on it, or skip the call.",
    )
    contact_mapping: dict[str, str | FieldSpec] = Field(
        default_factory=lambda: parse_mapping(DEFAULT_CONTACT_MAPPING),
        title="Contact mapping",
        description="follow_up with create_contact: the new Contact's fields (LastName is required by Salesforce).",
    )
    allow_private_urls: bool = Field(
        default=False,
        title="Allow private URLs",
        description="Allow loopback and private addresses for the login and instance URLs (a local test org); "
        "off: public addresses only.",
    )
    concurrency: int = Field(
        default=4,
        ge=1,
        le=25,
        title="Concurrency",
        description="Requests in flight at a time (Salesforce allows 25 long-running requests per org).",
    )
    timeout_s: float = Field(
        default=60, gt=0, le=600, title="Timeout (s)", description="Seconds one attempt of a request may take."
    )
    api_usage_ceiling: float = Field(
        default=0.95,
        gt=0,
        le=1,
        title="API usage ceiling",
        description="Stop sending once the org's API requests of the last 24 hours, as Salesforce reports them on "
        "every answer (Sforce-Limit-Info: api-usage=used/allowance), reach this share of its allowance, leaving "
        "the rest to the org's other integrations; what is not sent fails for replay. 1: send until "
        "REQUEST_LIMIT_EXCEEDED.",
    )

    #: A sandbox's option that clears another (the production address it stands in for).
    sandbox_clears: ClassVar[dict[str, str]] = {"domain": "login_url"}
    sandbox: dict[str, Any] | None = sandbox_field(
        SANDBOX_OPTIONS, {"domain": "test", "credentials": "salesforce-sandbox"}
    )

    @field_validator("sandbox")
    @classmethod
    def _sandbox(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_sandbox(value, SANDBOX_OPTIONS)

    @field_validator("credentials")
    @classmethod
    def _credentials(cls, value: str) -> str:
        return check_reference(value)

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        value = value.strip().lower().removesuffix(".salesforce.com")
        if not DOMAIN.match(value):
            raise ValueError("is not login, test or a My Domain prefix such as acme.my")
        return value

    @field_validator("login_url")
    @classmethod
    def _login_url(cls, value: str | None) -> str | None:
        return value if value is None else check_target_url(value.rstrip("/"))

    @field_validator("mapping", "contact_mapping", mode="before")
    @classmethod
    def _mapping(cls, value: Any) -> Any:
        mapping = parse_mapping(value) if value is not None else {}
        for name in mapping:
            if not re.match(API_NAME, name):
                raise ValueError(f"{name!r} is not a Salesforce field API name (letters, digits, underscores)")
        return mapping

    @model_validator(mode="after")
    def _consistent(self) -> SalesforceTarget:
        if self.job == "upsert":
            for name in ("sobject", "external_id_field"):
                if getattr(self, name) is None:
                    raise ValueError(f"{name}: job upsert needs the object and its external id field")
            if self.external_id_field in self.mapping:
                raise ValueError(
                    f"mapping.{self.external_id_field}: the external id field holds the row key; map it nowhere"
                )
        elif self.follow_up_key_field in self.mapping:
            raise ValueError(f"mapping.{self.follow_up_key_field}: the follow-up key field holds the call's key")
        return self

    @property
    def base_login_url(self) -> str:
        """The token endpoint's origin: login_url, else https://<domain>.salesforce.com."""
        return self.login_url or f"https://{self.domain}.salesforce.com"

    @property
    def follow_up_object(self) -> str:
        return "Task" if self.follow_up == "task" else "Case"
