"""The SSRF guard of the HTTP toolkit: URLs users type reach public addresses only, and the
connection goes to the very address that was checked."""

from __future__ import annotations

import ipaddress
import socket

import pytest
import requests

from ziwo_reports.http import AddressRefused, HttpPolicy, address_problem, check_url, guard_session, send, ssrf

POLICY = HttpPolicy(attempts=3, backoff_base=0.001, backoff_max=0.01, connect_timeout=2, read_timeout=5)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.5.4", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("100.64.0.1", "non-public"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "private"),
        ("::ffff:127.0.0.1", "IPv4-mapped"),
        ("::ffff:8.8.8.8", "IPv4-mapped"),
        ("2002:7f00:1::1", "wrapper of 127.0.0.1"),
        ("64:ff9b::a9fe:a9fe", "wrapper of 169.254.169.254"),
    ],
)
def test_addresses_that_are_not_public_are_named(address, kind):
    problem = address_problem(ipaddress.ip_address(address))
    assert problem is not None and kind in problem


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "2606:4700::1111"])
def test_public_addresses_pass(address):
    assert address_problem(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com/x", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("http:///path", "no host"),
        ("https://example.com:99999/", "not a URL"),
        ("gopher://127.0.0.1:25/", "only http and https"),
    ],
)
def test_urls_other_than_http_are_refused_without_io(url, problem):
    with pytest.raises(ValueError, match=problem):
        check_url(url)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "127.1", "2130706433"])
def test_a_guarded_session_refuses_loopback_however_it_is_spelled(receiver, host):
    url = f"http://{host}:{receiver.port}/hook"
    with pytest.raises(AddressRefused, match=r"loopback|IPv4-mapped") as refused:
        send(guard_session(), "POST", url, policy=POLICY, json={"x": 1})
    assert "\n" not in str(refused.value)
    assert receiver.requests("/hook") == [], "the request went out"


def test_ipv6_loopback_and_the_metadata_address_are_refused():
    for url, kind in (("http://[::1]:9/", "loopback"), ("http://169.254.169.254/latest/meta-data/", "link-local")):
        with pytest.raises(AddressRefused, match=kind):
            send(guard_session(), "GET", url, policy=POLICY)


def test_a_refusal_is_not_retried(receiver, monkeypatch):
    calls = []
    real = socket.getaddrinfo
    monkeypatch.setattr(ssrf.socket, "getaddrinfo", lambda *a, **k: calls.append(a) or real(*a, **k))
    with pytest.raises(AddressRefused):
        send(guard_session(), "GET", receiver.url("/x"), policy=POLICY)
    assert len(calls) == 1


def test_a_plain_session_still_reaches_loopback(receiver):
    assert send(requests.Session(), "GET", receiver.url("/x"), policy=POLICY).status == 200


def test_the_connection_goes_to_the_address_that_was_checked(receiver, monkeypatch):
    """DNS rebinding: a name that answers a harmless address for the check and another one a
    moment later cannot swap it. Here 127.0.0.1 plays the public address (the rule is narrowed
    for the test) and every later answer is a refused one: the request still reaches 127.0.0.1,
    because the name is resolved once, by the guard, and urllib3 connects to the address."""
    answers = iter(["127.0.0.1"] + ["10.0.0.1"] * 10)
    resolved = []

    def resolver(host, port, *args, **kwargs):
        if host[0].isdigit():  # an address resolves to itself (urllib3 asks so when it connects)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (host, port))]
        resolved.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(ssrf.socket, "getaddrinfo", resolver)
    monkeypatch.setattr(ssrf, "address_problem", lambda ip: None if str(ip) == "127.0.0.1" else "a private address")
    reply = send(guard_session(), "POST", f"http://rebind.invalid:{receiver.port}/hook", policy=POLICY, json={})
    assert reply.status == 200 and resolved == ["rebind.invalid"]
    (got,) = receiver.requests("/hook")
    assert got.headers["host"] == f"rebind.invalid:{receiver.port}", "the Host header keeps the name"


def test_a_name_with_any_address_not_public_is_refused(monkeypatch):
    """A name that publishes a public and a private address is refused, whichever comes first."""

    def resolver(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ]

    monkeypatch.setattr(ssrf.socket, "getaddrinfo", resolver)
    with pytest.raises(AddressRefused, match=r"resolves to 10\.0\.0\.7, a private address"):
        send(guard_session(), "GET", "http://mixed.invalid/", policy=POLICY)


def test_a_guarded_session_ignores_proxies_from_the_environment(monkeypatch, receiver):
    monkeypatch.setenv("HTTP_PROXY", receiver.url("/proxy"))
    session = guard_session()
    assert session.trust_env is False
    with pytest.raises(AddressRefused):
        send(session, "GET", "http://127.0.0.1:9/", policy=POLICY)
    assert receiver.requests("/proxy") == []


def test_redirects_can_be_returned_rather_than_followed(receiver):
    receiver.fail("/moved", 307, location=receiver.url("/elsewhere"))
    reply = send(requests.Session(), "POST", receiver.url("/moved"), policy=POLICY, json={}, follow_redirects=False)
    assert reply.status == 307 and receiver.requests("/elsewhere") == []
