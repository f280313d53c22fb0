"""How a caller's number is matched to a CRM's (connectors/phone_numbers.py): every way people
write the same line matches, other lines that share its last digits do not."""

from __future__ import annotations

import pytest

from ziwo_reports.connectors.phone_numbers import national_number, same_number, significant_digits

SAME = [
    ("+971501234567", "050 123 4567"),  # typed nationally, with the trunk 0
    ("+971501234567", "+971 50 123 4567"),
    ("00971501234567", "971501234567"),  # international prefix; country code without a +
    ("+14155551212", "(415) 555-1212"),  # Salesforce's US formatting
    ("+14155551212", "1-415-555-1212"),
    ("0501234567", "+971501234567"),  # the caller national, the CRM international
    ("13912345678", "+86 139 1234 5678"),  # eleven digits that are a national (Chinese) mobile
]
DIFFERENT = [
    ("+14155551212", "(305) 555-1212"),  # same last seven digits, another area code
    ("+971501234567", "123 4567"),  # a local number without its area code could be anyone's
    ("+971501234567", "+971501234568"),
    ("+971504444444", "+44 20 504 444 4444"),  # another country's number ending with the same digits
    ("anonymous", ""),
    ("+97150", "+97150"),  # too short to name a line
]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_every_way_of_writing_a_line_is_the_same_number(a, b):
    assert same_number(a, b) and same_number(b, a)
    assert significant_digits(a).endswith(national_number(b)) or significant_digits(b).endswith(national_number(a))


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_other_lines_are_not(a, b):
    assert not same_number(a, b) and not same_number(b, a)


def test_the_national_number_is_what_every_format_ends_with():
    assert {national_number(n) for n in ("+971 50 123 4567", "00971501234567", "971501234567", "0501234567")} == {
        "501234567"
    }
    assert national_number("(415) 555-1212") == national_number("+1 415 555 1212") == "4155551212"
    assert national_number("withheld") == significant_digits("123") == ""
