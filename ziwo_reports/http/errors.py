"""The errors of the HTTP toolkit. Each message is redacted when the error is made, so an error
can be logged or printed as it is."""

from __future__ import annotations

from ziwo_reports.redaction import redact


class HttpError(Exception):
    """An HTTP exchange that failed for good. The message is already redacted."""

    def __init__(self, message: str, *, status: int | None = None, url: str = "") -> None:
        super().__init__(redact(message))
        self.status = status
        self.url = redact(url)


class RetriesExhausted(HttpError):
    pass


class RedirectRefused(HttpError):
    """A redirect to another scheme, host or port: never followed, so credentials stay put."""


class TooManyRedirects(HttpError):
    """More same-host redirects than `max_redirects`, or a redirect loop."""


class DeadlineExceeded(HttpError):
    """An attempt that took longer than `deadline`, whatever the server trickled meanwhile."""


class ResponseTooLarge(HttpError):
    """A response body over `max_response_bytes` (decoded)."""


class CrossOriginRefused(HttpError):
    """A request, with credentials, to another scheme, host or port than the API's: never sent."""


class AuthError(HttpError):
    """Credentials that were refused, or could not be had (a login or token request that failed)."""


class LimitExceeded(HttpError):
    """A quota the server says is spent (a daily request limit): retrying within the run cannot help."""


class PagingError(HttpError):
    """A listing whose pages cannot be trusted to end, or to be complete."""
