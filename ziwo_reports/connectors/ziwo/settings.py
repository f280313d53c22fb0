"""How to reach a Ziwo instance: from options, the environment, or a Prefect block."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ziwo_reports.connectors.ziwo.assumptions import ORDER_ASCENDING
from ziwo_reports.http import HttpPolicy
from ziwo_reports.redaction import register_secret

_INSTANCE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_ASWAT_HOST = re.compile(r"^([a-z0-9-]+)-api\.aswat\.co$")

#: Environment variables read by `ZiwoSettings.from_sources`.
ENVIRONMENT = {
    "instance": "ZIWO_INSTANCE",
    "base_url": "ZIWO_BASE_URL",
    "username": "ZIWO_USERNAME",
    "password": "ZIWO_PASSWORD",
    "access_token": "ZIWO_ACCESS_TOKEN",
    "page_size": "ZIWO_PAGE_SIZE",
    "timezone": "ZIWO_TIMEZONE",
    "country_code": "ZIWO_COUNTRY_CODE",
}


def instance_url(instance: str) -> str:
    """`acme` -> `https://acme-api.aswat.co`."""
    name = instance.strip().lower()
    if not _INSTANCE.match(name):
        raise ValueError(
            f"instance {instance!r} is not a Ziwo instance name (letters, digits and dashes, "
            "as in https://<instance>-api.aswat.co)"
        )
    return f"https://{name}-api.aswat.co"


def instance_name(base_url: str) -> str:
    """The name a base URL stands for: `https://acme-api.aswat.co` -> `acme`, else its host."""
    host = urlparse(base_url).hostname or ""
    match = _ASWAT_HOST.match(host)
    return match.group(1) if match else host


@dataclass(frozen=True)
class ZiwoSettings:
    """`instance` names the call center in the warehouse (several can share one); `timezone` is
    the instance's zone, in which Ziwo reads the dates of `fromDate`/`toDate`; `country_code` its
    country calling code, to tell one caller's numbers written in different ways."""

    base_url: str
    instance: str = ""  # default: from base_url
    timezone: str = "UTC"
    country_code: str = "971"  # the instance's: repeat callers are told by national number
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    page_size: int = 500
    max_pages: int = 20_000  # per pass over one day; a hard stop against endless paging
    max_passes: int = 8  # reads of a day whose offsets keep shifting while paging
    order: str = ORDER_ASCENDING
    http: HttpPolicy = field(default_factory=HttpPolicy)

    def __post_init__(self) -> None:
        url = urlparse(self.base_url)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise ValueError(f"base_url {self.base_url!r} is not an http(s) URL")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        if not self.instance:
            object.__setattr__(self, "instance", instance_name(self.base_url))
        if not _LABEL.match(self.instance):
            raise ValueError(f"instance {self.instance!r} is not a usable name (letters, digits, '.', '_', '-')")
        if not re.fullmatch(r"\d{1,4}", str(self.country_code)):
            raise ValueError(f"country_code {self.country_code!r} is not a country calling code (1 to 4 digits)")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone {self.timezone!r} is not an IANA time zone name") from None
        if not self.access_token and not (self.username and self.password):
            missing = [n for n in ("username", "password") if not getattr(self, n)]
            raise ValueError(
                f"Ziwo credentials incomplete: {' and '.join(missing)} not set "
                "(give username and password, or an access token)"
            )
        if self.page_size < 2:
            raise ValueError(f"page_size must be at least 2, got {self.page_size!r}")
        if self.max_pages < 1 or self.max_passes < 1:
            raise ValueError("max_pages and max_passes must be at least 1")
        register_secret(self.password)
        register_secret(self.access_token)

    @property
    def can_login(self) -> bool:
        return bool(self.username and self.password)

    @classmethod
    def from_sources(
        cls,
        options: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> ZiwoSettings:
        """Options win over environment variables; `instance` is turned into its base URL."""
        options = {k: v for k, v in (options or {}).items() if v not in (None, "")}
        environ = os.environ if environ is None else environ
        merged: dict[str, Any] = {}
        for key, variable in ENVIRONMENT.items():
            if key in options:
                merged[key] = options[key]
            elif environ.get(variable):
                merged[key] = environ[variable]
        # Options as a whole win: an --instance option beats ZIWO_BASE_URL from the environment.
        if "instance" in options and "base_url" not in options:
            merged.pop("base_url", None)
        if not merged.get("base_url"):
            if not merged.get("instance"):
                raise ValueError("no Ziwo instance given: set ZIWO_INSTANCE or ZIWO_BASE_URL")
            merged["base_url"] = instance_url(merged["instance"])
        if "page_size" in merged:
            try:
                merged["page_size"] = int(merged["page_size"])
            except ValueError:
                raise ValueError(f"page_size must be a whole number, got {merged['page_size']!r}") from None
        return cls(**merged, **extra)
