"""The HTTP toolkit every connector uses: one policy, credentials, paging, a response classifier.

- `policy`: `send` and `HttpPolicy` (timeouts, deadline, size cap, same-origin redirects, retries);
- `client`: `ApiClient`, one API's base URL, policy, credentials and classifier together;
- `auth`: `LoginTokenAuth`, `BearerAuth`, `BasicAuth`, `ApiKeyAuth`; `oauth2`: `OAuth2ClientCredentials`;
- `paging`: `OffsetPaginator` (with the guards of the Ziwo client) and `CursorPaginator`;
- `classify`: `Verdict`, what a connector's classifier says of a response;
- `ssrf`: `guard_session`, public addresses only, for URLs users type (webhooks, HTTP APIs);
- `errors`: the errors, each message redacted.

It imports nothing of ziwo_reports but the foundation (redaction).
"""

from ziwo_reports.http.auth import ApiKeyAuth, Auth, BasicAuth, BearerAuth, LoginTokenAuth
from ziwo_reports.http.classify import Action, Classifier, Verdict
from ziwo_reports.http.client import ApiClient, error_message
from ziwo_reports.http.errors import (
    AuthError,
    CrossOriginRefused,
    DeadlineExceeded,
    HttpError,
    LimitExceeded,
    PagingError,
    RedirectRefused,
    ResponseTooLarge,
    RetriesExhausted,
    TooManyRedirects,
)
from ziwo_reports.http.oauth2 import OAuth2ClientCredentials
from ziwo_reports.http.paging import (
    CursorPage,
    CursorPaginator,
    OffsetPage,
    OffsetPaginator,
    PageSize,
    cursor_in_body,
    cursor_in_header,
    cursor_pages,
    items_at,
    key_by,
    next_link,
    record_key,
)
from ziwo_reports.http.policy import (
    ENV_PREFIX,
    HttpPolicy,
    HttpStats,
    Reply,
    is_retryable_status,
    parse_retry_after,
    retry_delay,
    send,
)
from ziwo_reports.http.policy import _origin as _origin  # for the guards' tests
from ziwo_reports.http.ssrf import AddressRefused, address_problem, check_url, guard_session, public_addresses

__all__ = [
    "ENV_PREFIX",
    "Action",
    "AddressRefused",
    "ApiClient",
    "ApiKeyAuth",
    "Auth",
    "AuthError",
    "BasicAuth",
    "BearerAuth",
    "Classifier",
    "CrossOriginRefused",
    "CursorPage",
    "CursorPaginator",
    "DeadlineExceeded",
    "HttpError",
    "HttpPolicy",
    "HttpStats",
    "LimitExceeded",
    "LoginTokenAuth",
    "OAuth2ClientCredentials",
    "OffsetPage",
    "OffsetPaginator",
    "PageSize",
    "PagingError",
    "RedirectRefused",
    "Reply",
    "ResponseTooLarge",
    "RetriesExhausted",
    "TooManyRedirects",
    "Verdict",
    "address_problem",
    "check_url",
    "cursor_in_body",
    "cursor_in_header",
    "cursor_pages",
    "error_message",
    "guard_session",
    "is_retryable_status",
    "items_at",
    "key_by",
    "next_link",
    "parse_retry_after",
    "public_addresses",
    "record_key",
    "retry_delay",
    "send",
]
