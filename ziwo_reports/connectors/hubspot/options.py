"""What the HubSpot connector is asked to do (type `hubspot`): a pydantic model a flow takes as a
typed parameter and the Prefect UI renders as a form. Static checks only, no I/O."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from ziwo_reports.connectors.delivery import TargetOptions
from ziwo_reports.connectors.http_api.mapping import FieldSpec, parse_mapping, template_names
from ziwo_reports.connectors.http_delivery import check_target_url
from ziwo_reports.connectors.sandbox import check_sandbox, sandbox_field
from ziwo_reports.connectors.secrets import check_reference

API_BASE = "https://api.hubapi.com"
#: HubSpot's batch endpoints take at most this many inputs.
MAX_BATCH = 100
#: A property's internal name, or an object type (a name such as p_agent_metrics, or an id: 2-123).
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,99}$")


def _name(value: str, what: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"is not a HubSpot {what} (letters, digits, _ and -)")
    return value


#: The options a sandbox may change (`workflow test --send-test` sends there).
SANDBOX_OPTIONS = ("api_base", "credentials", "allow_private_urls")


class HubSpotTarget(TargetOptions):
    """HubSpot's CRM as a delivery target: `upsert` (report rows into an object, keyed by a unique
    property) or `follow_up` (after_call: a call engagement or task on the caller's contact)."""

    form_title: ClassVar[str] = "HubSpot"
    form_description: ClassVar[str] = (
        "HubSpot CRM with a private app token: metrics rows upserted by a unique property, or a follow-up "
        "(call or task) on the caller's contact after each call."
    )

    type: Literal["hubspot"] = Field(
        default="hubspot", title="Type", description="hubspot: HubSpot CRM (upsert rows, or follow up calls)."
    )
    job: Literal["upsert", "follow_up"] = Field(
        default="upsert",
        title="Job",
        description="upsert: each report row into `object_type`, keyed by `id_property`; follow_up (after_call "
        "workflows): a call engagement or task on the contact whose phone is the caller's number.",
    )
    credentials: str = Field(
        title="Credentials",
        description="The name of a 'HubSpot Credentials' block, or env:PREFIX to read PREFIX_ACCESS_TOKEN.",
    )
    api_base: str = Field(
        default=API_BASE,
        title="API base URL",
        description="HubSpot's API origin; another only for a test double (with allow_private_urls on loopback).",
    )
    allow_private_urls: bool = Field(
        default=False,
        title="Allow private URLs",
        description="Allow an api_base on loopback or a private network (a local fake); off: public addresses only.",
    )
    object_type: str | None = Field(
        default=None,
        title="Object type",
        description="upsert: the CRM object the rows go into: a custom object's name or id (p_agent_metrics, "
        "2-1234567) or a standard one.",
    )
    id_property: str = Field(
        default="ziwo_row_key",
        title="Id property",
        description="upsert: the object's property holding each row's stable key; it must be a unique-value "
        "property (hasUniqueValue), so a rerun updates the same record.",
    )
    mapping: dict[str, str | FieldSpec] = Field(
        default_factory=dict,
        title="Property mapping",
        description="HubSpot property -> a column, or a spec (column, const, template, meta; cast, format_time, "
        "join, default). upsert: the record's properties (empty: each column under its own name); follow_up: "
        "properties of the call or task, over the defaults.",
    )
    batch_size: int = Field(
        default=MAX_BATCH,
        ge=1,
        le=MAX_BATCH,
        title="Rows per request",
        description="upsert: inputs per batch upsert request (HubSpot takes at most 100).",
    )
    follow_up: Literal["task", "call"] = Field(
        default="task",
        title="Follow-up",
        description="follow_up: a task (to call the customer back) or a call engagement logging the call, "
        "associated with the contact.",
    )
    subject: str = Field(
        default="Call back {caller_number} ({queue_name})",
        title="Subject",
        description="follow_up: the task's subject or the call's title, a template over the call's columns.",
    )
    body: str | None = Field(
        default=None,
        title="Body",
        description="follow_up: the task's or call's notes, a template over the call's columns; empty: none.",
    )
    on_no_match: Literal["create_contact", "skip"] = Field(
        default="skip",
        title="When no contact matches",
        description="follow_up: create_contact (a contact with the caller's number, then the follow-up) or skip "
        "(the call is recorded as sent with 'skipped' and nothing is written).",
    )
    phone_properties: list[str] = Field(
        default_factory=lambda: ["phone", "mobilephone"],
        min_length=1,
        max_length=3,
        title="Phone properties",
        description="follow_up: contact properties searched for the caller's number as given (any of them), "
        "besides HubSpot's searchable calculated phone and mobile numbers (the number without country code or "
        "formatting); every hit is confirmed to be the same number.",
    )
    call_key_property: str = Field(
        default="ziwo_call_key",
        title="Call key property",
        description="follow_up: a unique-value property of calls or tasks holding the call's delivery key; the "
        "follow-up is upserted by it, so a rerun never makes a second one.",
    )
    contact_mapping: dict[str, str | FieldSpec] = Field(
        default_factory=dict,
        title="New contact's properties",
        description="follow_up with create_contact: properties of a created contact besides its phone, from "
        "the call's columns (e.g. lastname: {template: 'Caller {caller_number}'}).",
    )
    concurrency: int = Field(
        default=4,
        ge=1,
        le=16,
        title="Concurrency",
        description="Requests in flight at a time (1-16); HubSpot allows about 100-190 requests per 10 s an app.",
    )
    timeout_s: float = Field(
        default=30, gt=0, le=300, title="Timeout (s)", description="Seconds one attempt of a request may take."
    )

    #: A sandbox's option that clears another (the production address it stands in for).
    sandbox_clears: ClassVar[dict[str, str]] = {}
    sandbox: dict[str, Any] | None = sandbox_field(SANDBOX_OPTIONS, {"credentials": "env:HUBSPOT_TEST_ACCOUNT"})

    @field_validator("sandbox")
    @classmethod
    def _sandbox(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_sandbox(value, SANDBOX_OPTIONS)

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, value: str) -> str:
        check_target_url(value)
        if value.rstrip("/").count("/") > 2:
            raise ValueError("is an origin such as https://api.hubapi.com, without a path")
        return value.rstrip("/")

    @field_validator("credentials")
    @classmethod
    def _credentials(cls, value: str) -> str:
        return check_reference(value)

    @field_validator("object_type")
    @classmethod
    def _object_type(cls, value: str | None) -> str | None:
        return value if value is None else _name(value, "object type")

    @field_validator("id_property", "call_key_property")
    @classmethod
    def _property(cls, value: str) -> str:
        return _name(value, "property name")

    @field_validator("phone_properties")
    @classmethod
    def _phones(cls, value: list[str]) -> list[str]:
        return [_name(v, "property name") for v in value]

    @field_validator("mapping", "contact_mapping", mode="before")
    @classmethod
    def _mapping(cls, value: Any) -> Any:
        parsed = parse_mapping(value) if value is not None else {}
        for target in parsed:
            if "." in target:
                raise ValueError(f"{target}: HubSpot properties are flat, a property name has no dots")
            _name(target, "property name")
        return parsed

    @field_validator("subject", "body")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is not None:
            template_names(value)
        return value

    @model_validator(mode="after")
    def _job_needs(self) -> HubSpotTarget:
        if self.job == "upsert" and self.object_type is None:
            raise ValueError("job upsert needs object_type (the CRM object the rows go into)")
        if self.job == "upsert" and self.id_property in self.mapping:
            raise ValueError(
                f"mapping sets id_property {self.id_property!r}: it holds the row key, set by the delivery"
            )
        if self.job == "follow_up" and self.call_key_property in self.mapping:
            raise ValueError(
                f"mapping sets call_key_property {self.call_key_property!r}: it holds the call key, set by the delivery"
            )
        return self

    @property
    def engagement_type(self) -> str:
        return "tasks" if self.follow_up == "task" else "calls"
