"""Keeping the `contacts` table in step with the legs: the ingest refreshes the contacts a load
touched (sql/refresh_contacts.sql) and copies what they credit onto their legs
(sql/refresh_leg_credits.sql); the first ingest after an upgrade, or after the instance's country
code changed, builds them all again."""

from __future__ import annotations

from ziwo_reports.connectors.ziwo.assumptions import ANONYMOUS_NUMBERS
from ziwo_reports.warehouse import Warehouse

_ANONYMOUS = [number.lower() for number in ANONYMOUS_NUMBERS]


class ContactsNotBuilt(RuntimeError):
    """The warehouse holds legs whose contacts were never built (made by an older version)."""


def refresh_contacts(warehouse: Warehouse, country_code: str) -> None:
    """Build again the contacts in `touched_contacts`, and those sharing a caller with them; then
    what they credit their legs with."""
    span_from, span_until = warehouse.one("touched_span") or (None, None)
    if span_from is None:  # nothing touched
        return
    warehouse.run(
        "refresh_contacts",
        country_code=country_code,
        anonymous_numbers=_ANONYMOUS,
        span_from=span_from,
        span_until=span_until,
    )
    credits_from, credits_until = warehouse.one("changed_span") or (None, None)
    if credits_from is not None:
        warehouse.run("refresh_leg_credits", span_from=credits_from, span_until=credits_until)


def rebuild_contacts(warehouse: Warehouse, instance: str, country_code: str) -> None:
    warehouse.run("touch_all_contacts", instance=instance)
    refresh_contacts(warehouse, country_code)


def _state(warehouse: Warehouse, instance: str | None, country_code: str | None) -> tuple[bool, bool, bool]:
    """(has legs, has contacts, has contacts made with another country code)."""
    state = warehouse.one("contacts_state", instance=instance, country_code=country_code)
    assert state is not None  # one row of three EXISTS
    return state[0], state[1], state[2]


def ensure_contacts(warehouse: Warehouse, instance: str, country_code: str) -> bool:
    """Build every contact of the instance when they are missing or made with another country
    code. Returns whether it did."""
    has_legs, has_contacts, other_code = _state(warehouse, instance, country_code)
    if other_code or (has_legs and not has_contacts):
        rebuild_contacts(warehouse, instance, country_code)
        return True
    return False


def check_contacts(warehouse: Warehouse, instance: str | None) -> None:
    """Refuse to report on legs whose contacts were never built."""
    has_legs, has_contacts, _ = _state(warehouse, instance, None)
    if has_legs and not has_contacts:
        raise ContactsNotBuilt(
            f"the warehouse {warehouse.path} holds calls of instance {instance or '(all)'} but no contacts: "
            "run `ziwo-reports ingest` once to build them (the warehouse was made by an older version)"
        )
