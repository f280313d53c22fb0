"""E-mail addresses as options hold them: `ops@acme.example` or `Ops Team <ops@acme.example>`.
Checked without I/O; anything that could break a header (a line break, a comma inside one entry)
is refused, so no option can add a header or a recipient of its own."""

from __future__ import annotations

import re
from email.headerregistry import Address
from email.policy import default

import idna

# RFC 5321's dot-atom local part (ASCII: a server without SMTPUTF8 takes nothing else).
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
MAX_ADDRESS = 254


def check_address(value: str) -> str:
    """The address as given (display name kept), or ValueError saying what is wrong with it."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("is empty: give an address such as ops@acme.example")
    if any(c in value for c in "\r\n\0"):
        raise ValueError("holds a line break: one address per entry")
    _name, addr = _parse(value)
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"has no local@domain address ({addr!r})")
    if len(addr) > MAX_ADDRESS:
        raise ValueError(f"is {len(addr)} characters long; an address has at most {MAX_ADDRESS}")
    if not _LOCAL.match(local):
        raise ValueError(f"local part {local!r} is not a plain ASCII mailbox name")
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode()
    except idna.IDNAError:
        raise ValueError(f"domain {domain!r} is not a valid domain name") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise ValueError(f"domain {domain!r} is not a valid domain name (a name with a dot, such as acme.example)")
    return value.strip()


def _parse(value: str) -> tuple[str, str]:
    """(display name, local@domain) of exactly one address, as the e-mail package's header parser
    reads it; ValueError for anything else (two addresses, a group, a parse defect)."""
    try:
        header = default.header_factory("To", value.strip())
        addresses = header.addresses
    except Exception:  # the parser's own errors on odd input
        addresses, header = (), None
    if (
        len(addresses) != 1
        or (header is not None and header.defects)
        or getattr(header, "groups", ((),))[0].display_name
    ):
        raise ValueError("is not one address such as ops@acme.example or 'Ops <ops@acme.example>'")
    address = addresses[0]
    return address.display_name, address.addr_spec


def header_address(value: str) -> Address:
    """An option's address as a header's Address (display name kept, IDN domain encoded)."""
    name, addr = _parse(value)
    local, _, domain = addr.rpartition("@")
    return Address(display_name=name, username=local, domain=idna.encode(domain, uts46=True).decode())


def envelope_address(value: str) -> str:
    """An option's address as SMTP's envelope takes it: local@domain, the domain in ASCII."""
    return header_address(value).addr_spec


def domain_of(value: str) -> str:
    return header_address(value).domain
