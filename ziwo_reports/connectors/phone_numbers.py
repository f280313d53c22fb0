"""Callers' numbers as the CRMs are searched for them, one rule for Salesforce, Zendesk and HubSpot.

Ziwo gives a caller's number in E.164 (`+971501234567`) or with an international prefix
(`00971501234567`); a CRM holds whatever people typed: `+971 50 123 4567`, `050 123 4567`,
`971501234567`, `(415) 555-1212`. Every one of those ends with the number's national significant
number (no country code, no trunk 0: `501234567`), so that is what the connectors search for, and
each candidate found is confirmed with `same_number` (a search that matches the end of a number
also finds others that share those digits).
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers

#: Fewer significant digits than this name too many lines to pick a customer by.
MIN_DIGITS = 7
#: A number that ends with another's national number is the same line only if that number has at
#: least these digits (a 7-digit local number without its area code could be anyone's).
MIN_SUFFIX_DIGITS = 8


def significant_digits(number: Any) -> str:
    """The digits, without +, spaces, dashes or leading zeros (international or trunk prefix);
    empty when fewer than MIN_DIGITS remain."""
    digits = re.sub(r"\D", "", str(number or "")).lstrip("0")
    return digits if len(digits) >= MIN_DIGITS else ""


def _international(number: Any) -> phonenumbers.PhoneNumber | None:
    """The number read with its country code, when it is written with one: a leading + or 00, or
    eleven digits and more that make a valid international number (eleven digits may also be a
    national number, a Chinese mobile's)."""
    text = str(number or "").strip()
    digits = re.sub(r"\D", "", text)
    explicit = text.startswith("+") or digits.startswith("00")
    if not explicit and len(digits.lstrip("0")) < 11:
        return None
    try:
        parsed = phonenumbers.parse("+" + digits.lstrip("0"), None)
    except phonenumbers.NumberParseException:
        return None
    return parsed if explicit or phonenumbers.is_valid_number(parsed) else None


def national_number(number: Any) -> str:
    """The national significant number: `+971 50 123 4567`, `00971501234567` and `971501234567`
    give `501234567`; a number without a country code (`050 123 4567`, `(415) 555-1212`) gives
    its significant digits. Empty when too short to match by."""
    parsed = _international(number)
    if parsed is None:
        return significant_digits(number)
    national = str(parsed.national_number)
    return national if len(national) >= MIN_DIGITS else ""


def same_number(a: Any, b: Any) -> bool:
    """Whether two numbers, as written anywhere, are the same line. Both with a country code: the
    same country and national number. Otherwise the same national number, or one's digits ending
    with the other's national number of at least MIN_SUFFIX_DIGITS (a CRM's `050 123 4567` for a
    caller's `+971501234567`)."""
    national_a, national_b = national_number(a), national_number(b)
    if not national_a or not national_b:
        return False
    full_a, full_b = _international(a), _international(b)
    if full_a is not None and full_b is not None:
        return (full_a.country_code, national_a) == (full_b.country_code, national_b)
    if national_a == national_b:
        return True
    digits_a, digits_b = significant_digits(a), significant_digits(b)
    return (len(national_b) >= MIN_SUFFIX_DIGITS and digits_a.endswith(national_b)) or (
        len(national_a) >= MIN_SUFFIX_DIGITS and digits_b.endswith(national_a)
    )
