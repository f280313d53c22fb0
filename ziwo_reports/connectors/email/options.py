"""The options of an e-mail target (type `email`): who gets what, in which shape; never a secret
(the SMTP server, its user and password are in the Email Server Credentials block it names)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from ziwo_reports.connectors.delivery import TargetOptions
from ziwo_reports.connectors.email.addresses import check_address
from ziwo_reports.connectors.email.templates import ALERT_FIELDS, REPORT_FIELDS, check_template
from ziwo_reports.connectors.files.naming import DEFAULT_TEMPLATE
from ziwo_reports.connectors.files.naming import check_template as check_file_template
from ziwo_reports.connectors.files.options import Thresholds
from ziwo_reports.connectors.http_delivery import check_target_url
from ziwo_reports.connectors.secrets import check_reference
from ziwo_reports.metric_definitions import known_columns

Attachment = Literal["xlsx", "csv"]
#: Recipients of one message, to + cc + bcc: what relays commonly take in one go.
MAX_RECIPIENTS = 100
KNOWN_COLUMNS = known_columns()


class EmailTarget(TargetOptions):
    """An e-mail: the report (or after_call alerts) as an HTML message with a text alternative."""

    form_title: ClassVar[str] = "E-mails"
    form_description: ClassVar[str] = (
        "The report by e-mail over SMTP: headline totals, top rows and flagged rows in the message, the Excel or "
        "CSV files attached; after_call: an alert per call, or a digest every N minutes."
    )

    type: Literal["email"] = Field(default="email", title="Type", description="email: the report by e-mail (SMTP).")
    credentials: str = Field(
        title="SMTP credentials",
        description=(
            "The name of a prefect-email 'Email Server Credentials' block (server, port, SSL / STARTTLS / INSECURE, "
            "user, password), or env:PREFIX to read PREFIX_SMTP_SERVER, PREFIX_SMTP_TYPE, PREFIX_SMTP_PORT, "
            "PREFIX_USERNAME, PREFIX_PASSWORD, PREFIX_VERIFY from the environment."
        ),
    )
    sender: str = Field(
        title="From",
        description="The From address: reports@acme.example or 'Ziwo reports <reports@acme.example>'.",
    )
    reply_to: str | None = Field(default=None, title="Reply-To", description="Where replies go; None: the sender.")
    to: list[str] = Field(default_factory=list, title="To", description="Recipients shown in To.")
    cc: list[str] = Field(default_factory=list, title="Cc", description="Recipients shown in Cc.")
    bcc: list[str] = Field(
        default_factory=list,
        title="Bcc",
        description="Recipients who get the message without being named in it (never in a header).",
    )
    subject: str = Field(
        default="{report_title}: {period} ({timezone})",
        max_length=500,
        title="Subject",
        description=(
            "The subject of a report message, a template over the report's fields: "
            + ", ".join(REPORT_FIELDS)
            + "; times take strftime formats, e.g. {period_start:%d %b}."
        ),
    )
    alert_subject: str = Field(
        default="[{workflow}] {summary}",
        max_length=500,
        title="Alert subject",
        description=(
            "The subject of an after_call alert or digest: the report's fields and workflow, calls (how many), "
            "summary (e.g. 'call from +971… to Sales at 09:14', '5 calls 09:00–09:15') and the first call's "
            "call_id, caller_number, agent_name, queue_name, result, direction, disposition, started_at."
        ),
    )
    intro: str = Field(
        default="",
        max_length=2000,
        title="Intro",
        description="A paragraph at the top of the message, a template over the same fields as its subject.",
    )
    top_rows: int = Field(
        default=10, ge=0, le=200, title="Top rows", description="Rows of the report shown in the message (0: none)."
    )
    top_by: str | None = Field(
        default=None,
        title="Top rows by",
        description=(
            "The column the top rows are the largest of; default calls_handled (agents), calls_offered (queues), "
            "or the report's own order (call details)."
        ),
    )
    thresholds: Thresholds = Field(
        default_factory=Thresholds,
        title="Flag thresholds",
        description="Rows beyond these are listed as flagged in the message (and turn red in the attached Excel).",
    )
    flagged_rows: int = Field(
        default=20, ge=0, le=500, title="Flagged rows", description="Flagged rows listed at most (0: none)."
    )
    attach: list[Attachment] = Field(
        default=["xlsx"],
        title="Attachments",
        description="Report files attached: xlsx, csv (none for an empty list). after_call alerts attach nothing.",
    )
    file_template: str = Field(
        default=DEFAULT_TEMPLATE,
        title="Attachment names",
        description="The attached files' names, a file name template as the file target's (non-ASCII kept).",
    )
    max_attachment_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        le=50 * 1024 * 1024,
        title="Largest attachments (bytes)",
        description=(
            "Attachments larger than this in all are not attached: they are written to link_destination and "
            "the message links to them at link_base_url; without those, the message fails (nothing is dropped)."
        ),
    )
    link_destination: str | None = Field(
        default=None,
        title="Link destination",
        description="Where files too large to attach are written: a folder or fsspec URL (as a file target's).",
    )
    link_base_url: str | None = Field(
        default=None,
        title="Link base URL",
        description="The https URL under which link_destination is served: the message links to base URL + name.",
    )
    digest_minutes: int | None = Field(
        default=None,
        ge=1,
        le=1440,
        title="Digest every (minutes)",
        description=(
            "after_call: at most one message per window of this many minutes (windows from midnight in the "
            "report zone), with every call not yet sent; None: one alert per call."
        ),
    )
    test: bool = Field(
        default=False,
        title="Test send",
        description="A test send: the subject starts with [TEST] and it goes to test_to only, never to to/cc/bcc.",
    )
    test_to: list[str] = Field(
        default_factory=list,
        title="Test recipients",
        description="Where test sends (`workflow test --send-test`) go; none: no test sends to this target.",
    )
    tls_ca_file: str | None = Field(
        default=None,
        title="CA file",
        description="A PEM file of CA certificates the server's certificate must chain to (a private relay's CA); "
        "None: the system's.",
    )
    timeout_s: float = Field(
        default=30.0, gt=0, le=300, title="Timeout (s)", description="How long to wait for the server at each step."
    )
    attempts: int = Field(
        default=2,
        ge=1,
        le=5,
        title="Attempts",
        description="Tries per message when the server drops the connection or answers 4xx (a temporary refusal).",
    )

    @field_validator("credentials")
    @classmethod
    def _credentials(cls, value: str) -> str:
        return check_reference(value)

    @field_validator("sender", "reply_to")
    @classmethod
    def _one_address(cls, value: str | None) -> str | None:
        return value if value is None else check_address(value)

    @field_validator("to", "cc", "bcc", "test_to")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        checked = []
        for position, value in enumerate(values):
            try:
                checked.append(check_address(value))
            except ValueError as problem:
                raise ValueError(f"[{position}] {value!r} {problem}") from None
        return list(dict.fromkeys(checked))

    @field_validator("subject", "intro")
    @classmethod
    def _report_template(cls, value: str, info) -> str:
        return check_template(info.field_name, value, REPORT_FIELDS)

    @field_validator("alert_subject")
    @classmethod
    def _alert_template(cls, value: str) -> str:
        return check_template("alert_subject", value, ALERT_FIELDS)

    @field_validator("file_template")
    @classmethod
    def _file_template(cls, value: str) -> str:
        check_file_template(value)
        return value

    @field_validator("top_by")
    @classmethod
    def _top_by(cls, value: str | None) -> str | None:
        if value is not None and value not in KNOWN_COLUMNS:
            raise ValueError("is not a report column (e.g. calls_handled, avg_handle_time_s, calls_offered)")
        return value

    @field_validator("attach")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @field_validator("link_base_url")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        return value if value is None else check_target_url(value).rstrip("/") + "/"

    @model_validator(mode="after")
    def _consistent(self) -> EmailTarget:
        if not (self.to or self.cc or self.bcc):
            raise ValueError("to, cc and bcc are all empty: give at least one recipient")
        count = len(self.to) + len(self.cc) + len(self.bcc)
        if count > MAX_RECIPIENTS:
            raise ValueError(f"to, cc and bcc name {count} recipients; at most {MAX_RECIPIENTS} per message")
        if (self.link_destination is None) != (self.link_base_url is None):
            given = "link_destination" if self.link_destination is not None else "link_base_url"
            raise ValueError(f"{given} is given without the other: links need both link_destination and link_base_url")
        return self
