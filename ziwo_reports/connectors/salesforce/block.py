"""Salesforce's credentials: a Prefect block ("Salesforce Credentials") whose secrets are
SecretStr, obfuscated in the UI; a target's `credentials` option names it, or env:PREFIX for
PREFIX_<FIELD> variables (connectors/secrets.py). Register the type with
`prefect block register -m ziwo_reports.connectors.salesforce.block`.

Three OAuth 2.0 flows, each answered by Salesforce's token endpoint with an access token and the
org's `instance_url` (where every API call then goes):

- `jwt`: the JWT bearer flow (server to server): username + consumer key + the private key whose
  certificate the connected app holds;
- `client_credentials`: consumer key + secret of an app with a run-as user (My Domain only);
- `password`: the username-password flow: consumer key + secret, username, password and the
  user's security token (Salesforce discourages it; kept for orgs that still use it).
"""

from __future__ import annotations

from typing import Literal

from prefect.blocks.core import Block
from pydantic import Field, SecretStr, model_validator

from ziwo_reports.connectors.secrets import check_mode_needs

AuthMode = Literal["jwt", "client_credentials", "password"]

NEEDS: dict[str, tuple[str, ...]] = {
    "jwt": ("username", "consumer_key", "private_key"),
    "client_credentials": ("consumer_key", "consumer_secret"),
    "password": ("username", "password", "consumer_key", "consumer_secret"),
}


class SalesforceCredentials(Block):
    """How ziwo-reports logs in to a Salesforce org."""

    _block_type_name = "Salesforce Credentials"
    _block_type_slug = "salesforce-credentials"
    _description = "Credentials of a Salesforce org that ziwo-reports delivers metrics and follow-ups to."

    auth: AuthMode = Field(
        default="jwt",
        title="Authentication",
        description="jwt (OAuth 2.0 JWT bearer, server to server), client_credentials (a connected or external "
        "client app with a run-as user; My Domain only) or password (username, password and security token).",
    )
    username: str | None = Field(
        default=None, title="Username", description="jwt and password: the Salesforce username (user@example.com)."
    )
    consumer_key: str | None = Field(
        default=None, title="Consumer key", description="The connected app's consumer key (its OAuth client id)."
    )
    consumer_secret: SecretStr | None = Field(
        default=None, title="Consumer secret", description="client_credentials and password: the app's secret."
    )
    private_key: SecretStr | None = Field(
        default=None,
        title="Private key",
        description="jwt: the PEM private key (RSA) whose certificate is uploaded to the connected app.",
    )
    password: SecretStr | None = Field(default=None, title="Password", description="password: the user's password.")
    security_token: SecretStr | None = Field(
        default=None,
        title="Security token",
        description="password: the user's security token, appended to the password (empty where the org trusts "
        "the caller's IP range).",
    )

    @model_validator(mode="after")
    def _has_what_the_mode_needs(self) -> SalesforceCredentials:
        check_mode_needs(self, NEEDS)
        return self

    def secret(self, name: str) -> str:
        value = getattr(self, name)
        return value.get_secret_value() if isinstance(value, SecretStr) else (value or "")
