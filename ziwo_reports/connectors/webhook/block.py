"""Prefect block holding a webhook's secrets: the whsec_ signing secrets, a bearer token, secret
headers. A target names it in `credentials` (or reads the same fields from the environment with
env:PREFIX, see connectors/secrets.py).

Register the type once with `prefect block register -m ziwo_reports.connectors.webhook.block`.
"""

from __future__ import annotations

import base64
import binascii
import re

from prefect.blocks.core import Block
from pydantic import ConfigDict, Field, SecretStr, field_validator

SECRET_PREFIX = "whsec_"
#: Bytes a signing secret may hold once decoded (Standard Webhooks: 24 to 64).
SECRET_BYTES = (24, 64)
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")


def signing_secret_problem(secret: str) -> str | None:
    """What is wrong with a whsec_ secret (never quoting it), or None."""
    if not secret.startswith(SECRET_PREFIX):
        return f"does not start with {SECRET_PREFIX}"
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return f"is not {SECRET_PREFIX} followed by base64"
    low, high = SECRET_BYTES
    if not low <= len(key) <= high:
        return f"decodes to {len(key)} bytes; a signing secret has {low} to {high}"
    return None


class WebhookCredentials(Block):
    """The secrets a webhook target signs and authenticates its messages with."""

    _block_type_name = "Webhook Credentials"
    _block_type_slug = "webhook-credentials"
    _description = "Signing secrets (whsec_), bearer token and secret headers of a webhook, for ziwo-reports."
    # A refused value is a secret: pydantic's errors must not quote it.
    model_config = ConfigDict(hide_input_in_errors=True)

    signing_secrets: list[SecretStr] = Field(
        default_factory=list,
        title="Signing secrets",
        description=(
            "Standard Webhooks secrets (whsec_ and base64 of 24 to 64 bytes). Every message is signed with each, "
            "in one space-separated webhook-signature header: to rotate, add the new secret, let the receiver "
            "switch to it, then drop the old one."
        ),
    )
    bearer_token: SecretStr | None = Field(
        default=None,
        title="Bearer token",
        description="Sent as `Authorization: Bearer <token>` with every message, when the receiver asks for one.",
    )
    headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        title="Secret headers",
        description="Extra headers whose values are secret (an X-Api-Key, say), sent with every message.",
    )

    @field_validator("signing_secrets")
    @classmethod
    def _signing_secrets(cls, secrets: list[SecretStr]) -> list[SecretStr]:
        for position, secret in enumerate(secrets):
            problem = signing_secret_problem(secret.get_secret_value())
            if problem:
                raise ValueError(f"signing_secrets[{position}] {problem}")
        return secrets

    @field_validator("headers")
    @classmethod
    def _headers(cls, headers: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, value in headers.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"headers: {name!r} is not a header name")
            if any(c in value.get_secret_value() for c in "\r\n\0"):
                raise ValueError(f"headers[{name!r}] holds a line break")
        return headers
