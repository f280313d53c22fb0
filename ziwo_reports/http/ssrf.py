"""Requests to URLs that users type (webhooks, HTTP APIs) reach only public addresses.

A session given to `guard_session` resolves each host itself when it opens a connection, refuses
it when any address the name resolves to is not public (private, loopback, link-local such as
169.254.169.254, shared, multicast, reserved, IPv4-mapped, or a public 6to4/Teredo/NAT64 wrapper
of one of those), and connects to the very address it checked: a name that resolves elsewhere a
moment later (DNS rebinding) cannot swap it. TLS still verifies the host name. Every connection is
checked, so a same-host redirect and a reused pool are too.

Prefect's `SSRFProtectedHTTPTransport` does the same for httpx; this is its counterpart for the
requests sessions of our one HTTP policy, a little stricter (`is_global` rather than
`is_private`: 100.64.0.0/10 and multicast are refused too). A guarded session ignores the
environment's proxies and ~/.netrc: a proxy would resolve the name itself, out of our sight.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection

from ziwo_reports.http.errors import HttpError
from ziwo_reports.http.policy import _WatchedAdapter

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
SCHEMES = ("http", "https")


class AddressRefused(HttpError):
    """A URL whose host is, or resolves to, an address that is not public."""


def address_problem(ip: IPAddress) -> str | None:
    """What kind of address `ip` is when it is not a public one to send to ("a loopback
    address"), or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return "an IPv4-mapped address"
        embedded = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and (inner := address_problem(embedded)):
            return f"a wrapper of {embedded}, {inner}"
    kind = (
        "loopback" if ip.is_loopback
        else "link-local" if ip.is_link_local
        else "multicast" if ip.is_multicast
        else "unspecified" if ip.is_unspecified
        else "private" if ip.is_private
        else "reserved" if ip.is_reserved
        else None if ip.is_global
        else "non-public"
    )  # fmt: skip
    return None if kind is None else f"a {kind} address"


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def check_url(url: str) -> str:
    """The URL's host, when the URL is http(s) with a host; ValueError naming what is wrong. No I/O."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018  (a port that is not a number raises here)
    except ValueError as problem:
        raise ValueError(f"{url!r} is not a URL: {problem}") from None
    if parts.scheme.lower() not in SCHEMES:
        raise ValueError(f"{url!r}: only http and https URLs are allowed")
    if not host:
        raise ValueError(f"{url!r} has no host")
    return host


def public_addresses(host: str, port: int | None = None) -> list[str]:
    """Every address `host` resolves to, when all are public; AddressRefused otherwise."""
    host = host.strip("[]").rstrip(".")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as problem:
        raise AddressRefused(f"host {host!r} does not resolve: {problem}", url=host) from None
    addresses: list[str] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]  # no IPv6 zone
        ip = ipaddress.ip_address(text)
        problem = address_problem(ip)
        if problem is not None:
            what = f"{host} is {problem}" if text == host else f"host {host!r} resolves to {text}, {problem}"
            raise AddressRefused(f"{what}: only public addresses may be sent to", url=host)
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise AddressRefused(f"host {host!r} resolves to no address", url=host)
    return addresses


class _PublicOnlyConnection:
    """Mixed into urllib3's connection classes: resolve, check every address, connect to a checked one."""

    def _new_conn(self) -> socket.socket:
        addresses = public_addresses(self._dns_host, self.port)  # type: ignore[attr-defined]
        last: OSError | None = None
        for address in addresses:
            try:
                return connection.create_connection(
                    (address, self.port),  # type: ignore[attr-defined]
                    self.timeout,  # type: ignore[attr-defined]
                    source_address=self.source_address,  # type: ignore[attr-defined]
                    socket_options=self.socket_options,  # type: ignore[attr-defined]
                )
            except TimeoutError as problem:
                raise ConnectTimeoutError(self, f"Connection to {self.host} timed out") from problem  # type: ignore[attr-defined]
            except OSError as problem:  # another address of the name may answer
                last = problem
        raise NewConnectionError(self, f"Failed to establish a new connection: {last}")  # type: ignore[arg-type]


class PublicOnlyAdapter(_WatchedAdapter):
    """requests' adapter under the policy's deadline, connecting to public addresses only."""

    connection_mixins = (_PublicOnlyConnection,)


def guard_session(session: requests.Session | None = None, **adapter: Any) -> requests.Session:
    """`session` (or a new one) sending to public addresses only; see the module's docstring."""
    session = session or requests.Session()
    session.trust_env = False
    guarded = PublicOnlyAdapter(**adapter)
    for scheme in SCHEMES:
        session.mount(f"{scheme}://", guarded)
    return session


def is_guarded(session: requests.Session, url: str) -> bool:
    return isinstance(session.get_adapter(url), PublicOnlyAdapter)
