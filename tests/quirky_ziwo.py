"""A Ziwo-like server with the quirks of one met in the field, written apart from the simulator's
paging so that the client is checked against paging logic it was not built alongside.

Its records are the simulator's (real-looking call legs, agents and queues); how it pages them is
its own: a server-side page cap, some pages holding one record twice (a join on tags),
`info.totalRecords` that can be missing or overstated, and reference lists that answer the whole
list whatever `skip` says.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import parse_qs, urlsplit

from tests.conftest import NOW, Exchange, http_receiver
from ziwo_reports.connectors.ziwo.simulator import SimConfig, Simulator

USERNAME, PASSWORD, TOKEN = "bi@quirky.test", "quirky-password-7", "quirky-token-0001"


@dataclass
class Quirks:
    page_cap: int = 100
    twice_on_page: int = 3  # every 3rd page (the first included) holds one record twice; 0: never
    totals: bool = True
    overstated: dict[date, int] = field(default_factory=dict)  # a day's totalRecords says this many more
    reference_ignores_skip: bool = True
    count_endpoints: bool = True
    agents_count_bonus: int = 0  # /admin/agents/count says this many more than the list


@dataclass
class QuirkyZiwo:
    base_url: str
    calls: dict[date, list[dict]]
    agents: list[dict]
    quirks: Quirks
    requests: list[Exchange]

    @property
    def call_ids(self) -> set[str]:
        return {record["callID"] for records in self.calls.values() for record in records}

    def env(self) -> dict[str, str]:
        return {"ZIWO_BASE_URL": self.base_url, "ZIWO_USERNAME": USERNAME, "ZIWO_PASSWORD": PASSWORD}


def _envelope(content, info=None) -> tuple[int, dict[str, str], bytes]:
    body = {"result": True, "content": content, "info": info or {}}
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


@contextmanager
def quirky_ziwo(
    quirks: Quirks | None = None, *, days: int = 4, calls_per_day: int = 350, agents: int = 25
) -> Iterator[QuirkyZiwo]:
    quirks = quirks or Quirks()
    source = Simulator(SimConfig(now=NOW, days=days, calls_per_day=calls_per_day, agents=agents, seed=7))
    calls = {day: [leg.record() for leg in source.store.day(day)] for day in source.store.window_days(None, None)}
    agent_list = [source._agent_json(agent) for agent in source.world.agents]
    queues = source._queues()

    def reference(items: list[dict], query: dict) -> tuple[int, dict[str, str], bytes]:
        if quirks.reference_ignores_skip:
            return _envelope(items)
        skip, limit = int(query.get("skip", ["0"])[0]), int(query.get("limit", ["50"])[0])
        return _envelope(items[skip : skip + limit])

    def call_history(query: dict) -> tuple[int, dict[str, str], bytes]:
        day = date.fromisoformat(query["fromDate"][0])
        records = calls.get(day, [])
        skip, limit = int(query["skip"][0]), min(int(query["limit"][0]), quirks.page_cap)
        page = records[skip : skip + limit]
        if page and quirks.twice_on_page and (skip // quirks.page_cap) % quirks.twice_on_page == 0:
            page = [*page[:2], page[1], *page[2:]]
        info = {"totalRecords": len(records) + quirks.overstated.get(day, 0)} if quirks.totals else {}
        return _envelope(page, info)

    def respond(exchange: Exchange) -> tuple[int, dict[str, str], bytes]:
        url = urlsplit(exchange.path)
        path, query = url.path.rstrip("/"), parse_qs(url.query)
        if path == "/auth/login":
            form = json.loads(exchange.body or b"{}")
            if (form.get("username"), form.get("password")) != (USERNAME, PASSWORD):
                return 401, {}, b'{"result": false, "error": {"message": "Invalid username or password"}}'
            return _envelope({"access_token": TOKEN, "username": USERNAME})
        if exchange.headers.get("access_token") != TOKEN:
            return 403, {}, b'{"result": false, "error": {"message": "Your token has expired"}}'
        if path == "/callHistory":
            return call_history(query)
        if path == "/admin/agents":
            return reference(agent_list, query)
        if path == "/admin/queues":
            return reference(queues, query)
        if path == "/admin/numbers":
            return reference([], query)
        if quirks.count_endpoints and path == "/admin/agents/count":
            return _envelope(len(agent_list) + quirks.agents_count_bonus)
        if quirks.count_endpoints and path == "/admin/queues/count":
            return _envelope(len(queues))
        return 404, {}, json.dumps({"result": False, "error": {"message": f"Cannot GET {path}"}}).encode()

    with http_receiver(respond) as receiver:
        yield QuirkyZiwo(receiver.base_url, calls, agent_list, quirks, receiver.requests)
