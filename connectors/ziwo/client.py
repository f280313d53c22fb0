"""Ziwo REST client: login, the `access_token` header, paging and streaming of call records.

Reading call history is built to lose nothing: a date range is pulled one day per request, a
day is paged until a short or empty page (with hard stops against a server that never ends or
ignores `skip`), and a day whose pages shifted while it was read (one record seen twice) is
read again until one pass sees no shift (or, when the server reports a total, until the distinct
records read reach it). Records stream out in batches, one per page.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import orjson
import requests

from connectors.ziwo.records import CallRecord, Reject, parse_call
from connectors.ziwo.settings import ZiwoSettings
from ziwo_reports.http import HttpStats, Reply, send
from ziwo_reports.redaction import redact, register_secret

log = logging.getLogger(__name__)

ADMIN_PAGE_SIZE = 50  # as the admin UI pages [PY-ADM]


class ZiwoError(Exception):
    """A Ziwo request that failed for good. The message never holds a secret."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(redact(message))
        self.status = status


class ZiwoAuthError(ZiwoError):
    pass


class ZiwoPagingError(ZiwoError):
    pass


@dataclass
class PullStats:
    http: HttpStats = field(default_factory=HttpStats)
    pages: int = 0
    records: int = 0
    rejects: int = 0
    relogins: int = 0
    duplicates: int = 0  # records met twice within one pass: evidence that offsets shifted
    rereads: int = 0  # extra passes over a day because its offsets shifted

    @property
    def retries(self) -> int:
        return self.http.retries

    def summary(self) -> str:
        return (
            f"{self.records} records, {self.rejects} rejects, {self.pages} pages, "
            f"{self.retries} retries, {self.relogins} re-logins"
            + (f", {self.rereads} re-reads after shifted pages" if self.rereads else "")
        )


@dataclass
class CallBatch:
    """The new records and rejects of one page of one day."""

    day: date
    records: list[CallRecord]
    rejects: list[Reject]


@dataclass
class _PageSize:
    """The page size asked for. A short page ends a listing only once a full page has shown
    that the server honours it; until then a short page may be a server-side cap, so the next
    page is asked for too."""

    limit: int
    trusted: bool = False


def _envelope(response: requests.Response) -> dict[str, Any]:
    body = orjson.loads(response.content)
    if not isinstance(body, dict) or "result" not in body:
        raise ValueError("not a Ziwo envelope ({result, content, info})")
    return body


def _error_message(response: requests.Response) -> str:
    try:
        body = response.json()
        message = body.get("error", {}).get("message") or body.get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message or response.reason or "no message")


def _dedupe_key(raw: Any) -> str:
    if isinstance(raw, dict):
        call_id = raw.get("callID")
        if isinstance(call_id, str) and call_id:
            return call_id
    # A record without a usable callID is still a record: key it by its whole content.
    return "raw:" + json.dumps(raw, sort_keys=True, default=str)


def days(start: date, end: date) -> Iterator[date]:
    """Each date from `start` to `end`, both included."""
    if end < start:
        raise ValueError(f"end date {end} is before start date {start}")
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


class ZiwoClient:
    """A session with one Ziwo instance. Use as a context manager, or call `close()`."""

    def __init__(self, settings: ZiwoSettings, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.session = session or requests.Session()
        self.session.headers.setdefault("Accept", "application/json")
        self.stats = PullStats()
        self._token = settings.access_token
        self._call_page = _PageSize(settings.page_size)

    def __enter__(self) -> ZiwoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    # --- requests ---------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> Reply:
        headers = kwargs.pop("headers", {})
        if self._token:
            headers["access_token"] = self._token
        return send(
            self.session,
            method,
            self.settings.base_url + path,
            policy=self.settings.http,
            stats=self.stats.http,
            parse=_envelope,
            headers=headers,
            **kwargs,
        )

    def login(self) -> dict[str, Any]:
        """Log in with username and password; returns the user profile (without the token)."""
        s = self.settings
        if not s.can_login:
            raise ZiwoAuthError(
                f"cannot log in to {s.base_url}: no username and password "
                "(set ZIWO_USERNAME and ZIWO_PASSWORD, or give a fresh access token)"
            )
        self._token = None
        reply = self._send("POST", "/auth/login", json={"username": s.username, "password": s.password})
        content = reply.data.get("content") if reply.ok else None
        token = content.get("access_token") if isinstance(content, dict) else None
        if not reply.ok or not reply.data.get("result") or not token:
            raise ZiwoAuthError(
                f"login to {s.base_url} as {s.username!r} failed: HTTP {reply.status} {_error_message(reply.response)}",
                status=reply.status,
            )
        register_secret(token)
        self._token = token
        log.info("logged in to %s as %s", s.base_url, s.username)
        return {k: v for k, v in content.items() if k != "access_token"}

    def get(self, path: str, params: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """GET an API path; returns the envelope's (content, info). Re-logs in once on HTTP 403."""
        if not self._token:
            self.login()
        reply = self._send("GET", path, params=params)
        if reply.status == 403 and self.settings.can_login:
            log.info("access token rejected by %s (HTTP 403); logging in again", path)
            self.login()
            self.stats.relogins += 1
            reply = self._send("GET", path, params=params)
        if reply.status in (401, 403):
            hint = "a fresh login did not help" if self.settings.can_login else "set username and password"
            raise ZiwoAuthError(
                f"GET {path} refused: HTTP {reply.status} {_error_message(reply.response)} ({hint})",
                status=reply.status,
            )
        if not reply.ok:
            raise ZiwoError(
                f"GET {path} failed: HTTP {reply.status} {_error_message(reply.response)}",
                status=reply.status,
            )
        if reply.data.get("result") is not True:
            message = (reply.data.get("error") or {}).get("message", "result is false")
            raise ZiwoError(f"GET {path}: Ziwo answered with an error: {message}", status=reply.status)
        return reply.data.get("content"), reply.data.get("info") or {}

    # --- paging -----------------------------------------------------------------------------

    def _pages(self, path: str, params: dict[str, Any], size: _PageSize) -> Iterator[tuple[list[Any], dict[str, Any]]]:
        """Offset-page a list endpoint, yielding (content, info) of each non-empty page."""
        skip, pages, previous_ids, previous_size, probing = 0, 0, None, 0, False
        while True:
            if pages >= self.settings.max_pages:
                raise ZiwoPagingError(
                    f"GET {path}: stopped after {pages} pages (max_pages) at skip={skip}; "
                    "the server keeps returning full pages"
                )
            content, info = self.get(path, {**params, "skip": skip, "limit": size.limit})
            pages += 1
            self.stats.pages += 1
            if content is None:
                content = []
            if not isinstance(content, list):
                raise ZiwoError(f"GET {path}: content is {type(content).__name__}, expected a list")
            if not content:
                return
            if probing:
                # The short page was not the end: the server caps pages at its length.
                size.limit, size.trusted = previous_size, True
                log.info("%s caps pages at %d records; paging by that", path, previous_size)
            ids = [_dedupe_key(item) for item in content]
            if ids == previous_ids:
                raise ZiwoPagingError(
                    f"GET {path}: the page at skip={skip} repeats the previous page; the server seems to ignore 'skip'"
                )
            previous_ids, previous_size, probing = ids, len(content), False
            yield content, info
            skip += len(content)
            if len(content) >= size.limit:
                size.trusted = True
            elif size.trusted:
                return
            else:
                probing = True

    def _admin_list(self, path: str, **params: Any) -> list[dict[str, Any]]:
        pages = self._pages(path, params, _PageSize(ADMIN_PAGE_SIZE))
        return [item for content, _ in pages for item in content]

    def agents(self) -> list[dict[str, Any]]:
        """All agents, including those that left (they carry `deletedAt`)."""
        return self._admin_list("/admin/agents/")

    def queues(self) -> list[dict[str, Any]]:
        return self._admin_list("/admin/queues/")

    def numbers(self) -> list[dict[str, Any]]:
        return self._admin_list("/admin/numbers/")

    def iter_calls(
        self,
        start: date,
        end: date,
        *,
        known_agent_ids: Collection[int] | None = None,
        datasets: Collection[str] = ("tags",),
    ) -> Iterator[CallBatch]:
        """Stream call legs started on `start`..`end` (instance dates, both included), a batch per page.

        Each call comes out once, as a CallRecord or, when it fails a check, a Reject with its reason.
        Memory holds the ids of two days, however long the range.
        """
        previous_day_keys: set[str] = set()
        for day in days(start, end):
            day_keys: set[str] = set()
            params = {
                "fromDate": day.isoformat(),
                "toDate": day.isoformat(),
                "order": self.settings.order,
                "dataset": list(datasets),
            }
            for pass_number in range(1, self.settings.max_passes + 1):
                shifted = False
                reported_total = -1
                pass_keys: set[str] = set()
                for page, info in self._pages("/callHistory/", params, self._call_page):
                    if isinstance(info.get("totalRecords"), int):
                        reported_total = max(reported_total, info["totalRecords"])
                    batch = CallBatch(day, [], [])
                    for raw in page:
                        key = _dedupe_key(raw)
                        if key in pass_keys:
                            shifted = True
                            self.stats.duplicates += 1
                            continue
                        pass_keys.add(key)
                        if key in day_keys:
                            continue
                        day_keys.add(key)
                        if key in previous_day_keys:  # a server whose days overlap at midnight
                            continue
                        parsed = parse_call(raw, known_agent_ids=known_agent_ids, day=day)
                        if isinstance(parsed, Reject):
                            batch.rejects.append(parsed)
                        else:
                            batch.records.append(parsed)
                    self.stats.records += len(batch.records)
                    self.stats.rejects += len(batch.rejects)
                    if batch.records or batch.rejects:
                        yield batch
                # Complete when a pass saw no shift, or, after a shifted pass, when the distinct
                # records read across passes reach the count the server reports for the day.
                if not shifted or len(day_keys) >= reported_total >= 0:
                    break
                if pass_number == self.settings.max_passes:
                    raise ZiwoPagingError(
                        f"calls of {day}: pages kept shifting in all {pass_number} passes; "
                        "try again later or raise max_passes"
                    )
                self.stats.rereads += 1
                log.info("calls of %s: offsets shifted while paging; reading the day again", day)
            previous_day_keys = day_keys
