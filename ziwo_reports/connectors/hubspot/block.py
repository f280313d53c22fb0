"""The HubSpot connector's credentials: a Prefect block ("HubSpot Credentials") holding a private
app's access token as a SecretStr, obfuscated in the UI. A target's `credentials` option names it,
or env:PREFIX reads PREFIX_ACCESS_TOKEN (connectors/secrets.py).

Register the type with `prefect block register -m ziwo_reports.connectors.hubspot.block`.
"""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field, SecretStr, field_validator


class HubSpotCredentials(Block):
    """A HubSpot private app's access token (Settings > Integrations > Private apps), with the CRM
    scopes the delivery needs: the target object's read and write, and for follow-ups contacts
    and calls or tasks."""

    _block_type_name = "HubSpot Credentials"
    _block_type_slug = "hubspot-credentials"
    _description = "A HubSpot private app access token that ziwo-reports delivers to the CRM with."

    access_token: SecretStr = Field(
        title="Access token",
        description="The private app's access token (pat-...), sent as Authorization: Bearer. A private app "
        "token does not expire by itself; after a rotation, save the new one here.",
    )

    @field_validator("access_token")
    @classmethod
    def _not_blank(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("the access token is empty")
        if any(c in value.get_secret_value() for c in " \r\n"):
            raise ValueError("the access token holds a space or a line break")
        return value
