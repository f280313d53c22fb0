"""What the HTTP API connector is asked to do (type `http_api`): a pydantic model a flow takes as
a typed parameter and the Prefect UI renders as a form. Static checks only, no I/O; the mapping is
checked against the report's columns when a plan is made."""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from ziwo_reports.connectors.delivery import TargetOptions
from ziwo_reports.connectors.http_api.mapping import REPORT_META, FieldSpec, parse_mapping, template_names
from ziwo_reports.connectors.http_delivery import check_headers, check_target_url
from ziwo_reports.connectors.secrets import check_reference

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
#: Methods whose request has no body: the mapped fields go in the query string.
NO_BODY = ("GET", "DELETE")
#: The header that marks a test send (`test: true`); the options may not set it themselves.
TEST_HEADER = "X-Ziwo-Test"


def _url_template_problem(url: str) -> str | None:
    """Why `url` cannot be a URL template (placeholders only in path and query), or None."""
    try:
        parts = urlsplit(url)
    except ValueError as problem:
        return f"is not a URL: {problem}"
    for what, text in (("scheme", parts.scheme), ("host", parts.netloc), ("fragment", parts.fragment)):
        if "{" in text or "}" in text:
            return f"has a placeholder in its {what}: placeholders go in the path and query only"
    try:
        names = template_names(parts.path + "?" + parts.query)
    except ValueError as problem:
        return str(problem)
    probe = url
    for name in names:
        probe = probe.replace("{" + name + "}", "x")
    try:
        check_target_url(probe)
    except ValueError as problem:
        return str(problem)
    return None


class HttpApiTarget(TargetOptions):
    """An HTTP API as a delivery target: a request per row (or per batch of rows), its body built
    by a field mapping."""

    form_title: ClassVar[str] = "HTTP APIs"
    form_description: ClassVar[str] = (
        "Any REST API: a request per row or per batch, its body built by a field mapping, with the "
        "credentials of an HTTP API Credentials block (API key, basic, bearer, OAuth2)."
    )

    type: Literal["http_api"] = Field(
        default="http_api", title="Type", description="http_api: a request per row or batch to an HTTP API."
    )
    url: str = Field(
        title="URL",
        description="Where the requests go, http(s). May hold {column} or {meta field} placeholders in its path and "
        "query (URL-quoted when filled), e.g. https://api.example.com/agents/{group_id}/stats.",
    )
    method: Method = Field(
        default="POST",
        title="Method",
        description="POST, PUT, PATCH (a JSON body), GET or DELETE (the mapped fields as query parameters).",
    )
    query: dict[str, str] = Field(
        default_factory=dict,
        title="Query parameters",
        description="Added to the URL's query; values may be templates such as '{period_start}'.",
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        title="Headers",
        description="Extra headers that are not secret; secret ones go into the credentials block.",
    )
    credentials: str | None = Field(
        default=None,
        title="Credentials",
        description="The name of an 'HTTP API Credentials' block, or env:PREFIX for PREFIX_<FIELD> environment "
        "variables (PREFIX_AUTH, PREFIX_API_KEY, ...); empty: no authentication.",
    )
    mapping: dict[str, str | FieldSpec] = Field(
        default_factory=dict,
        title="Field mapping",
        description="Target field (dots nest: agent.id) -> a column name, or a spec with one of column, const, "
        "template, meta and modifiers cast, format_time, timezone, join, default. Empty: each row as it is.",
    )
    batch_size: int = Field(
        default=1,
        ge=1,
        le=10_000,
        title="Rows per request",
        description="1: a request per row; more: a request per batch of rows (a JSON array, or in batch_wrapper).",
    )
    batch_wrapper: str | None = Field(
        default=None,
        min_length=1,
        title="Batch wrapper",
        description="A batch's body: None sends a JSON array of the rows; 'records' sends {\"records\": [...]}.",
    )
    success_field: str | None = Field(
        default=None,
        min_length=1,
        title="Success field",
        description="Dotted path of a field of the JSON answer that must be present and true (or equal success_value) "
        "for a 2xx to count as delivered; None: any 2xx.",
    )
    success_value: str | int | bool | None = Field(
        default=None, title="Success value", description="The value success_field must have; None: any true value."
    )
    id_field: str | None = Field(
        default=None,
        min_length=1,
        title="Id field",
        description="Dotted path of the target's id in the JSON answer, kept in the delivery ledger (e.g. data.id).",
    )
    allow_private_urls: bool = Field(
        default=False,
        title="Allow private URLs",
        description="Allow loopback, private and link-local addresses (an API on your own network); off: only public "
        "addresses, so the URL cannot reach inside this network.",
    )
    concurrency: int = Field(
        default=8, ge=1, le=64, title="Concurrency", description="Requests in flight at a time (1-64)."
    )
    timeout_s: float = Field(
        default=30, gt=0, le=600, title="Timeout (s)", description="Seconds one attempt of a request may take."
    )
    test_url: str | None = Field(
        default=None,
        title="Test URL",
        description="The API's sandbox, where a test send (`workflow test --send-test`) goes instead of the URL; "
        "the same placeholders and rules as the URL. None: a test goes to the URL, marked by its header only.",
    )
    test: bool = Field(
        default=False,
        title="Test send",
        description="Mark the requests as a test: the header X-Ziwo-Test: true, sent to test_url when set, and keys "
        "(and so Idempotency-Keys) of their own (test:...), which never collide with real sends.",
    )
    check_method: Literal["HEAD", "GET", "OPTIONS"] = Field(
        default="HEAD", title="Check method", description="The harmless request `check` (test connection) makes."
    )
    check_url: str | None = Field(
        default=None,
        title="Check URL",
        description="Where `check` sends it, on the same host; None: the URL up to its first placeholder.",
    )

    @field_validator("url", "test_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        problem = _url_template_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("check_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None:
            check_target_url(value)
            if "{" in value or "}" in value:
                raise ValueError("has a placeholder: the check URL is one fixed URL")
        return value

    @field_validator("query")
    @classmethod
    def _query(cls, value: dict[str, str]) -> dict[str, str]:
        for name, template in value.items():
            if not name:
                raise ValueError("a query parameter has no name")
            try:
                template_names(template)
            except ValueError as problem:
                raise ValueError(f"query.{name}: {problem}") from None
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        return check_headers(value, reserved_prefixes=(TEST_HEADER.lower(),))

    @field_validator("credentials")
    @classmethod
    def _credentials(cls, value: str | None) -> str | None:
        return value if value is None else check_reference(value)

    @field_validator("mapping", mode="before")
    @classmethod
    def _mapping(cls, value: Any) -> Any:
        return parse_mapping(value) if value is not None else {}

    @model_validator(mode="after")
    def _consistent(self) -> HttpApiTarget:
        if self.method in NO_BODY and self.batch_size > 1:
            raise ValueError(f"batch_size {self.batch_size}: a {self.method} request has no body, so one row each")
        if self.batch_wrapper is not None and self.batch_size == 1:
            raise ValueError(f"batch_wrapper {self.batch_wrapper!r} only goes with batch_size above 1")
        if self.success_value is not None and self.success_field is None:
            raise ValueError("success_value needs success_field")
        if self.batch_size > 1:
            for name in self.placeholders():
                if name not in REPORT_META:
                    raise ValueError(
                        f"placeholder {{{name}}}: a batch's URL and query may use only report fields "
                        f"({', '.join(REPORT_META)}), not a row's"
                    )
        if self.check_url is not None and _origin(self.check_url) != _origin(self.url):
            raise ValueError(f"check_url {self.check_url!r} is not on the host of url {self.url!r}")
        return self

    def placeholders(self) -> list[str]:
        """The names used in the URL, the test URL and the query templates."""
        names = []
        for url in (self.url, self.test_url):
            if url is not None:
                parts = urlsplit(url)
                names += template_names(parts.path + "?" + parts.query)
        for template in self.query.values():
            names += template_names(template)
        return names

    @property
    def send_url(self) -> str:
        """The URL template requests go to: test_url for a test send that has one, else the URL."""
        return self.test_url if self.test and self.test_url else self.url

    def probe_url(self) -> str:
        """Where `check` goes: check_url, or the URL up to its first placeholder."""
        if self.check_url:
            return self.check_url
        return self.url.split("{", 1)[0].split("?", 1)[0] if "{" in self.url else self.url


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.hostname, parts.port
