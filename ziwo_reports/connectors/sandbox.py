"""Where a CRM target's test sends go: its sandbox, given as the options that differ there (a
sandbox org's domain and credentials, a sandbox subdomain, a test account's token).

`workflow test --send-test` sends one marked item to each target; a webhook marks the message
itself (`*.test`), but a CRM has no such mark: a test record is a record. So a CRM target sends
tests only to its sandbox, a separate system where a test can do no harm, and refuses without one.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field


def sandbox_field(allowed: tuple[str, ...], example: dict[str, str]) -> Any:
    """The `sandbox` option of a CRM target: which of its options differ in its sandbox."""
    return Field(
        default=None,
        title="Sandbox (test sends)",
        description=f"Where `workflow test --send-test` sends instead: the options that differ in the CRM's "
        f"sandbox, among {', '.join(allowed)} (e.g. {example}); empty: no test sends to this target.",
        examples=[example],
    )


def check_sandbox(sandbox: dict[str, Any] | None, allowed: tuple[str, ...]) -> dict[str, Any] | None:
    """The sandbox's options, each one the target may change there; ValueError naming any other."""
    if sandbox is None:
        return None
    if not sandbox:
        raise ValueError(f"is empty: give the options that differ in the sandbox ({', '.join(allowed)})")
    others = sorted(set(sandbox) - set(allowed))
    if others:
        raise ValueError(f"{', '.join(others)}: not an option a sandbox changes (only {', '.join(allowed)})")
    return sandbox


def in_sandbox(options: Any) -> Any:
    """The target's options as its sandbox has them (validated again), or ValueError without one.

    An option that stands in for another (a login URL for a domain, a base URL for a subdomain) is
    cleared when the sandbox gives the other (`sandbox_clears`), so the production address never
    stays in force beside the sandbox's.
    """
    sandbox = getattr(options, "sandbox", None)
    if not sandbox:
        raise ValueError(
            f"{options.type} target {options.target_name!r} has no sandbox: a test send to a CRM writes real "
            "records, so it goes only to the options given under `sandbox:` (its sandbox org, subdomain or "
            "test account)"
        )
    merged = {**options.model_dump(), **sandbox, "sandbox": None}
    for given, cleared in getattr(type(options), "sandbox_clears", {}).items():
        if given in sandbox and cleared not in sandbox:
            merged[cleared] = None
    return type(options).model_validate(merged)
