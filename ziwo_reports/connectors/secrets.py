"""Where a delivery's secrets come from: a Prefect block, or the environment. Options name them,
never hold them.

A target's `credentials` option is a reference:

- `acme-hook`: the document of that name of the connector's block type (e.g. a "Webhook
  Credentials" block saved in the Prefect UI, whose secret fields are `SecretStr`, obfuscated);
- `env:ACME_HOOK`: the same fields from environment variables `ACME_HOOK_<FIELD>` (e.g.
  `ACME_HOOK_SIGNING_SECRETS`), for the command line and CI; a list field takes a
  whitespace- or comma-separated list.

Every secret value loaded is registered with `ziwo_reports.redaction`, so no log line, error or
ledger row shows it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from prefect.blocks.core import Block
from pydantic import SecretStr, ValidationError

from ziwo_reports.redaction import register_secret

B = TypeVar("B", bound=Block)

ENV_PREFIX = "env:"
#: What a reference may be: a block document name, or env: and a variable prefix.
REFERENCE = r"^(env:[A-Z][A-Z0-9_]*|[a-z0-9][a-z0-9-]*)$"


class CredentialsError(ValueError):
    """Credentials that cannot be had; one line naming the reference (never a secret)."""


#: What a token pasted where a block's name goes looks like: a HubSpot private-app token
#: (`pat-na1-<uuid>`), any name holding a UUID, or a long run of hex. Block names are words.
LOOKS_LIKE_A_TOKEN = re.compile(r"^pat-|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{24,}")


def check_reference(value: str) -> str:
    """A reference as the options hold it; ValueError naming it when it is neither form. A value
    that looks like a token itself is refused without being repeated (and masked from then on)."""
    if re.match(REFERENCE, value) and LOOKS_LIKE_A_TOKEN.search(value):
        register_secret(value)  # the error that names the field must not show it
        raise ValueError(
            "this looks like a token itself, not where one is kept: save the token in a credentials block "
            "(ziwo-reports save-block) or an environment variable, and name that here (a block name, or env:PREFIX)"
        )
    if not re.match(REFERENCE, value):
        raise ValueError(
            f"{value!r} is neither the name of a Prefect block (lowercase letters, digits and dashes) "
            "nor env:PREFIX (environment variables PREFIX_<FIELD>, uppercase)"
        )
    return value


def check_mode_needs(block: Any, needs: Mapping[str, tuple[str, ...]]) -> None:
    """ValueError naming what the block's auth mode (`block.auth`) needs and it lacks; a secret
    counts as given only when it is not empty."""
    missing = [name for name in needs[block.auth] if not _given(getattr(block, name))]
    if missing:
        raise ValueError(f"auth {block.auth!r} needs {' and '.join(missing)}")


def secret_text(value: SecretStr | None) -> str:
    """A secret's value, or "" for none."""
    return value.get_secret_value() if value is not None else ""


def _given(value: object) -> bool:
    if isinstance(value, SecretStr):
        return bool(value.get_secret_value())
    return bool(value)


def _from_environment(block_type: type[B], prefix: str, environ: Mapping[str, str]) -> B:
    values: dict[str, Any] = {}
    for name, field in block_type.model_fields.items():
        raw = environ.get(f"{prefix}_{name.upper()}")
        if raw is None or raw.strip() == "":
            continue
        annotation = str(field.annotation)
        if annotation.startswith("list[") or annotation.startswith("typing.List"):
            values[name] = [part for part in re.split(r"[\s,]+", raw.strip()) if part]
        elif annotation.startswith("dict["):
            values[name] = dict(
                part.split("=", 1) for part in (p.strip() for p in raw.split(";")) if part and "=" in part
            )
        else:
            values[name] = raw.strip()
    if not values:
        raise CredentialsError(f"credentials 'env:{prefix}': no environment variable {prefix}_<FIELD> is set")
    try:
        return block_type(**values)
    except ValidationError as problems:
        error = problems.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise CredentialsError(
            f"credentials 'env:{prefix}': {prefix}_{str(error['loc'][0]).upper()} ({where}): {error['msg']}"
        ) from None


def _secret_values(value: Any) -> list[str]:
    if isinstance(value, SecretStr):
        return [value.get_secret_value()]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _secret_values(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _secret_values(v)]
    return []


def load_credentials(block_type: type[B], reference: str, environ: Mapping[str, str] | None = None) -> B:
    """The credentials a reference names (see the module's docstring), every secret registered
    for redaction. CredentialsError when they cannot be had."""
    check_reference(reference)
    if reference.startswith(ENV_PREFIX):
        block = _from_environment(
            block_type, reference.removeprefix(ENV_PREFIX), os.environ if environ is None else environ
        )
    else:
        try:
            block = block_type.load(reference)
        except ValueError as problem:  # Prefect: no such block document
            kind = block_type.get_block_type_name()
            raise CredentialsError(f"credentials {reference!r}: no {kind!r} block of that name ({problem})") from None
        except Exception as problem:  # the Prefect API is down or unset
            raise CredentialsError(
                f"credentials {reference!r}: the Prefect API could not be asked for it ({type(problem).__name__}: "
                f"{problem}); use env:PREFIX to read them from the environment"
            ) from None
    for name in block_type.model_fields:
        for secret in _secret_values(getattr(block, name)):
            register_secret(secret)
    return block
