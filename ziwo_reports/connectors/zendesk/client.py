"""The Zendesk API as the connector uses it, on the HTTP toolkit (one policy: retries, backoff,
429 with Retry-After, deadlines, no credentials to another host).

References (developer.zendesk.com/api-reference/...):
- custom-data/custom-objects/custom_objects (show object, list fields) and custom_object_records
  (bulk job: POST /api/v2/custom_objects/{key}/jobs, action create_or_update_by_external_id, at most
  100 items; it answers a job_status);
- ticketing/ticket-management/job_statuses (show, show_many: `results` per item with its `index`);
- ticketing/users/users (me, search with the search syntax, create_or_update by external_id);
- ticketing/tickets/tickets (list by external_id, create, update with a comment and
  additional_tags), ticketing/tickets/ticket_comments, users/{id}/tickets/requested;
- introduction/rate-limits (429 with Retry-After, honoured by the policy).

Errors come in three shapes: `{"error": "RecordNotFound", "description": "Not found"}`,
`{"error": {"title": ..., "message": ...}}` and `{"errors": [{"code", "title", "detail"}]}`;
`zendesk_error` reads each into one line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

import requests

from ziwo_reports.http import ApiClient, HttpError, Reply
from ziwo_reports.redaction import redact

#: Ticket statuses Zendesk counts as open (not solved or closed).
OPEN_STATUSES = ("new", "open", "pending", "hold")
#: Pages read at most (100 each): of a requester's tickets when looking for a call's note, of user fields.
MAX_PAGES = 10


class ZendeskError(HttpError):
    """A Zendesk answer that is not what was asked; the message names the request and what Zendesk said."""


def zendesk_error(response: requests.Response) -> str:
    """What Zendesk says went wrong, from any of its error shapes, in one line."""
    try:
        body = response.json()
    except ValueError:
        body = None
    parts: list[str] = []
    if isinstance(body, Mapping):
        error, description = body.get("error"), body.get("description")
        if isinstance(error, Mapping):
            parts += [str(error.get(k)) for k in ("title", "message") if error.get(k)]
        elif error:
            parts.append(str(error))
        if description:
            parts.append(str(description))
        details = body.get("details")
        if isinstance(details, Mapping):
            for field_name, problems in details.items():
                texts = [p.get("description", str(p)) if isinstance(p, Mapping) else str(p) for p in problems or []]
                parts.append(f"{field_name}: {'; '.join(texts)}")
        for item in body.get("errors") or []:
            if isinstance(item, Mapping):
                parts.append(" ".join(str(item[k]) for k in ("code", "title", "detail") if item.get(k)))
    text = ": ".join(parts) if parts else (response.reason or "no message")
    return redact(" ".join(text.split()))[:400]


class ZendeskApi:
    """The calls the connector makes, each through one ApiClient (one thread's)."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    def _json(self, method: str, path: str, *, ok: Iterable[int] = (200, 201), **kwargs: Any) -> Any:
        reply: Reply = self.client.request(method, path, follow_redirects=False, **kwargs)
        if reply.status not in tuple(ok):
            raise ZendeskError(
                f"{method} {path.split('?')[0]}: HTTP {reply.status} {zendesk_error(reply.response)}",
                status=reply.status,
                url=self.client.url(path),
            )
        try:
            return reply.response.json()
        except ValueError:
            raise ZendeskError(f"{method} {path.split('?')[0]}: HTTP {reply.status} answer is not JSON") from None

    # --- probes ---------------------------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        return self._json("GET", "/api/v2/users/me")["user"]

    def custom_object(self, key: str) -> dict[str, Any]:
        return self._json("GET", f"/api/v2/custom_objects/{quote(key)}")["custom_object"]

    def custom_object_fields(self, key: str) -> list[dict[str, Any]]:
        return self._json("GET", f"/api/v2/custom_objects/{quote(key)}/fields")["custom_object_fields"]

    def user_fields(self) -> list[dict[str, Any]]:
        """The account's user field definitions (every page up to MAX_PAGES)."""
        return self._pages("/api/v2/user_fields?per_page=100", "user_fields")

    def _pages(self, path: str | None, name: str) -> list[dict[str, Any]]:
        """The `name` list of a listing, following next_page up to MAX_PAGES pages."""
        found: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            if path is None:
                break
            page = self._json("GET", path)
            found += page.get(name) or []
            path = page.get("next_page")
        return found

    # --- records jobs ---------------------------------------------------------------------------

    def submit_records_job(self, key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        body = {"job": {"action": "create_or_update_by_external_id", "items": items}}
        return self._json("POST", f"/api/v2/custom_objects/{quote(key)}/jobs", json=body)["job_status"]

    def job_statuses(self, ids: list[str]) -> list[dict[str, Any]]:
        """The statuses of up to 100 jobs in one request (show_many)."""
        joined = ",".join(quote(i, safe="") for i in ids)
        return self._json("GET", f"/api/v2/job_statuses/show_many?ids={joined}")["job_statuses"]

    # --- users ----------------------------------------------------------------------------------

    def users_by_phone(self, digits: str) -> list[dict[str, Any]]:
        """End users whose phone ends with these digits, whatever its format (`phone:*<digits>`)."""
        query = quote(f"role:end-user phone:*{digits}", safe="")
        return self._json("GET", f"/api/v2/users/search?query={query}")["users"]

    def users_by_external_ids(self, external_ids: list[str]) -> list[dict[str, Any]]:
        """The users with these external ids (at most 100: show_many)."""
        joined = quote(",".join(external_ids), safe=",")
        return self._json("GET", f"/api/v2/users/show_many?external_ids={joined}")["users"]

    def submit_users_update(self, users: list[dict[str, Any]]) -> dict[str, Any]:
        """Up to 100 users updated in one background job (update_many, each with its `id`)."""
        return self._json("PUT", "/api/v2/users/update_many", json={"users": users})["job_status"]

    def create_or_update_user(self, user: dict[str, Any]) -> dict[str, Any]:
        """An end user created, or updated when its external_id is known (idempotent by it)."""
        return self._json("POST", "/api/v2/users/create_or_update", json={"user": user})["user"]

    # --- tickets --------------------------------------------------------------------------------

    def tickets_by_external_id(self, external_id: str) -> list[dict[str, Any]]:
        return self._json("GET", f"/api/v2/tickets?external_id={quote(external_id, safe='')}")["tickets"]

    def requested_tickets(self, user_id: int) -> list[dict[str, Any]]:
        """A requester's tickets, every page up to MAX_PAGES."""
        return self._pages(f"/api/v2/users/{int(user_id)}/tickets/requested?per_page=100", "tickets")

    def create_ticket(self, ticket: dict[str, Any]) -> dict[str, Any]:
        return self._json("POST", "/api/v2/tickets", json={"ticket": ticket})["ticket"]

    def add_private_note(self, ticket_id: int, body: str, tags: list[str]) -> dict[str, Any]:
        """An internal note (public: false) and tags added to a ticket, in one update."""
        update = {"comment": {"body": body, "public": False}, "additional_tags": tags}
        return self._json("PUT", f"/api/v2/tickets/{int(ticket_id)}", json={"ticket": update})["ticket"]
