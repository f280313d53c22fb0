"""Paging that loses nothing silently: offset pages and cursor pages, with guards against servers
that cap pages, repeat records, ignore the offset or never stop.

`OffsetPaginator` makes one pass over a `?offset=&limit=` list. Its rules, learned from a server
in the field (the Ziwo client's, moved here):

- a record met twice on a page (a join on the server's side) counts once, and a page larger than
  the limit moves the offset by the limit at most: the rest may come again and is dropped as met;
- such pages never teach a page size; a clean page of exactly the limit proves the server honours
  it, and a clean short page followed by more shows a server-side cap, asked from then on;
- a short page ends the list only when the server's total is reached or, without a total, once
  the page size is proven; an empty page ends it always;
- a page that repeats the previous one means the server ignores the offset: the list was whole,
  unless the page is exactly the limit asked (then nobody can tell, and it is an error);
- more than `max_pages` pages is an error.

Each page reports the server's total and how many of its records were met earlier in the pass
(the list moved under the client); the caller decides what a moved list means (read it again).

`CursorPaginator` follows the next page's cursor (from the body, a header or a `Link: rel="next"`)
until there is none; a cursor met twice in one listing, or more than `max_pages`, is an error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from ziwo_reports.http.errors import PagingError
from ziwo_reports.http.policy import Reply

if TYPE_CHECKING:
    from ziwo_reports.http.client import ApiClient

log = logging.getLogger(__name__)

#: Makes the error of a failed listing from its message (a connector's own class, or PagingError).
ErrorFactory = Callable[[str], Exception]


def record_key(record: Any) -> str:
    """A record's whole content, as a key: two records are the same only when all of them is."""
    return "raw:" + json.dumps(record, sort_keys=True, default=str)


def key_by(field: str) -> Callable[[Any], str]:
    """Key records by `field` (a non-empty string or a number); a record without it by its content."""

    def key(record: Any) -> str:
        value = record.get(field) if isinstance(record, dict) else None
        if (isinstance(value, str) and value) or (isinstance(value, int) and not isinstance(value, bool)):
            return f"{field}:{value}"
        return record_key(record)

    return key


# --- offsets --------------------------------------------------------------------------------------


@dataclass
class PageSize:
    """The page size asked for. A short page ends a listing only once the server has shown that
    it honours this size: a clean page of exactly this size, or a clean short page followed by more
    (the server caps pages at that length, which then becomes the size asked). Pages larger than
    asked or holding a record twice teach nothing. Share one between passes over the same kind of
    list, so what one pass learned holds for the next."""

    limit: int
    trusted: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1:
            raise ValueError(f"page size must be a whole number of at least 1, got {self.limit!r}")


@dataclass
class OffsetPage:
    """One page of a pass: its records met for the first time in this pass, and what it tells."""

    items: list[Any]
    keys: list[str]
    total: int | None  # the server's total for the whole listing, when given
    repeats: int  # records met on an earlier page of this pass: the list moved under the client
    offset: int  # the offset this page was asked at


#: Fetches one page: given the paging parameters ({offset_param: n, limit_param: m}), returns the
#: page's records (a list, or None for none) and the server's total for the listing (None if not given).
OffsetFetch = Callable[[dict[str, int]], tuple[Any, int | None]]


class OffsetPaginator:
    """One pass over an offset-paged list. Iterate it for its pages; `seen` holds the keys of
    every record met (pass the same set to go on from an earlier page), `whole_list` tells after
    the pass whether the server answered its whole list whatever the offset said, `pages` how
    many pages were asked for. `what` names the list in errors ("GET /agents")."""

    def __init__(
        self,
        fetch: OffsetFetch,
        *,
        size: PageSize,
        what: str,
        key: Callable[[Any], str] = record_key,
        max_pages: int = 10_000,
        offset_param: str = "offset",
        limit_param: str = "limit",
        error: ErrorFactory = PagingError,
        seen: set[str] | None = None,
    ) -> None:
        if max_pages < 1:
            raise ValueError(f"max_pages must be at least 1, got {max_pages!r}")
        self.fetch = fetch
        self.size = size
        self.what = what
        self.key = key
        self.max_pages = max_pages
        self.offset_param = offset_param
        self.limit_param = limit_param
        self.error = error
        self.seen: set[str] = seen if seen is not None else set()
        self.whole_list = False
        self.pages = 0

    def __iter__(self) -> Iterator[OffsetPage]:
        size, seen, param = self.size, self.seen, self.offset_param
        skip, previous_keys, awaiting_more = 0, None, None
        while True:
            if self.pages >= self.max_pages:
                raise self.error(
                    f"{self.what}: stopped after {self.pages} pages (max_pages) at {param}={skip}; "
                    "the server keeps returning full pages"
                )
            asked = size.limit
            content, total = self.fetch({param: skip, self.limit_param: asked})
            self.pages += 1
            if content is None:
                content = []
            if not isinstance(content, list):
                raise self.error(f"{self.what}: the page at {param}={skip} is a {type(content).__name__}, not a list")
            if not content:
                if total is not None:  # an empty listing may still say what it holds
                    yield OffsetPage([], [], total, 0, skip)
                return
            keys = [self.key(item) for item in content]
            if keys == previous_keys:
                if len(content) == asked and (total is None or len(seen) < total):
                    raise self.error(
                        f"{self.what}: the page at {param}={skip} repeats the previous one, {asked} items as asked; "
                        f"the server seems to ignore '{param}', and whether the list is complete cannot be told"
                    )
                self.whole_list = True
                return
            previous_keys = keys
            distinct = list(dict.fromkeys(keys))
            clean = len(distinct) == len(keys) and len(keys) <= asked
            if awaiting_more is not None:  # the clean short page before was not the end: a server cap
                if awaiting_more < size.limit:
                    log.info("%s caps pages at %d records; paging by that", self.what, awaiting_more)
                size.limit, size.trusted, awaiting_more = min(awaiting_more, size.limit), True, None
            if clean and len(keys) == asked:
                size.trusted = True
            fresh: dict[str, Any] = {}
            for key, item in zip(keys, content, strict=True):
                if key not in seen and key not in fresh:
                    fresh[key] = item
            repeats = sum(1 for key in distinct if key in seen)
            seen.update(distinct)
            yield OffsetPage(list(fresh.values()), list(fresh), total, repeats, skip)
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


# --- cursors --------------------------------------------------------------------------------------


@dataclass
class CursorPage:
    items: list[Any]
    cursor: str | None  # the cursor this page was asked with; None for the first page
    next: str | None  # the next page's cursor; None on the last page


def _at(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def items_at(path: str) -> Callable[[Reply], list[Any]]:
    """A page's records at a dotted path of the parsed JSON body ("" for the body itself)."""

    def items(reply: Reply) -> list[Any]:
        body = reply.data if reply.data is not None else reply.response.json()
        found = _at(body, path) if path else body
        if found is None:
            return []
        if not isinstance(found, list):
            raise ValueError(f"records at {path or 'the body'!r} are a {type(found).__name__}, not a list")
        return found

    return items


def cursor_in_body(path: str) -> Callable[[Reply], str | None]:
    """The next cursor at a dotted path of the JSON body ("paging.next.after", "nextRecordsUrl")."""

    def cursor(reply: Reply) -> str | None:
        body = reply.data if reply.data is not None else reply.response.json()
        value = _at(body, path)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValueError(f"the cursor at {path!r} is a {type(value).__name__}, not a string")
        return str(value)

    return cursor


def cursor_in_header(name: str) -> Callable[[Reply], str | None]:
    """The next cursor in a response header (empty or absent: the last page)."""

    def cursor(reply: Reply) -> str | None:
        return reply.response.headers.get(name) or None

    return cursor


def next_link(rel: str = "next") -> Callable[[Reply], str | None]:
    """The URL of `Link: <...>; rel="next"`, made absolute against the page it came with."""

    def cursor(reply: Reply) -> str | None:
        url = reply.response.links.get(rel, {}).get("url")
        return urljoin(reply.response.url, url) if url else None

    return cursor


#: Fetches one page: given the cursor (None for the first page), returns its reply.
CursorFetch = Callable[[str | None], Reply]


class CursorPaginator:
    """One listing whose pages each name the next. Iterate it for its pages."""

    def __init__(
        self,
        fetch: CursorFetch,
        *,
        next_cursor: Callable[[Reply], str | None],
        items: Callable[[Reply], list[Any]],
        what: str,
        max_pages: int = 10_000,
        error: ErrorFactory = PagingError,
    ) -> None:
        if max_pages < 1:
            raise ValueError(f"max_pages must be at least 1, got {max_pages!r}")
        self.fetch = fetch
        self.next_cursor = next_cursor
        self.items = items
        self.what = what
        self.max_pages = max_pages
        self.error = error
        self.pages = 0

    def __iter__(self) -> Iterator[CursorPage]:
        cursor: str | None = None
        used: set[str] = set()
        while True:
            if self.pages >= self.max_pages:
                raise self.error(
                    f"{self.what}: stopped after {self.pages} pages (max_pages); the server keeps naming a next page"
                )
            reply = self.fetch(cursor)
            self.pages += 1
            if cursor is not None:
                used.add(cursor)
            try:
                items, following = self.items(reply), self.next_cursor(reply)
            except ValueError as problem:
                raise self.error(f"{self.what}: page {self.pages}: {problem}") from None
            yield CursorPage(items, cursor, following)
            if following is None:
                return
            if following in used:
                raise self.error(
                    f"{self.what}: page {self.pages} names a next page already read ({following!r}); "
                    "stopped, the server's cursors run in a loop"
                )
            cursor = following


def cursor_pages(
    client: ApiClient,
    path: str,
    *,
    next_cursor: Callable[[Reply], str | None],
    items: Callable[[Reply], list[Any]],
    params: dict[str, Any] | None = None,
    cursor_param: str | None = None,
    max_pages: int = 10_000,
    error: ErrorFactory = PagingError,
) -> CursorPaginator:
    """GET `path` and its next pages through `client`. With `cursor_param`, the cursor is sent as
    that query parameter beside `params`; without, it is the next page's URL (a link), fetched as
    it is: only on the client's origin, like every request of the client."""

    def fetch(cursor: str | None) -> Reply:
        if cursor is None:
            return client.request("GET", path, params=params)
        if cursor_param is not None:
            return client.request("GET", path, params={**(params or {}), cursor_param: cursor})
        return client.request("GET", urljoin(client.url(path), cursor))

    return CursorPaginator(
        fetch, next_cursor=next_cursor, items=items, what=f"GET {path}", max_pages=max_pages, error=error
    )
