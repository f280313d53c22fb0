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
from ziwo_reports.http import (
    ApiClient,
    AuthError,
    HttpStats,
    LoginTokenAuth,
    OffsetPaginator,
    PageSize,
    error_message,
    key_by,
)
from ziwo_reports.redaction import redact

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
    duplicates: int = 0  # records met again on a later page of the same pass: evidence that offsets shifted
    rereads: int = 0  # extra passes over a day that was not verified yet
    days_verified: int = 0
    days_unverified: int = 0

    @property
    def retries(self) -> int:
        return self.http.retries

    @property
    def relogins(self) -> int:
        return self.http.reauths

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


def _envelope(response: requests.Response) -> dict[str, Any]:
    body = orjson.loads(response.content)
    if not isinstance(body, dict) or "result" not in body:
        raise ValueError("not a Ziwo envelope ({result, content, info})")
    return body


#: Ziwo's records are call legs, one per `callID`; a record without a usable callID is still a
#: record, keyed by its whole content.
_dedupe_key = key_by("callID")


def days(start: date, end: date) -> Iterator[date]:
    """Each date from `start` to `end`, both included."""
    if end < start:
        raise ValueError(f"end date {end} is before start date {start}")
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


class ZiwoClient:
    """A session with one Ziwo instance. Use as a context manager, or call `close()`.

    Built on the HTTP toolkit: an `ApiClient` under the settings' policy, a `LoginTokenAuth` that
    logs in with `POST /auth/login` and sends the token as the `access_token` header (a 403 means
    it expired: one fresh login, then an error), and the toolkit's `OffsetPaginator` for lists."""

    def __init__(self, settings: ZiwoSettings, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.session = session or requests.Session()
        self.session.headers.setdefault("Accept", "application/json")
        self.stats = PullStats()
        self._auth = LoginTokenAuth(
            self._log_in if settings.can_login else None,
            header="access_token",
            token=settings.access_token,
            secrets=(settings.password,),
            expired=(403,),  # Ziwo's answer to an expired token
            refused=(401, 403),
            cannot_renew_hint="set username and password",
        )
        self._api = ApiClient(
            settings.base_url,
            policy=settings.http,
            auth=self._auth,
            parse=_envelope,
            session=self.session,
            stats=self.stats.http,
        )
        self._profile: dict[str, Any] = {}
        self._call_page = PageSize(settings.page_size)
        self._whole_lists: set[str] = set()  # lists whose server ignores 'skip'

    def __enter__(self) -> ZiwoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    @property
    def _token(self) -> str | None:
        return self._auth.token

    # --- requests ---------------------------------------------------------------------------

    def _log_in(self) -> str:
        """`POST /auth/login`: the token, for the auth; the rest of the profile is kept for `login`."""
        s = self.settings
        reply = self._api.request(
            "POST", "/auth/login", json={"username": s.username, "password": s.password}, authenticate=False
        )
        content = reply.data.get("content") if reply.ok else None
        token = content.get("access_token") if isinstance(content, dict) else None
        if not reply.ok or not reply.data.get("result") or not token or not isinstance(token, str):
            raise ZiwoAuthError(
                f"login to {s.base_url} as {s.username!r} failed: HTTP {reply.status} {error_message(reply.response)}",
                status=reply.status,
            )
        assert isinstance(content, dict)
        self._profile = {k: v for k, v in content.items() if k != "access_token"}
        log.info("logged in to %s as %s", s.base_url, s.username)
        return token

    def login(self) -> dict[str, Any]:
        """Log in with username and password; returns the user profile (without the token)."""
        s = self.settings
        if not s.can_login:
            raise ZiwoAuthError(
                f"cannot log in to {s.base_url}: no username and password "
                "(set ZIWO_USERNAME and ZIWO_PASSWORD, or give a fresh access token)"
            )
        self._auth.log_in()
        return self._profile

    def get(self, path: str, params: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """GET an API path; returns the envelope's (content, info). Re-logs in once on HTTP 403."""
        try:
            reply = self._api.request("GET", path, params=params)
        except AuthError as error:
            raise ZiwoAuthError(str(error), status=error.status) from None
        if not reply.ok:
            raise ZiwoError(
                f"GET {path} failed: HTTP {reply.status} {error_message(reply.response)}",
                status=reply.status,
            )
        if reply.data.get("result") is not True:
            message = (reply.data.get("error") or {}).get("message", "result is false")
            raise ZiwoError(f"GET {path}: Ziwo answered with an error: {message}", status=reply.status)
        return reply.data.get("content"), reply.data.get("info") or {}

    # --- paging -----------------------------------------------------------------------------

    def _paginator(self, path: str, params: dict[str, Any], size: PageSize, seen: set[str]) -> OffsetPaginator:
        """One pass over a list endpoint, `skip` and `limit` paged by the toolkit's rules."""

        def fetch(paging: dict[str, int]) -> tuple[list[Any] | None, int | None]:
            content, info = self.get(path, {**params, **paging})
            self.stats.pages += 1
            if content is not None and not isinstance(content, list):
                raise ZiwoError(f"GET {path}: content is {type(content).__name__}, expected a list")
            return content, _total(info)

        return OffsetPaginator(
            fetch,
            size=size,
            what=f"GET {path}",
            key=_dedupe_key,
            max_pages=self.settings.max_pages,
            offset_param="skip",
            limit_param="limit",
            error=ZiwoPagingError,
            seen=seen,
        )

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
        pages = self._paginator(path, params, PageSize(ADMIN_PAGE_SIZE), set())
        items = [item for page in pages for item in page.items]
        if pages.whole_list:
            self._ignores_skip(path, len(pages.seen))
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
            pages = self._paginator("/callHistory/", params, self._call_page, pass_keys)
            try:
                for page in pages:
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
            if pages.whole_list:
                self._ignores_skip("/callHistory/", len(pass_keys))
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
