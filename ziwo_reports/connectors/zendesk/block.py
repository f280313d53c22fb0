"""The Zendesk connector's credentials: a Prefect block ("Zendesk Credentials") whose secrets are
SecretStr; a target's `credentials` option names it (or env:PREFIX, see connectors/secrets.py).
Register the type with `prefect block register -m ziwo_reports.connectors.zendesk.block`.

Modes (https://developer.zendesk.com/api-reference/introduction/security-and-auth/):
- `api_token`: `Authorization: Basic base64("{email}/token:{api_token}")`. A token is fixed: refused
  mid-run, the request fails with a clear error (nothing to renew it with).
- `oauth_token`: a fixed OAuth access token, `Authorization: Bearer`; refused, likewise.
- `oauth_client_credentials`: an access token from the account's `/oauth/tokens` with the
  client_credentials grant (a confidential OAuth client); when the API answers 401 mid-run (the
  token expired), a new one is fetched once and the request repeated.
"""

from __future__ import annotations

from typing import Literal

from prefect.blocks.core import Block
from pydantic import Field, SecretStr, model_validator

from ziwo_reports.connectors.secrets import check_mode_needs, secret_text
from ziwo_reports.http import Auth, BasicAuth, BearerAuth, OAuth2ClientCredentials

AuthMode = Literal["api_token", "oauth_token", "oauth_client_credentials"]
NEEDS: dict[str, tuple[str, ...]] = {
    "api_token": ("email", "api_token"),
    "oauth_token": ("oauth_token",),
    "oauth_client_credentials": ("client_id", "client_secret"),
}


class ZendeskCredentials(Block):
    """How ziwo-reports signs in to a Zendesk account: an API token, an OAuth access token, or an
    OAuth client's credentials."""

    _block_type_name = "Zendesk Credentials"
    _block_type_slug = "zendesk-credentials"
    _description = "Credentials of a Zendesk account that ziwo-reports delivers metrics and follow-ups to."

    auth: AuthMode = Field(
        default="api_token",
        title="Authentication",
        description="api_token (an agent's email and an API token), oauth_token (a fixed OAuth access token) or "
        "oauth_client_credentials (tokens from the account's /oauth/tokens for a confidential OAuth client).",
    )
    email: str | None = Field(default=None, title="Email", description="api_token: the agent's email address.")
    api_token: SecretStr | None = Field(
        default=None,
        title="API token",
        description="api_token: the token (Admin Center > Apps and integrations > APIs).",
    )
    oauth_token: SecretStr | None = Field(
        default=None, title="OAuth access token", description="oauth_token: the access token, sent as a bearer."
    )
    client_id: str | None = Field(
        default=None, title="OAuth client id", description="oauth_client_credentials: the OAuth client's identifier."
    )
    client_secret: SecretStr | None = Field(
        default=None, title="OAuth client secret", description="oauth_client_credentials: the client's secret."
    )
    scope: str = Field(
        default="read write",
        min_length=1,
        title="Scope",
        description="oauth_client_credentials: the scopes asked for, separated by spaces.",
    )

    @model_validator(mode="after")
    def _has_what_the_mode_needs(self) -> ZendeskCredentials:
        check_mode_needs(self, NEEDS)
        return self

    def auth_object(self, origin: str) -> Auth:
        """The toolkit's auth object of this mode, for the account at `origin`."""
        if self.auth == "api_token":
            return BasicAuth(f"{self.email}/token", secret_text(self.api_token))
        if self.auth == "oauth_token":
            return BearerAuth(secret_text(self.oauth_token))
        return OAuth2ClientCredentials(
            f"{origin}/oauth/tokens",
            self.client_id or "",
            secret_text(self.client_secret),
            scope=self.scope.split(),
            client_auth="body",  # Zendesk reads client_id and client_secret from the request body
        )
