"""Ziwo REST client: login, the `access_token` header, paging and streaming of call records.

Reading call history is built to lose nothing, and to say so when it cannot: a date range is
pulled one day per request, and a day's listing ends only when it is verified. When the server
reports a total (`info.totalRecords`), the distinct records read must reach it; otherwise a short
page ends a day only once pages no larger than the limit asked for have proven the server's page
size, and a pass that met a record twice (offsets shifted under the client) is read again. A page
larger than the limit or holding a record twice never moves the offset past records not read and
never teaches a page size. A day that cannot be verified after `max_passes` is reported with its
counts; the range goes on, and the caller gets a ZiwoListingError at the end.
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

from ziwo_reports.connectors.ziwo.assumptions import COUNT_SUFFIX, TOTAL_RECORDS_KEY
from ziwo_reports.connectors.ziwo.records import CallRecord, Reject, parse_call
from ziwo_reports.connectors.ziwo.settings import ZiwoSettings
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


@dataclass(frozen=True)
class ListingCheck:
    """How one day's call listing was verified: the distinct records read over all passes, the
    server's own total when it gives one (the latest seen), and the passes it took."""

    day: date
    records: int
    server_total: int | None
    passes: int
    verified: bool
    problem: str = ""

    def describe(self) -> str:
        total = f"the server reports {self.server_total}" if self.server_total is not None else "no total given"
        return f"{self.day}: {self.records} records read, {total}, {self.passes} pass" + (
            "es" if self.passes != 1 else ""
        )


class ZiwoListingError(ZiwoPagingError):
    """Days whose listing could not be verified. The other days of the range were read."""

    def __init__(self, checks: list[ListingCheck]) -> None:
        self.checks = checks
        super().__init__("; ".join(check.problem for check in checks))


@dataclass
class PullStats:
    http: HttpStats = field(default_factory=HttpStats)
    pages: int = 0
    records: int = 0
    rejects: int = 0
    relogins: int = 0
    duplicates: int = 0  # records met again on a later page of the same pass: evidence that offsets shifted
    rereads: int = 0  # extra passes over a day that was not verified yet
    days_verified: int = 0
    days_unverified: int = 0

    @property
    def retries(self) -> int:
        return self.http.retries

    def summary(self) -> str:
        return (
            f"{self.records} records, {self.rejects} rejects, {self.pages} pages, "
            f"{self.retries} retries, {self.relogins} re-logins"
            + (f", {self.rereads} re-reads" if self.rereads else "")
            + f"; {self.days_verified} days verified"
            + (f", {self.days_unverified} NOT verified" if self.days_unverified else "")
        )


@dataclass
class CallBatch:
    """The new records and rejects of one page of one day; the last batch of a day carries how its
    listing was verified (`check`), and no records."""

    day: date
    records: list[CallRecord]
    rejects: list[Reject]
    check: ListingCheck | None = None


@dataclass
class _PageSize:
    """The page size asked for. A short page ends a listing only once the server has shown that
    it honours this size: a clean page of exactly this size, or a clean short page followed by more
    (the server caps pages at that length, which then becomes the size asked). Pages larger than
    asked or holding a record twice teach nothing."""

    limit: int
    trusted: bool = False


@dataclass
class _Page:
    """One page of a pass: its items met for the first time in this pass, and what it tells."""

    items: list[Any]
    keys: list[str]
    total: int | None  # the server's total for the whole listing, when given
    repeats: int  # records met on an earlier page of this pass: the list moved under the client


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
        self._whole_lists: set[str] = set()  # lists whose server ignores 'skip'

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

    def _pages(self, path: str, params: dict[str, Any], size: _PageSize, seen: set[str]) -> Iterator[_Page]:
        """Offset-page a list endpoint once (one pass), yielding each page's items not in `seen`
        (which it fills). Ends at an empty page; at a short page once the server's total is
        reached or, without a total, once the page size is proven; or when the server answers
        the same page whatever `skip` says (then the list is whole, unless the page is exactly
        the size asked, which cannot tell)."""
        skip, pages, previous_keys, awaiting_more = 0, 0, None, None
        while True:
            if pages >= self.settings.max_pages:
                raise ZiwoPagingError(
                    f"GET {path}: stopped after {pages} pages (max_pages) at skip={skip}; "
                    "the server keeps returning full pages"
                )
            asked = size.limit
            content, info = self.get(path, {**params, "skip": skip, "limit": asked})
            pages += 1
            self.stats.pages += 1
            if content is None:
                content = []
            if not isinstance(content, list):
                raise ZiwoError(f"GET {path}: content is {type(content).__name__}, expected a list")
            total = _total(info)
            if not content:
                if total is not None:  # an empty listing may still say what it holds
                    yield _Page([], [], total, 0)
                return
            keys = [_dedupe_key(item) for item in content]
            if keys == previous_keys:
                if len(content) == asked and (total is None or len(seen) < total):
                    raise ZiwoPagingError(
                        f"GET {path}: the page at skip={skip} repeats the previous one, {asked} items as asked; "
                        "the server seems to ignore 'skip', and whether the list is complete cannot be told"
                    )
                self._ignores_skip(path, len(seen))
                return
            previous_keys = keys
            distinct = list(dict.fromkeys(keys))
            clean = len(distinct) == len(keys) and len(keys) <= asked
            if awaiting_more is not None:  # the clean short page before was not the end: a server cap
                if awaiting_more < size.limit:
                    log.info("%s caps pages at %d records; paging by that", path, awaiting_more)
                size.limit, size.trusted, awaiting_more = min(awaiting_more, size.limit), True, None
            if clean and len(keys) == asked:
                size.trusted = True
            fresh: dict[str, Any] = {}
            for key, item in zip(keys, content, strict=True):
                if key not in seen and key not in fresh:
                    fresh[key] = item
            repeats = sum(1 for key in distinct if key in seen)
            seen.update(distinct)
            yield _Page(list(fresh.values()), list(fresh), total, repeats)
            # Each distinct record of the page stands for one offset (a record twice in a page is
            # a join on the server's side, not two records); never more than asked: the rest of
            # an oversized page may come again, and is then dropped as met.
            skip += min(len(distinct), asked)
            short = len(distinct) < size.limit  # what this server gives a page, as far as it has shown
            if short and clean and not size.trusted:
                awaiting_more = len(keys)
            if total is not None:
                if short and skip >= total:
                    return
            elif short and size.trusted:
                return

    def _ignores_skip(self, path: str, found: int) -> None:
        """Note a list whose server answered its whole list whatever `skip` said; log it once."""
        if path not in self._whole_lists:
            self._whole_lists.add(path)
            log.info("%s answers its whole list whatever 'skip' says (%d items); taken as complete", path, found)

    def _count(self, path: str) -> int | None:
        """The length a reference list's `/count` endpoint reports; None when there is none."""
        count_path = path.rstrip("/") + "/" + COUNT_SUFFIX
        try:
            content, _ = self.get(count_path)
        except ZiwoError as error:
            if error.status in (404, 405):
                return None
            raise
        if isinstance(content, dict):
            content = content.get("count", content.get("total"))
        if isinstance(content, bool) or not isinstance(content, int):
            raise ZiwoError(f"GET {count_path}: content is {content!r}, expected a count")
        return content

    def _admin_list(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """A whole reference list. When the server ignored `skip` (it answered the same page
        twice), the list is cross-checked with its `/count` endpoint where it has one."""
        seen: set[str] = set()
        items = [item for page in self._pages(path, params, _PageSize(ADMIN_PAGE_SIZE), seen) for item in page.items]
        if path in self._whole_lists:
            count = self._count(path)
            if count is not None and count > len(items):
                raise ZiwoPagingError(
                    f"GET {path}: the server ignores 'skip' and answered {len(items)} items, "
                    f"but {path.rstrip('/')}/{COUNT_SUFFIX} says {count}"
                )
        return items

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
        Each day ends with a batch that carries its ListingCheck. Days that could not be verified
        do not stop the range; a ZiwoListingError naming them is raised at its end. Memory holds
        the ids of two days, however long the range.
        """
        previous_day_keys: set[str] = set()
        unverified: list[ListingCheck] = []
        for day in days(start, end):
            day_keys: set[str] = set()
            check = yield from self._read_day(day, day_keys, previous_day_keys, known_agent_ids, datasets)
            if check.verified:
                self.stats.days_verified += 1
            else:
                self.stats.days_unverified += 1
                unverified.append(check)
                log.info("%s", check.problem)
            yield CallBatch(day, [], [], check=check)
            previous_day_keys = day_keys
        if unverified:
            raise ZiwoListingError(unverified)

    def _read_day(
        self,
        day: date,
        day_keys: set[str],
        previous_day_keys: set[str],
        known_agent_ids: Collection[int] | None,
        datasets: Collection[str],
    ) -> Iterator[CallBatch]:  # returns the day's ListingCheck
        """Read one day in passes until its listing is verified or `max_passes` are spent."""
        params = {
            "fromDate": day.isoformat(),
            "toDate": day.isoformat(),
            "order": self.settings.order,
            "dataset": list(datasets),
        }
        total: int | None = None
        max_passes = self.settings.max_passes
        for pass_number in range(1, max_passes + 1):
            shifted, pass_keys = False, set()
            pass_total: int | None = None
            try:
                for page in self._pages("/callHistory/", params, self._call_page, pass_keys):
                    if page.total is not None:
                        pass_total = page.total
                    if page.repeats:
                        shifted = True
                        self.stats.duplicates += page.repeats
                    batch = CallBatch(day, [], [])
                    for key, raw in zip(page.keys, page.items, strict=True):
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
            except ZiwoPagingError as error:
                total = pass_total if pass_total is not None else total
                return ListingCheck(day, len(day_keys), total, pass_number, False, f"calls of {day}: {error}")
            total = pass_total if pass_total is not None else total
            # With a total, the distinct records read over all passes must reach it; without
            # one, a pass that met no record twice saw a list that held still.
            verified = len(day_keys) >= total if total is not None else not shifted
            if verified:
                return ListingCheck(day, len(day_keys), total, pass_number, True)
            if pass_number < max_passes:
                self.stats.rereads += 1
                why = (
                    f"{len(day_keys)} of the {total} records the server reports read"
                    if total is not None
                    else "offsets shifted while paging"
                )
                log.info("calls of %s: %s; reading the day again", day, why)
        if total is not None:
            problem = (
                f"calls of {day} not verified after {max_passes} passes: {len(day_keys)} distinct records read, "
                f"the server reports {total}"
            )
        else:
            problem = (
                f"calls of {day} not verified after {max_passes} passes: pages kept shifting "
                f"({len(day_keys)} distinct records read, no total given)"
            )
        return ListingCheck(day, len(day_keys), total, max_passes, False, problem)


def _total(info: dict[str, Any]) -> int | None:
    value = info.get(TOTAL_RECORDS_KEY) if isinstance(info, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
