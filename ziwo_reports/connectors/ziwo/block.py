"""Prefect block holding Ziwo credentials as secrets.

Register the type once with `prefect block register -m ziwo_reports.connectors.ziwo.block`, then create a
block in the UI or in Python (see README).
"""

from __future__ import annotations

from typing import Any

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from ziwo_reports.connectors.ziwo.settings import ZiwoSettings


class ZiwoCredentials(Block):
    """Where a Ziwo instance is and how to log in to it."""

    _block_type_name = "Ziwo Credentials"
    _block_type_slug = "ziwo-credentials"
    _description = "Instance and login of a Ziwo call center, for ziwo-reports."

    instance: str | None = Field(default=None, description="Instance name: 'acme' means https://acme-api.aswat.co.")
    base_url: str | None = Field(
        default=None, description="API URL, when not the instance's own (a proxy, a test server)."
    )
    timezone: str = Field(
        default="UTC", description="The instance's IANA time zone: Ziwo reads the dates of a pull in it."
    )
    country_code: str = Field(
        default="971",
        pattern=r"^\d{1,4}$",
        description="The instance's country calling code, to recognise repeat callers.",
    )
    username: str | None = Field(default=None, description="Login e-mail of a supervisor or admin.")
    password: SecretStr | None = Field(default=None, description="Password of that login.")
    access_token: SecretStr | None = Field(
        default=None, description="An existing access token, instead of username and password."
    )

    def settings(self, **overrides: Any) -> ZiwoSettings:
        """ZiwoSettings from this block; `overrides` (page_size, http, ...) are passed through."""
        options = {
            "instance": self.instance,
            "base_url": self.base_url,
            "timezone": self.timezone,
            "country_code": self.country_code,
            "username": self.username,
            "password": self.password.get_secret_value() if self.password else None,
            "access_token": self.access_token.get_secret_value() if self.access_token else None,
        }
        return ZiwoSettings.from_sources(options, environ={}, **overrides)
