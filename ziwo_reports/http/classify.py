"""A connector's say on what a response means, before the policy's own rules.

Status codes are not enough for every API: Salesforce answers `403 [{"errorCode":
"REQUEST_LIMIT_EXCEEDED"}]` for a spent daily quota (a limit that must stop the run, not a
permission error, and not retried), some APIs answer 200 with a "busy" body, others 400 for an
expired session. A classifier is a function of the response (body read) that returns a Verdict,
or None to leave the response to the policy's rules (429 and 5xx retried, the rest returned).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

import requests

from ziwo_reports.http.errors import HttpError


class Action(enum.Enum):
    OK = "ok"  # hand the response to the caller (and `parse` a 2xx body)
    RETRY = "retry"  # again, under the policy's backoff and the response's Retry-After
    REAUTHENTICATE = "reauthenticate"  # the credentials expired: renew once and send again
    FAIL = "fail"  # stop with the verdict's error class and message, not retried


@dataclass(frozen=True)
class Verdict:
    action: Action
    reason: str = ""  # for retries and re-authentication: what the server said, for the log
    error: type[HttpError] | None = None  # for FAIL

    def __post_init__(self) -> None:
        if self.action is Action.FAIL and not (isinstance(self.error, type) and issubclass(self.error, HttpError)):
            # HttpError redacts its message and carries status and URL: every failure stays safe to print.
            raise TypeError(f"a FAIL verdict needs an HttpError subclass, got {self.error!r}")

    @classmethod
    def ok(cls) -> Verdict:
        return cls(Action.OK)

    @classmethod
    def retry(cls, reason: str) -> Verdict:
        return cls(Action.RETRY, reason)

    @classmethod
    def reauthenticate(cls, reason: str) -> Verdict:
        return cls(Action.REAUTHENTICATE, reason)

    @classmethod
    def fail(cls, error: type[HttpError], message: str) -> Verdict:
        return cls(Action.FAIL, message, error)


Classifier = Callable[[requests.Response], Verdict | None]
