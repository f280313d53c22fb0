"""Salesforce's REST API and Bulk API 2.0 on our HTTP toolkit: the OAuth 2.0 token flows, the
error rules, and the calls the delivery makes. Every request goes through the one HTTP policy
(timeouts, deadline, retries with backoff and Retry-After, no redirect to another host, the SSRF
guard unless the target allows private URLs).

Salesforce's rules, as its REST API reference states them:

- errors are a JSON array of `{message, errorCode, fields}`;
- `401 INVALID_SESSION_ID`: the session expired: log in again once and repeat the request;
- `403 REQUEST_LIMIT_EXCEEDED`: the org's API allowance is spent: a limit, not a permission
  error, and retrying within the run cannot help: `LimitExceeded`, which stops the delivery;
- `UNABLE_TO_LOCK_ROW` (a whole request, or a record in a collection's results): another
  transaction holds the row: retried with backoff.

Why not simple-salesforce: its logins build `https://{domain}.salesforce.com` themselves (no
login URL to point at a test org or a fake, and http or a port cannot be had), it sends through
`session.request` with no retries or deadline of ours, has no sObject Collections helper, and its
Bulk 2.0 helper returns counts and CSV text, where our ledger needs each record's result. The
token flows are a form POST each; the JWT is signed with `cryptography` (a dependency of Prefect).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import orjson
import requests

from ziwo_reports.connectors.http_delivery import ThreadClients, check_target_url, make_session
from ziwo_reports.connectors.salesforce.block import SalesforceCredentials
from ziwo_reports.http import ApiClient, Auth, AuthError, HttpPolicy, LimitExceeded, Reply, Verdict
from ziwo_reports.redaction import redact, register_secret

log = logging.getLogger(__name__)

LIMIT_MESSAGE = (
    "Salesforce says REQUEST_LIMIT_EXCEEDED: the org's API request allowance (a rolling 24 hours) is spent. "
    "This is a limit, not a permission problem; the run stopped, and `ziwo-reports replay` sends the rest once "
    "the allowance recovers (Setup > Company Information shows it)"
)
CEILING_MESSAGE = (
    "stopped at {used:,} of the org's {allowance:,} API requests of the last 24 hours (Salesforce's "
    "Sforce-Limit-Info), the api_usage_ceiling of {ceiling:.0%}: the rest of the allowance is left to the org's "
    "other integrations, and `ziwo-reports replay` sends what was not sent once usage falls"
)
_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")
LOCK = "UNABLE_TO_LOCK_ROW"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def errors_of(response: requests.Response) -> list[dict[str, Any]]:
    """Salesforce's error array (`[{message, errorCode, fields}]`), or [] when the body is not one."""
    try:
        body = response.json()
    except ValueError:
        return []
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list):
        return []
    return [e for e in body if isinstance(e, dict) and ("errorCode" in e or "statusCode" in e)]


def error_codes(response: requests.Response) -> list[str]:
    return [str(e.get("errorCode") or e.get("statusCode") or "") for e in errors_of(response)]


def describe_errors(errors: list[dict[str, Any]]) -> str:
    """Errors as one line: `CODE: message (fields: A, B); ...`."""
    parts = []
    for error in errors:
        code = error.get("errorCode") or error.get("statusCode") or "ERROR"
        fields = error.get("fields") or []
        where = f" (fields: {', '.join(map(str, fields))})" if fields else ""
        parts.append(f"{code}: {error.get('message', '')}{where}")
    return redact("; ".join(parts)[:500])


def describe_response(response: requests.Response) -> str:
    errors = errors_of(response)
    if errors:
        return describe_errors(errors)
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("error"):  # the token endpoint's OAuth error
        return redact(f"{body['error']}: {body.get('error_description', '')}")
    return response.reason or "no message"


def classify(response: requests.Response) -> Verdict | None:
    """Salesforce's rules before the policy's: a spent limit stops, a locked row is retried."""
    if response.status_code < 400 or response.status_code == 401:
        return None  # 401: the auth renews once (ApiClient)
    codes = error_codes(response)
    if "REQUEST_LIMIT_EXCEEDED" in codes:
        return Verdict.fail(LimitExceeded, LIMIT_MESSAGE)
    if LOCK in codes:
        return Verdict.retry(LOCK)
    return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwt_assertion(consumer_key: str, username: str, audience: str, private_key_pem: str, now: float) -> str:
    """The JWT bearer flow's assertion: RS256 over {iss, sub, aud, exp} (exp three minutes on)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    try:
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    except (ValueError, TypeError) as problem:
        raise AuthError(
            f"the private key is not a PEM private key without a passphrase ({type(problem).__name__})"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise AuthError("the private key is not an RSA key: Salesforce signs JWTs with RS256")
    header = _b64(json.dumps({"alg": "RS256"}).encode())
    claims = {"iss": consumer_key, "sub": username, "aud": audience, "exp": int(now) + 180}
    signing_input = f"{header}.{_b64(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


def jwt_audience(domain: str) -> str:
    """Salesforce's `aud` for the JWT flow: test.salesforce.com for sandboxes, else login."""
    sandbox = domain == "test" or ".sandbox." in f".{domain}."
    return "https://test.salesforce.com" if sandbox else "https://login.salesforce.com"


class SalesforceSession(Auth):
    """The access token of one of the OAuth flows, in `Authorization: Bearer`. A 401 renews it
    once per request; threads that met the same expired token share one renewal."""

    renewal = "a fresh Salesforce login"

    def __init__(
        self,
        block: SalesforceCredentials,
        login_url: str,
        domain: str,
        policy: HttpPolicy,
        allow_private_urls: bool,
    ) -> None:
        super().__init__(refused=(401,), expired=(401,))
        self.block, self.login_url, self.domain = block, login_url, domain
        self.policy, self.allow_private_urls = policy, allow_private_urls
        self.token: str | None = None
        self.instance_url: str | None = None
        self.logins = 0
        self._lock = threading.Lock()
        self._used = threading.local()

    @property
    def can_renew(self) -> bool:
        return True

    def _form(self) -> dict[str, str]:
        block = self.block
        if block.auth == "jwt":
            assertion = jwt_assertion(
                block.consumer_key or "",
                block.username or "",
                jwt_audience(self.domain),
                block.secret("private_key"),
                time.time(),
            )
            register_secret(assertion)
            return {"grant_type": JWT_GRANT, "assertion": assertion}
        if block.auth == "client_credentials":
            return {
                "grant_type": "client_credentials",
                "client_id": block.consumer_key or "",
                "client_secret": block.secret("consumer_secret"),
            }
        return {
            "grant_type": "password",
            "client_id": block.consumer_key or "",
            "client_secret": block.secret("consumer_secret"),
            "username": block.username or "",
            "password": block.secret("password") + block.secret("security_token"),
        }

    def log_in(self) -> None:
        """Ask the token endpoint for a token; AuthError naming what Salesforce said."""
        with ApiClient(self.login_url, policy=self.policy, session=make_session(self.allow_private_urls)) as client:
            reply = client.request(
                "POST",
                "/services/oauth2/token",
                authenticate=False,
                data=self._form(),
                headers={"Accept": "application/json"},
                follow_redirects=False,
            )
        response = reply.response
        if response.status_code != 200:
            raise AuthError(
                f"Salesforce login ({self.block.auth}) at {self.login_url} refused: HTTP {response.status_code} "
                f"{describe_response(response)}",
                status=response.status_code,
            )
        try:
            answer = response.json()
            token, instance = str(answer["access_token"]), str(answer["instance_url"]).rstrip("/")
        except (ValueError, KeyError, TypeError):
            raise AuthError(
                f"Salesforce login at {self.login_url}: the answer has no access_token and instance_url"
            ) from None
        register_secret(token)
        try:
            check_target_url(instance)
        except ValueError as problem:
            raise AuthError(f"Salesforce login: the instance_url it named {problem}") from None
        if self.instance_url is not None and instance != self.instance_url:
            raise AuthError(f"Salesforce login: the org moved from {self.instance_url} to {instance} mid-run")
        self.token, self.instance_url = token, instance
        self.logins += 1

    def ensure(self, client: Any) -> None:
        if self.token is None:
            with self._lock:
                if self.token is None:
                    self.log_in()

    def renew(self, client: Any) -> None:
        with self._lock:
            if getattr(self._used, "token", None) == self.token:  # no other thread renewed it meanwhile
                log.info("Salesforce session expired (INVALID_SESSION_ID): logging in again")
                self.log_in()

    def hint(self, renewed: bool) -> str:
        return "a fresh login did not help: check the user's profile and the app's policies"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        self._used.token = self.token
        if self.token:
            r.headers["Authorization"] = f"Bearer {self.token}"
        return r


class SalesforceApi:
    """The REST calls of one org, at its instance URL, one ApiClient per thread."""

    def __init__(self, session: SalesforceSession, api_version: str, api_usage_ceiling: float = 1.0) -> None:
        session.ensure(None)
        assert session.instance_url is not None
        self.session, self.instance_url = session, session.instance_url
        self.prefix = f"/services/data/v{api_version}"
        self._clients = ThreadClients(
            lambda: ApiClient(
                self.instance_url,
                policy=session.policy,
                auth=session,
                classify=classify,
                describe=describe_response,
                session=make_session(session.allow_private_urls),
            )
        )
        self._lock = threading.Lock()  # guards the request count and the usage
        self.requests = 0
        self.ceiling = api_usage_ceiling
        self.usage: tuple[int, int] | None = None  # the org's API requests used, and its allowance

    def client(self) -> ApiClient:
        return self._clients.get()

    def close(self) -> None:
        self._clients.close()

    def call(self, method: str, path: str, **kwargs: Any) -> Reply:
        """A request under the policy: LimitExceeded on a spent limit, AuthError when refused."""
        with self._lock:
            usage = self.usage
            if usage is not None and self.ceiling < 1 and usage[0] >= self.ceiling * usage[1]:
                raise LimitExceeded(CEILING_MESSAGE.format(used=usage[0], allowance=usage[1], ceiling=self.ceiling))
            self.requests += 1
        kwargs.setdefault("headers", {}).setdefault("Accept", "application/json")
        reply = self.client().request(method, self.prefix + path, follow_redirects=False, **kwargs)
        found = _USAGE.search(reply.response.headers.get("Sforce-Limit-Info", ""))
        if found:
            with self._lock:
                self.usage = (int(found.group(1)), int(found.group(2)))
        return reply

    # --- the calls ----------------------------------------------------------------------------

    def describe(self, sobject: str) -> Reply:
        return self.call("GET", f"/sobjects/{sobject}/describe")

    def upsert_collection(self, sobject: str, field: str, records: list[bytes]) -> Reply:
        """sObject Collections upsert of records already encoded as JSON objects (the bytes the
        plan hashed): the body is spliced from them, `attributes` first, with no encoding per request."""
        attributes = b'{"attributes":{"type":' + orjson.dumps(sobject) + b"}"
        body = b",".join(attributes + (b"," + record[1:] if record != b"{}" else b"}") for record in records)
        return self.call(
            "PATCH",
            f"/composite/sobjects/{sobject}/{field}",
            data=b'{"allOrNone":false,"records":[' + body + b"]}",
            headers={"Content-Type": "application/json"},
        )

    def query(self, soql: str) -> Reply:
        return self.call("GET", "/query", params={"q": soql})

    def search(self, sosl: str) -> Reply:
        return self.call("GET", "/search", params={"q": sosl})

    def create(self, sobject: str, record: dict[str, Any]) -> Reply:
        return self.call("POST", f"/sobjects/{sobject}", json=record)

    def upsert_one(self, sobject: str, field: str, value: str, record: dict[str, Any]) -> Reply:
        return self.call("PATCH", f"/sobjects/{sobject}/{field}/{quote(value, safe='')}", json=record)

    def update(self, sobject: str, record_id: str, record: dict[str, Any]) -> Reply:
        """PATCH /sobjects/{SObject}/{Id}: 204 No Content when updated."""
        return self.call("PATCH", f"/sobjects/{sobject}/{quote(record_id, safe='')}", json=record)

    # Bulk API 2.0 ingest
    def create_job(self, sobject: str, field: str) -> Reply:
        body = {
            "object": sobject,
            "externalIdFieldName": field,
            "contentType": "CSV",
            "operation": "upsert",
            "lineEnding": "LF",
        }
        return self.call("POST", "/jobs/ingest", json=body)

    def upload(self, job_id: str, csv_bytes: bytes) -> Reply:
        return self.call("PUT", f"/jobs/ingest/{job_id}/batches", data=csv_bytes, headers={"Content-Type": "text/csv"})

    def close_job(self, job_id: str, state: str = "UploadComplete") -> Reply:
        return self.call("PATCH", f"/jobs/ingest/{job_id}", json={"state": state})

    def job(self, job_id: str) -> Reply:
        return self.call("GET", f"/jobs/ingest/{job_id}")

    def results(self, job_id: str, which: str) -> Reply:
        """failedResults/, successfulResults/ or unprocessedrecords/ (CSV)."""
        return self.call("GET", f"/jobs/ingest/{job_id}/{which}/", headers={"Accept": "text/csv"})


def soql_literal(value: str) -> str:
    """A string as a SOQL literal: backslashes and quotes escaped, so a value cannot end it."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    return f"'{escaped}'"


Caller = Callable[[], SalesforceApi]
