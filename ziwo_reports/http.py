"""The one HTTP policy of the product: timeouts, and retries with capped exponential backoff,
full jitter and `Retry-After`. Every connector sends through `send`."""

from __future__ import annotations

import email.utils
import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import requests

from ziwo_reports.redaction import redact

log = logging.getLogger(__name__)

ENV_PREFIX = "ZIWO_REPORTS_HTTP_"


@dataclass(frozen=True)
class HttpPolicy:
    """Timeouts in seconds; `attempts` counts the first try."""

    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    attempts: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 120.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts!r}")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "attempts" and value < 0:
                raise ValueError(f"{f.name} must not be negative, got {value!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> HttpPolicy:
        """Read `ZIWO_REPORTS_HTTP_<FIELD>` variables (e.g. `ZIWO_REPORTS_HTTP_ATTEMPTS=8`)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = ENV_PREFIX + f.name.upper()
            raw = environ.get(name)
            if raw is None or raw == "":
                continue
            try:
                values[f.name] = int(raw) if f.name == "attempts" else float(raw)
            except ValueError:
                raise ValueError(f"{name} must be a number, got {raw!r}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)


@dataclass
class HttpStats:
    requests: int = 0
    retries: int = 0


class HttpError(Exception):
    """An HTTP exchange that failed for good. The message is already redacted."""

    def __init__(self, message: str, *, status: int | None = None, url: str = "") -> None:
        super().__init__(redact(message))
        self.status = status
        self.url = redact(url)


class RetriesExhausted(HttpError):
    pass


@dataclass
class Reply:
    response: requests.Response
    data: Any = None  # what `parse` returned, for a 2xx response

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def ok(self) -> bool:
        return 200 <= self.response.status_code < 300


def is_retryable_status(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP-date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_delay(
    retry_number: int, policy: HttpPolicy, retry_after: str | None = None, rng: random.Random | None = None
) -> float:
    """Delay before retry `retry_number` (1-based): the server's Retry-After when given (capped),
    otherwise full jitter over an exponentially growing, capped window."""
    asked = parse_retry_after(retry_after)
    if asked is not None:
        return min(asked, policy.retry_after_max)
    window = min(policy.backoff_max, policy.backoff_base * 2 ** (retry_number - 1))
    return (rng or random).uniform(0.0, window)


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    policy: HttpPolicy,
    stats: HttpStats | None = None,
    parse: Callable[[requests.Response], Any] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    **kwargs: Any,
) -> Reply:
    """Send a request under `policy`.

    Connection errors, timeouts, 429, 5xx and (when `parse` is given) a 2xx body that `parse`
    rejects with ValueError are retried. Any other status is returned to the caller, who knows
    what a 401 or 404 means for its API. Raises RetriesExhausted when the attempts run out.
    """
    stats = stats if stats is not None else HttpStats()
    kwargs.setdefault("timeout", policy.timeout)
    for attempt in range(1, policy.attempts + 1):
        stats.requests += 1
        retry_after: str | None = None
        try:
            response = session.request(method, url, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        else:
            if is_retryable_status(response.status_code):
                retry_after = response.headers.get("Retry-After")
                problem = f"HTTP {response.status_code}"
            elif parse is not None and 200 <= response.status_code < 300:
                try:
                    return Reply(response, parse(response))
                except ValueError as exc:
                    problem = f"unreadable response body ({len(response.content)} bytes): {exc}"
            else:
                return Reply(response)
        if attempt == policy.attempts:
            raise RetriesExhausted(f"{method} {url} failed after {attempt} attempts; last error: {problem}", url=url)
        delay = retry_delay(attempt, policy, retry_after)
        stats.retries += 1
        log.warning("%s %s: %s; retry %d of %d in %.2f s", method, url, problem, attempt, policy.attempts - 1, delay)
        sleep(delay)
    raise AssertionError("unreachable")
