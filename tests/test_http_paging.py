"""The toolkit's paginators against real loopback servers that page the way servers in the field
do: capped pages, a record twice on a page, pages larger than asked, no totals, an offset ignored,
lists that never end; cursors in the body, a header or a Link, and cursors that run in a loop."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import Exchange, http_receiver
from ziwo_reports.http import (
    ApiClient,
    ApiKeyAuth,
    CrossOriginRefused,
    CursorPaginator,
    HttpPolicy,
    OffsetPaginator,
    PageSize,
    PagingError,
    cursor_in_body,
    cursor_in_header,
    cursor_pages,
    items_at,
    key_by,
    next_link,
)

POLICY = HttpPolicy(connect_timeout=2, read_timeout=5, attempts=3, backoff_base=0.001, backoff_max=0.01, deadline=5)


def answer(body: object, **headers: str) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "application/json", **headers}, json.dumps(body).encode()


# --- offsets --------------------------------------------------------------------------------------


@dataclass
class OffsetServer:
    """`GET /items?offset=&limit=` over `records`, with the quirks asked for."""

    records: list[dict]
    cap: int | None = None  # the server's own page limit
    totals: bool = True
    twice: bool = False  # each page holds its second record twice
    oversize: int = 0  # each page holds this many records more than asked
    ignores_offset: bool = False
    asked: list[tuple[int, int]] = field(default_factory=list)

    def respond(self, exchange: Exchange) -> tuple[int, dict[str, str], bytes]:
        query = parse_qs(urlsplit(exchange.path).query)
        offset, limit = int(query["offset"][0]), int(query["limit"][0])
        self.asked.append((offset, limit))
        if self.ignores_offset:
            offset = 0
        size = min(limit, self.cap or limit) + self.oversize
        page = self.records[offset : offset + size]
        if self.twice and len(page) > 1:
            page = [page[0], page[1], *page[1:]]
        return answer({"data": page, **({"total": len(self.records)} if self.totals else {})})


def records(n: int) -> list[dict]:
    return [{"id": f"r{i:03}"} for i in range(n)]


def list_all(server: OffsetServer, size: PageSize, **options) -> tuple[list[dict], OffsetPaginator, list]:
    with http_receiver(server.respond) as rx, ApiClient(rx.base_url, policy=POLICY) as client:

        def fetch(paging: dict[str, int]):
            data = client.request("GET", "/items", params=paging).response.json()
            return data["data"], data.get("total")

        options.setdefault("key", key_by("id"))
        paginator = OffsetPaginator(fetch, size=size, what="GET /items", **options)
        pages = list(paginator)
    return [item for page in pages for item in page.items], paginator, pages


def test_offset_pages_end_at_the_servers_total_and_report_it():
    server = OffsetServer(records(23))
    items, paginator, pages = list_all(server, PageSize(5))
    assert items == server.records
    assert server.asked == [(0, 5), (5, 5), (10, 5), (15, 5), (20, 5)]  # the short last page ends it: total reached
    assert [p.total for p in pages] == [23] * 5 and [p.offset for p in pages] == [0, 5, 10, 15, 20]
    assert paginator.pages == 5 and not paginator.whole_list


def test_without_a_total_a_short_page_ends_only_once_the_page_size_is_proven():
    # Never proven (the first page is short already): the client asks again and an empty page ends it.
    server = OffsetServer(records(3), totals=False)
    items, _, _ = list_all(server, PageSize(5))
    assert items == server.records and server.asked == [(0, 5), (3, 5)]

    # Proven by a full page: the short page after it ends the list, with no look-ahead request.
    size = PageSize(5)
    server = OffsetServer(records(8), totals=False)
    items, _, _ = list_all(server, size)
    assert items == server.records and server.asked == [(0, 5), (5, 5)] and size.trusted

    # And what one pass learned holds for the next, on the same PageSize.
    server = OffsetServer(records(2), totals=False)
    list_all(server, size)
    assert server.asked == [(0, 5)]


@pytest.mark.parametrize("totals", [True, False])
def test_a_server_cap_is_learned_from_clean_pages_and_asked_from_then_on(totals):
    size = PageSize(10)
    server = OffsetServer(records(19), cap=4, totals=totals)
    items, _, pages = list_all(server, size)
    assert items == server.records  # short pages do not end the list before the total, or a proven size
    assert (size.limit, size.trusted) == (4, True)
    assert server.asked == [(0, 10), (4, 10), (8, 4), (12, 4), (16, 4)]  # 16..19 is short with a proven size
    assert [p.total for p in pages] == [19 if totals else None] * 5


def test_pages_larger_than_asked_move_the_offset_by_the_limit_and_teach_nothing():
    size = PageSize(5)
    server = OffsetServer(records(17), totals=False, oversize=1)
    items, _, pages = list_all(server, size)
    assert items == server.records  # each record once: the extra one comes again and is dropped as met
    assert [offset for offset, _ in server.asked] == [0, 5, 10, 15, 17]
    assert not size.trusted and size.limit == 5
    assert sum(p.repeats for p in pages) == 3  # reported: the caller may read the list again


def test_a_record_twice_on_a_page_counts_once_and_teaches_nothing():
    size = PageSize(5)
    server = OffsetServer(records(12), cap=4, totals=False, twice=True)  # pages of 5 rows, 4 distinct
    items, _, pages = list_all(server, size)
    assert items == server.records
    assert [offset for offset, _ in server.asked] == [0, 4, 8, 12]  # by distinct records
    assert not size.trusted and size.limit == 5  # a page with a record twice is no evidence of a cap
    assert all(len(p.keys) == len(set(p.keys)) for p in pages)


def test_a_server_that_ignores_the_offset_has_answered_its_whole_list_unless_the_page_is_full():
    server = OffsetServer(records(7), ignores_offset=True, totals=False)
    items, paginator, _ = list_all(server, PageSize(10))
    assert items == server.records and paginator.whole_list and server.asked == [(0, 10), (7, 10)]

    server = OffsetServer(records(10), ignores_offset=True, totals=False)
    with pytest.raises(PagingError) as caught:
        list_all(server, PageSize(10))
    assert str(caught.value) == (
        "GET /items: the page at offset=10 repeats the previous one, 10 items as asked; "
        "the server seems to ignore 'offset', and whether the list is complete cannot be told"
    )


def test_a_list_that_never_ends_is_stopped_at_max_pages_with_the_connectors_error():
    class ListingFailed(Exception):
        pass

    server = OffsetServer(records(100))
    with pytest.raises(ListingFailed) as caught:
        list_all(server, PageSize(5), max_pages=3, error=ListingFailed)
    assert str(caught.value) == (
        "GET /items: stopped after 3 pages (max_pages) at offset=15; the server keeps returning full pages"
    )
    assert len(server.asked) == 3


def test_offset_and_limit_parameters_have_the_apis_names_and_the_pages_must_be_lists():
    def respond(exchange: Exchange):
        query = parse_qs(urlsplit(exchange.path).query)
        if "skip" not in query or "top" not in query:
            return answer({"data": "wrong parameters"})
        return answer({"data": []})

    with http_receiver(respond) as rx, ApiClient(rx.base_url, policy=POLICY) as client:

        def fetch(paging: dict[str, int]):
            return client.request("GET", "/items", params=paging).response.json()["data"], None

        named = OffsetPaginator(fetch, size=PageSize(5), what="GET /items", offset_param="skip", limit_param="top")
        assert list(named) == []
        with pytest.raises(PagingError, match=r"^GET /items: the page at offset=0 is a str, not a list$"):
            list(OffsetPaginator(fetch, size=PageSize(5), what="GET /items"))


# --- cursors --------------------------------------------------------------------------------------

ITEMS = [{"id": i} for i in range(7)]


def body_cursor_server(exchange: Exchange) -> tuple[int, dict[str, str], bytes]:
    """Pages of 3, the next cursor in `paging.next.after` (HubSpot's shape)."""
    after = int(parse_qs(urlsplit(exchange.path).query).get("after", ["0"])[0])
    page = ITEMS[after : after + 3]
    more = after + 3 < len(ITEMS)
    return answer({"results": page, **({"paging": {"next": {"after": str(after + 3)}}} if more else {})})


def test_a_cursor_in_the_body_is_sent_back_as_a_parameter_until_there_is_none():
    with http_receiver(body_cursor_server) as rx, ApiClient(rx.base_url, policy=POLICY) as client:
        listing = cursor_pages(
            client,
            "/objects",
            params={"limit": 3},
            cursor_param="after",
            next_cursor=cursor_in_body("paging.next.after"),
            items=items_at("results"),
        )
        pages = list(listing)
    assert [item for page in pages for item in page.items] == ITEMS
    assert [(p.cursor, p.next) for p in pages] == [(None, "3"), ("3", "6"), ("6", None)]
    assert [r.path for r in rx.requests] == ["/objects?limit=3", "/objects?limit=3&after=3", "/objects?limit=3&after=6"]


def test_a_cursor_in_a_header():
    def respond(exchange: Exchange):
        at = int(parse_qs(urlsplit(exchange.path).query).get("cursor", ["0"])[0])
        headers = {"X-Next-Cursor": str(at + 4)} if at + 4 < len(ITEMS) else {}
        return answer(ITEMS[at : at + 4], **headers)

    with http_receiver(respond) as rx, ApiClient(rx.base_url, policy=POLICY) as client:
        header = cursor_in_header("X-Next-Cursor")
        pages = list(cursor_pages(client, "/items", cursor_param="cursor", next_cursor=header, items=items_at("")))
    assert [item for page in pages for item in page.items] == ITEMS and len(rx.requests) == 2


def test_next_links_are_followed_on_the_same_origin_with_the_credentials_each_time():
    key = "link-api-key-secret-5"

    def respond(exchange: Exchange):
        url = urlsplit(exchange.path)
        query = parse_qs(url.query)
        if query.get("key") != [key]:
            return 401, {}, b"{}"
        page = int(query.get("page", ["1"])[0])
        links = {1: '</v1/items?page=2>; rel="next"', 2: f'<{base["url"]}/v1/items?page=3>; rel="next"', 3: None}
        link = links[page]
        return answer(ITEMS[(page - 1) * 3 : page * 3], **({"Link": link} if link else {}))

    base: dict[str, str] = {}
    with http_receiver(respond) as rx:
        base["url"] = rx.base_url
        auth = ApiKeyAuth(key, name="key", location="query")
        with ApiClient(rx.base_url + "/v1", policy=POLICY, auth=auth) as client:
            pages = list(cursor_pages(client, "/items", next_cursor=next_link(), items=items_at("")))
    assert [item for page in pages for item in page.items] == ITEMS
    assert [urlsplit(r.path).path for r in rx.requests] == ["/v1/items"] * 3


def test_a_next_link_to_another_host_is_refused_before_it_is_sent():
    with http_receiver(lambda e: answer([{"id": "stolen"}])) as other:

        def respond(exchange: Exchange):
            return answer(ITEMS[:2], Link=f'<{other.base_url}/items?page=2>; rel="next"')

        with http_receiver(respond) as rx, ApiClient(rx.base_url, policy=POLICY, auth=ApiKeyAuth("k-secret-99")) as c:
            pages = cursor_pages(c, "/items", next_cursor=next_link(), items=items_at(""))
            with pytest.raises(CrossOriginRefused, match="credentials are never sent to another host"):
                list(pages)
        assert other.requests == []


def test_a_cursor_met_again_or_too_many_pages_is_a_clear_error():
    def looping(exchange: Exchange):  # A -> B -> A -> ...
        cursor = parse_qs(urlsplit(exchange.path).query).get("c", [""])[0]
        return answer({"items": [cursor], "next": "B" if cursor == "A" else "A"})

    with http_receiver(looping) as rx, ApiClient(rx.base_url, policy=POLICY) as client:
        pages = cursor_pages(
            client, "/items", cursor_param="c", next_cursor=cursor_in_body("next"), items=items_at("items"), max_pages=9
        )
        with pytest.raises(PagingError) as caught:
            list(pages)
        assert str(caught.value) == (
            "GET /items: page 3 names a next page already read ('A'); stopped, the server's cursors run in a loop"
        )
        assert len(rx.requests) == 3

    def endless(exchange: Exchange):
        cursor = int(parse_qs(urlsplit(exchange.path).query).get("c", ["0"])[0])
        return answer({"items": [cursor], "next": cursor + 1})

    with http_receiver(endless) as rx, ApiClient(rx.base_url, policy=POLICY) as client:
        pages = cursor_pages(
            client, "/items", cursor_param="c", next_cursor=cursor_in_body("next"), items=items_at("items"), max_pages=4
        )
        with pytest.raises(PagingError, match=r"^GET /items: stopped after 4 pages \(max_pages\)"):
            list(pages)
        assert len(rx.requests) == 4


def test_a_cursor_page_that_is_not_a_list_is_an_error():
    with (
        http_receiver(lambda e: answer({"items": {"not": "a list"}})) as rx,
        ApiClient(rx.base_url, policy=POLICY) as c,
    ):

        def fetch(cursor):
            return c.request("GET", "/items")

        paginator = CursorPaginator(
            fetch, next_cursor=cursor_in_body("next"), items=items_at("items"), what="GET /items"
        )
        with pytest.raises(PagingError, match=r"^GET /items: page 1: records at 'items' are a dict, not a list$"):
            list(paginator)
