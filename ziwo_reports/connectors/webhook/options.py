"""The options of a webhook target (type `webhook`): where, how, in which shape; never a secret
(those are in the credentials block the target names)."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from ziwo_reports.connectors.delivery import TargetOptions
from ziwo_reports.connectors.http_delivery import check_headers, check_target_url
from ziwo_reports.connectors.secrets import check_reference

Mode = Literal["report", "row", "chunks"]
DEFAULT_EVENT = {"report": "report.ready", "row": "report.row", "chunks": "report.ready"}
TEST_SUFFIX = ".test"
#: Body bytes: from a small message to what receivers commonly take at most.
MIN_BODY, MAX_BODY = 1024, 32 * 1024 * 1024
EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class WebhookTarget(TargetOptions):
    """A webhook: Standard Webhooks messages of the report, signed, to one URL."""

    form_title: ClassVar[str] = "Webhooks"
    form_description: ClassVar[str] = (
        "Signed Standard Webhooks messages of the report to a URL: one per report, one per row, or in chunks."
    )

    type: Literal["webhook"] = Field(
        default="webhook", title="Type", description="webhook: signed messages of the report to a URL."
    )
    url: str = Field(
        title="URL",
        description=(
            "Where the messages go: an http or https URL. No secrets in it: a token or password belongs in the "
            "credentials block (bearer_token or secret headers); a URL with user:password is refused."
        ),
    )
    method: Literal["POST", "GET"] = Field(
        default="POST",
        title="Method",
        description=(
            "POST: the envelope as a JSON body. GET: its type, timestamp and data (compact JSON) as query "
            "parameters, no body, the signature over the exact query string; the URL may hold 8000 bytes."
        ),
    )
    mode: Mode = Field(
        default="report",
        title="Messages",
        description=(
            "report: one message with every row; row: one message per row (per agent, queue or call); "
            "chunks: messages of consecutive rows, each body at most max_body_bytes, numbered sequence of count."
        ),
    )
    event_type: str | None = Field(
        default=None,
        title="Event type",
        description=(
            "The envelope's `type`, dotted lowercase (acme.report.ready); default report.ready (report, chunks) "
            "or report.row (row). A test send adds .test."
        ),
    )
    max_body_bytes: int = Field(
        default=262144,
        ge=MIN_BODY,
        le=MAX_BODY,
        title="Largest body (bytes)",
        description=(
            "No message is larger: chunks are cut to fit; a row, or a whole report in mode report, that does not "
            "fit is an error before anything is sent."
        ),
    )
    credentials: str | None = Field(
        default=None,
        title="Credentials",
        description=(
            "The name of a Webhook Credentials block (signing secrets, bearer token, secret headers), or "
            "env:PREFIX to read PREFIX_SIGNING_SECRETS, PREFIX_BEARER_TOKEN, PREFIX_HEADERS from the environment. "
            "None: unsigned messages."
        ),
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        title="Extra headers",
        description=(
            "Headers sent with every message whose values are not secret (X-Source: ziwo). Secret ones (an API "
            "key) go into the credentials block."
        ),
    )
    allow_private_urls: bool = Field(
        default=False,
        title="Allow private URLs",
        description=(
            "Send to private, loopback and link-local addresses too: for a receiver on your own network. "
            "Off, the host must resolve to public addresses only, checked at each connection."
        ),
    )
    test: bool = Field(
        default=False,
        title="Test send",
        description="Mark the messages as a test: the type ends in .test and their ids differ from real sends.",
    )
    concurrency: int = Field(
        default=8, ge=1, le=64, title="Concurrency", description="Messages in flight at once (1 to 64)."
    )
    timeout_s: float = Field(
        default=15.0,
        gt=0,
        le=300,
        title="Timeout (s)",
        description="How long to wait for the receiver's answer to one attempt; a retry follows a timeout.",
    )
    check_method: Literal["HEAD", "GET", "OPTIONS"] = Field(
        default="HEAD",
        title="Check method",
        description="The harmless request `check` sends to test the connection.",
    )
    check_url: str | None = Field(
        default=None,
        title="Check URL",
        description="Where `check` sends it (a health endpoint of the receiver); default: the URL.",
    )

    @field_validator("url", "check_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return value if value is None else check_target_url(value)

    @field_validator("event_type")
    @classmethod
    def _event_type(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not EVENT_TYPE.match(value):
            raise ValueError("is not a dotted lowercase event type such as report.ready")
        if value.endswith(TEST_SUFFIX):
            raise ValueError("ends in .test: set test: true for a test send instead")
        return value

    @field_validator("credentials")
    @classmethod
    def _credentials(cls, value: str | None) -> str | None:
        return value if value is None else check_reference(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, headers: dict[str, str]) -> dict[str, str]:
        return check_headers(headers, reserved_prefixes=("webhook-",))

    @property
    def message_type(self) -> str:
        """The envelope's type: the event type, with .test for a test send."""
        kind = self.event_type or DEFAULT_EVENT[self.mode]
        return kind + TEST_SUFFIX if self.test else kind
