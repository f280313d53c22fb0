"""The HTTP API connector's credentials: a Prefect block ("HTTP API Credentials") whose secrets
are SecretStr, shown obfuscated in the UI; a target's `credentials` option names it (or env:PREFIX,
see connectors/secrets.py). Register the type with
`prefect block register -m ziwo_reports.connectors.http_api.block`."""

from __future__ import annotations

from typing import Literal

from prefect.blocks.core import Block
from pydantic import Field, SecretStr, model_validator

from ziwo_reports.connectors.secrets import check_mode_needs, secret_text
from ziwo_reports.http import ApiKeyAuth, Auth, BasicAuth, BearerAuth, OAuth2ClientCredentials

AuthMode = Literal["none", "api_key", "basic", "bearer", "oauth2_client_credentials"]

#: The fields each mode needs.
NEEDS: dict[str, tuple[str, ...]] = {
    "none": (),
    "api_key": ("api_key",),
    "basic": ("username", "password"),
    "bearer": ("token",),
    "oauth2_client_credentials": ("token_url", "client_id", "client_secret"),
}


class HttpApiCredentials(Block):
    """How ziwo-reports proves who it is to an HTTP API: an API key, basic, a bearer token or OAuth2
    client credentials, and secret extra headers."""

    _block_type_name = "HTTP API Credentials"
    _block_type_slug = "http-api-credentials"
    _description = "Credentials of an HTTP API that ziwo-reports delivers reports to."

    auth: AuthMode = Field(
        default="none",
        title="Authentication",
        description="none, api_key (a key in a header or query parameter), basic (user name and password), "
        "bearer (a fixed token) or oauth2_client_credentials (a token from a token endpoint).",
    )
    api_key: SecretStr | None = Field(default=None, title="API key", description="api_key: the key.")
    api_key_name: str = Field(
        default="X-API-Key",
        min_length=1,
        title="API key name",
        description="api_key: the header or query parameter that carries the key.",
    )
    api_key_in: Literal["header", "query"] = Field(
        default="header", title="API key in", description="api_key: send the key in a header or the query string."
    )
    username: str | None = Field(default=None, title="User name", description="basic: the user name.")
    password: SecretStr | None = Field(default=None, title="Password", description="basic: the password.")
    token: SecretStr | None = Field(
        default=None, title="Bearer token", description="bearer: the token, sent as Authorization: Bearer <token>."
    )
    token_url: str | None = Field(
        default=None,
        title="Token URL",
        description="oauth2_client_credentials: the token endpoint (https; http only on loopback).",
    )
    client_id: str | None = Field(default=None, title="Client id", description="oauth2_client_credentials: client id.")
    client_secret: SecretStr | None = Field(
        default=None, title="Client secret", description="oauth2_client_credentials: the client secret."
    )
    scope: str | None = Field(
        default=None,
        title="Scope",
        description="oauth2_client_credentials: the scopes to ask for, separated by spaces; empty: the default.",
    )
    client_auth: Literal["basic", "body"] = Field(
        default="basic",
        title="Client authentication",
        description="oauth2_client_credentials: send client id and secret with HTTP basic (RFC 6749's default) "
        "or in the form body.",
    )
    headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        title="Secret headers",
        description="Extra headers whose values are secret (an account key, a signature), sent with every request.",
    )

    @model_validator(mode="after")
    def _has_what_the_mode_needs(self) -> HttpApiCredentials:
        check_mode_needs(self, NEEDS)
        for name in self.headers:
            if not name or any(c in name for c in " :\r\n"):
                raise ValueError(f"headers: {name!r} is not a header name")
        return self

    def auth_object(self) -> tuple[Auth | None, dict[str, str]]:
        """The toolkit's auth object of this mode (None for none) and the secret headers."""
        secret_headers = {name: value.get_secret_value() for name, value in self.headers.items()}
        return _auth_of(self), secret_headers


def _auth_of(block: HttpApiCredentials) -> Auth | None:
    if block.auth == "api_key":
        return ApiKeyAuth(secret_text(block.api_key), name=block.api_key_name, location=block.api_key_in)
    if block.auth == "basic":
        return BasicAuth(block.username or "", secret_text(block.password))
    if block.auth == "bearer":
        return BearerAuth(secret_text(block.token))
    if block.auth == "oauth2_client_credentials":
        return OAuth2ClientCredentials(
            block.token_url or "",
            block.client_id or "",
            secret_text(block.client_secret),
            scope=block.scope.split() if block.scope else None,
            client_auth=block.client_auth,
        )
    return None
