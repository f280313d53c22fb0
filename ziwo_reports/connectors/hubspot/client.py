"""HubSpot's CRM API on the HTTP toolkit: the private-app token, HubSpot's 429 rules as a response
classifier, and the few endpoints the delivery uses.

- 429 with `policyName: DAILY` stops: the account's daily quota is spent until midnight in its time
  zone, so retrying within the run only burns the 5% error budget HubSpot allows. Any other 429
  (SECONDLY, TEN_SECONDLY_ROLLING) is retried under the one policy's backoff and Retry-After.
- 401: a private-app token is not refreshed (there is no refresh token), but it can be rotated in
  HubSpot; the delivery then re-reads the token from its block or environment, once per delivery,
  and sends the request again ("an expired token re-authenticates once"). Refused again: AuthError.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import orjson
import requests

from ziwo_reports.connectors.http_delivery import ThreadClients, make_session
from ziwo_reports.connectors.phone_numbers import national_number
from ziwo_reports.http import ApiClient, Auth, HttpPolicy, LimitExceeded, Reply, Verdict
from ziwo_reports.redaction import register_secret

#: HUBSPOT_DEFINED association type ids from an engagement to a contact (v4 association type table).
CONTACT_ASSOCIATION = {"calls": 194, "tasks": 204}


def _json(response: requests.Response) -> Any:
    try:
        return orjson.loads(response.content or b"null")
    except orjson.JSONDecodeError:
        return None


def describe(response: requests.Response) -> str:
    """HubSpot's error body as one line: `CATEGORY: message (correlationId ...)`."""
    body = _json(response)
    if not isinstance(body, dict):
        return response.reason or "no message"
    category = body.get("category") or body.get("errorType") or ""
    message = str(body.get("message") or response.reason or "no message")
    correlation = body.get("correlationId")
    text = f"{category}: {message}" if category else message
    return f"{text} (correlationId {correlation})" if correlation else text


def classify(response: requests.Response) -> Verdict | None:
    """HubSpot's rate limits: DAILY stops the run, any other 429 is retried under the policy."""
    if response.status_code != 429:
        return None
    body = _json(response)
    policy = body.get("policyName") if isinstance(body, dict) else None
    if policy == "DAILY":
        return Verdict.fail(
            LimitExceeded,
            f"HTTP 429 {describe(response)}: HubSpot's daily API limit is spent (policyName DAILY); the run stops, "
            "and `ziwo-reports replay` sends the rest once it resets (midnight in the account's time zone)",
        )
    return Verdict.retry(f"HTTP 429 rate limit, policyName {policy or 'unknown'}")


class PrivateAppToken(Auth):
    """The private app's token as `Authorization: Bearer`. On 401 it is read again from where it
    came from (a rotated token), at most once per delivery; each request is sent again at most once."""

    renewal = "the token again from its credentials (a rotated private app token)"

    def __init__(self, load: Callable[[], str]) -> None:
        super().__init__(refused=(401, 403), expired=(401,))
        self._load = load
        self._lock = threading.Lock()
        self.reloads = 0
        self.token = self._fresh()

    def _fresh(self) -> str:
        token = self._load()
        register_secret(token)
        return token

    @property
    def can_renew(self) -> bool:
        return True

    def renew(self, client: Any) -> None:
        with self._lock:
            if self.reloads == 0:  # once per delivery; a thread that comes later retries with what was read
                self.reloads = 1
                self.token = self._fresh()

    def hint(self, renewed: bool) -> str:
        again = " (read again from its credentials, in case it was rotated)" if renewed else ""
        return (
            f"the private app token was refused{again}: check that it is the app's current token and has the "
            "scopes this delivery needs"
        )

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r


class HubSpotApi:
    """The endpoints the delivery uses, one ApiClient per thread (sessions are not thread-safe),
    sharing the token."""

    def __init__(self, base_url: str, policy: HttpPolicy, auth: Auth, allow_private_urls: bool) -> None:
        self.base_url, self.policy, self.auth, self.allow_private = base_url, policy, auth, allow_private_urls
        self._clients = ThreadClients(
            lambda: ApiClient(
                base_url,
                policy=policy,
                auth=auth,
                classify=classify,
                describe=describe,
                session=make_session(allow_private_urls),
            )
        )

    @property
    def client(self) -> ApiClient:
        return self._clients.get()

    def close(self) -> None:
        self._clients.close()

    def _send(self, method: str, path: str, body: Any = None) -> Reply:
        data = orjson.dumps(body) if body is not None else None
        headers = {"Accept": "application/json", **({"Content-Type": "application/json"} if data else {})}
        return self.client.request(method, path, data=data, headers=headers, follow_redirects=False)

    # --- the endpoints --------------------------------------------------------------------------------

    def get_property(self, object_type: str, name: str) -> Reply:
        return self._send("GET", f"/crm/v3/properties/{quote(object_type)}/{quote(name)}")

    def batch_upsert(self, object_type: str, inputs: list[dict[str, Any]]) -> Reply:
        return self._send("POST", upsert_path(object_type), {"inputs": inputs})

    def search(self, object_type: str, body: dict[str, Any]) -> Reply:
        return self._send("POST", f"/crm/v3/objects/{quote(object_type)}/search", body)

    def create(self, object_type: str, body: dict[str, Any]) -> Reply:
        return self._send("POST", f"/crm/v3/objects/{quote(object_type)}", body)

    def associate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> Reply:
        return self._send("PUT", association_path(from_type, from_id, to_type, to_id))


def upsert_path(object_type: str) -> str:
    return f"/crm/v3/objects/{quote(object_type)}/batch/upsert"


def association_path(from_type: str, from_id: str, to_type: str, to_id: str) -> str:
    return f"/crm/v4/objects/{from_type}/{quote(from_id)}/associations/default/{to_type}/{quote(to_id)}"


#: HubSpot's own copies of a contact's phone and mobile number without country code or formatting,
#: calculated on every write: what a number typed `050 123 4567` or `+971 50 123 4567` is found by.
SEARCHABLE_PHONES = ("hs_searchable_calculated_phone_number", "hs_searchable_calculated_mobile_number")


def phone_fields(phone_properties: list[str]) -> list[str]:
    """The properties a found contact's number is read from to confirm it: those searched, and
    the phone and mobile numbers the searchable calculated ones are made of."""
    return list(dict.fromkeys([*phone_properties, "phone", "mobilephone"]))


def contact_search(phone_properties: list[str], number: str) -> dict[str, Any]:
    """The search of contacts with the caller's number: one filter group per phone property (the
    number as given), and one per searchable calculated number (its national number); groups are
    OR-ed, at most five. Oldest contact first; the caller confirms each hit (same_number)."""
    national = national_number(number)
    groups = [{"filters": [{"propertyName": p, "operator": "EQ", "value": number}]} for p in phone_properties]
    if national:
        groups += [{"filters": [{"propertyName": p, "operator": "EQ", "value": national}]} for p in SEARCHABLE_PHONES]
    return {
        "filterGroups": groups,
        "properties": phone_fields(phone_properties),
        "sorts": [{"propertyName": "createdate", "direction": "ASCENDING"}],
        "limit": 10,
    }
