"""The address policy: which URLs may be fetched and which addresses reached.

These tests only parse, resolve and judge addresses; none of them connects anywhere. Names
are either `localhost` (from /etc/hosts) or answered by a stand-in resolver.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from actors.errors import PermanentFailure, TransientFailure
from actors.guard import check_url, is_blocked_ip, is_blocked_literal, resolve_allowed

BLOCKED = [
    "127.0.0.1",  # loopback
    "127.255.255.254",
    "10.1.2.3",  # private
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # link-local, the cloud metadata service
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",  # unspecified: reaches the local host on Linux
    "0.1.2.3",  # "this network"
    "224.0.0.1",  # multicast
    "224.0.1.1",  # multicast that Python counts as global
    "240.0.0.1",  # reserved
    "255.255.255.255",  # broadcast
    "192.0.2.1",  # documentation
    "198.18.0.1",  # benchmarking
    "::1",
    "::",
    "fe80::1",  # link-local
    "fc00::1",  # unique local
    "fd12:3456::1",
    "fec0::1",  # deprecated site-local
    "ff02::1",  # multicast
    "ff0e::1",  # global-scope multicast
    "2001:db8::1",  # documentation
    "::ffff:127.0.0.1",  # IPv4-mapped forms of blocked IPv4
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    "64:ff9b::7f00:1",  # NAT64 to 127.0.0.1
    "2002:7f00:1::1",  # 6to4 from 127.0.0.1
    "2002:a00:1::1",  # 6to4 from 10.0.0.1
]

PUBLIC = [
    "93.184.216.34",
    "8.8.8.8",
    "2606:4700:4700::1111",
    "::ffff:93.184.216.34",  # IPv4-mapped public IPv4
    "64:ff9b::5db8:d822",  # NAT64 to 93.184.216.34
]


# check_url


def test_a_plain_url_is_split_for_connecting() -> None:
    target = check_url("https://Images.Example.com/a/b.jpg?size=2#top")

    assert (target.scheme, target.host, target.port) == ("https", "images.example.com", 443)
    assert target.path == "/a/b.jpg?size=2"
    assert target.url == "https://Images.Example.com/a/b.jpg?size=2"  # no fragment
    assert target.host_header == "images.example.com"


def test_a_port_and_an_ipv6_host_are_kept_for_the_host_header() -> None:
    target = check_url("http://[2606:4700::1]:8080")

    assert (target.host, target.port, target.path) == ("2606:4700::1", 8080, "/")
    assert target.host_header == "[2606:4700::1]:8080"


def test_unsafe_characters_in_the_path_are_percent_encoded() -> None:
    target = check_url("http://example.com/caf\u00e9 menu.jpg?q=\u00e9%20x")

    assert target.path == "/caf%C3%A9%20menu.jpg?q=%C3%A9%20x"


def test_an_international_host_is_sent_in_its_ascii_form() -> None:
    assert check_url("http://b\u00fccher.example/x").host == "xn--bcher-kva.example"


@pytest.mark.parametrize(
    "url",
    [
        "http://user@example.com/a.jpg",
        "http://user:secret@example.com/a.jpg",
        "http://@example.com/a.jpg",
        "http://example.com@127.0.0.1/a.jpg",
    ],
)
def test_userinfo_is_refused(url: str) -> None:
    with pytest.raises(PermanentFailure) as failure:
        check_url(url)
    assert failure.value.reason == "invalid_url"
    assert "user name" in failure.value.message


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/a.jpg",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_INFO",
        "data:image/png;base64,AAAA",
        "javascript:alert(1)",
        "//example.com/a.jpg",
        "example.com/a.jpg",
    ],
)
def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(PermanentFailure) as failure:
        check_url(url)
    assert failure.value.reason == "invalid_url"


@pytest.mark.parametrize(
    "url", ["http:///a.jpg", "http://", "http://example.com:99999/", "http://example.com:0/"]
)
def test_a_missing_host_or_impossible_port_is_refused(url: str) -> None:
    with pytest.raises(PermanentFailure) as failure:
        check_url(url)
    assert failure.value.reason == "invalid_url"


# is_blocked_ip


@pytest.mark.parametrize("address", BLOCKED)
def test_non_public_addresses_are_blocked(address: str) -> None:
    assert is_blocked_ip(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert not is_blocked_ip(ipaddress.ip_address(address))


# resolve_allowed (numeric hosts are parsed by getaddrinfo without any DNS query)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "2130706433",  # decimal
        "0x7f.1",  # hex, short form
        "0x7f000001",
        "0177.0.0.1",  # octal
        "127.1",
        "0",
        "localhost",
        "::1",
        "::ffff:127.0.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::",
    ],
)
def test_hosts_that_reach_blocked_addresses_are_refused(host: str) -> None:
    with pytest.raises(PermanentFailure) as failure:
        resolve_allowed(host, 80, allow_private=False)
    assert failure.value.reason == "blocked_address"


def test_a_public_literal_passes_the_policy() -> None:
    assert resolve_allowed("93.184.216.34", 443, allow_private=False) == ["93.184.216.34"]


def test_an_ipv4_mapped_address_is_returned_as_the_ipv4_it_reaches() -> None:
    assert resolve_allowed("::ffff:93.184.216.34", 80, allow_private=False) == ["93.184.216.34"]


@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "localhost"])
def test_allow_private_lets_loopback_through(host: str) -> None:
    assert resolve_allowed(host, 80, allow_private=True) == ["127.0.0.1"]


def _resolver(*addresses: str) -> Any:
    """A stand-in for socket.getaddrinfo that answers every name with `addresses`."""

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(_family(a), socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    return getaddrinfo


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def test_one_blocked_address_among_public_ones_blocks_the_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a name whose records mix a public and a private address
    monkeypatch.setattr(socket, "getaddrinfo", _resolver("93.184.216.34", "10.0.0.7"))

    # When it is resolved under the default policy, Then the whole name is refused
    with pytest.raises(PermanentFailure) as failure:
        resolve_allowed("mixed.example", 80, allow_private=False)
    assert failure.value.reason == "blocked_address"
    assert "10.0.0.7" in failure.value.message


def test_a_public_name_returns_every_address_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        socket, "getaddrinfo", _resolver("2606:4700::1", "93.184.216.34", "93.184.216.34")
    )

    assert resolve_allowed("cdn.example", 443, allow_private=False) == [
        "2606:4700::1",
        "93.184.216.34",
    ]


def _failing_resolver(errno: int) -> Any:
    def getaddrinfo(*args: Any, **kwargs: Any) -> list[Any]:
        raise socket.gaierror(errno, "stand-in resolver failure")

    return getaddrinfo


def test_a_name_that_does_not_exist_fails_for_good(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _failing_resolver(socket.EAI_NONAME))

    with pytest.raises(PermanentFailure) as failure:
        resolve_allowed("no-such-host.example", 80, allow_private=False)
    assert failure.value.reason == "upstream_error"
    assert "could not resolve host no-such-host.example" in failure.value.message


def test_a_resolver_that_fails_for_now_is_transient(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _failing_resolver(socket.EAI_AGAIN))

    with pytest.raises(TransientFailure) as failure:
        resolve_allowed("flaky-dns.example", 80, allow_private=False)
    assert failure.value.reason == "upstream_error"


# is_blocked_literal (the upload's check of webhook_url: literals only, names pass)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "2130706433",
        "0x7f.1",
        "0177.0.0.1",
        "10.0.0.1",
        "169.254.169.254",
        "::1",
        "[::1]",
        "::ffff:127.0.0.1",
        "0.0.0.0",
    ],
)
def test_blocked_literals_are_recognised_in_any_spelling(host: str) -> None:
    assert is_blocked_literal(host)


@pytest.mark.parametrize(
    "host", ["93.184.216.34", "2606:4700::1", "localhost", "example.com", "cafe", "deadbeef.io"]
)
def test_public_literals_and_names_are_not_blocked_at_upload(host: str) -> None:
    assert not is_blocked_literal(host)
