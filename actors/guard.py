"""Address policy for outgoing requests: which URLs may be fetched, and which addresses reached.

A URL is checked in two steps. `check_url` looks at its text (scheme, host, userinfo);
`resolve_allowed` resolves the host and refuses it if ANY address it resolves to is not a
public one. The caller then connects to one of the returned addresses itself, so the address
that was checked is the address that is reached (no second lookup for DNS rebinding to race).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, quote, urlsplit

from actors.errors import PermanentFailure, TransientFailure
from storage.vocabulary import FailureReason

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# What resolves a name: socket.getaddrinfo's signature (host, port, type=...).
Lookup = Callable[..., list[tuple[Any, ...]]]

DEFAULT_PORTS = {"http": 80, "https": 443}

# Characters left as they are in a request target: RFC 3986 reserved ones, and "%" so that
# escapes already present survive. Anything else (spaces, non-ASCII) is percent-encoded.
_TARGET_SAFE = "!#$%&'()*+,/:;=?@[]~"

# The RFC 6052 well-known NAT64 prefix: the last 32 bits are the IPv4 address reached.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

# Hosts that inet_aton may read as an IPv4 address (decimal, octal, hex, fewer than 4 parts).
_LOOSE_IPV4 = re.compile(r"^[0-9a-fx.]+$")


@dataclass(frozen=True)
class ParsedTarget:
    """A URL that passed the textual checks, split the way a connection needs it."""

    url: str  # the URL as given, without its fragment; redirects are resolved against it
    scheme: str
    host: str  # lower-case, IDNA-encoded, IPv6 without brackets
    port: int
    path: str  # path and query, percent-encoded, never empty

    @property
    def host_header(self) -> str:
        """The Host header: brackets around IPv6, the port only when it is not the default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if DEFAULT_PORTS[self.scheme] == self.port else f"{host}:{self.port}"


def _invalid(url: str, why: str) -> PermanentFailure:
    return PermanentFailure(FailureReason.INVALID_URL, f"{why}: {url[:200]}")


def check_url(url: str) -> ParsedTarget:
    """Parse `url` and refuse what must never be fetched, before any name is resolved."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise _invalid(url, f"not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise _invalid(url, "only http and https URLs can be fetched")
    if "@" in parts.netloc:
        # Userinfo is refused: credentials do not belong in a CSV, and `a@b` hides the real host.
        raise _invalid(url, "a URL with a user name or password is refused")
    host = _host(parts, url)
    if port == 0:
        raise _invalid(url, "port 0 cannot be reached")
    target = quote(parts.path or "/", safe=_TARGET_SAFE)
    if parts.query:
        target += "?" + quote(parts.query, safe=_TARGET_SAFE)
    url = parts._replace(fragment="").geturl()
    return ParsedTarget(url, scheme, host, port or DEFAULT_PORTS[scheme], target)


def _host(parts: SplitResult, url: str) -> str:
    if not parts.hostname:
        raise _invalid(url, "the URL names no host")
    try:
        # Names go on the wire (DNS, Host, SNI) in their ASCII form.
        return parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise _invalid(url, "the host name is not a valid domain name") from None


def resolve_allowed(
    host: str, port: int, allow_private: bool, lookup: Lookup | None = None
) -> list[str]:
    """Resolve `host` (with `lookup`, else getaddrinfo); refuse it if ANY address is blocked."""
    addresses = _resolve(host, port, lookup or socket.getaddrinfo)
    if allow_private:
        return addresses
    for address in addresses:
        if is_blocked_ip(ipaddress.ip_address(address)):
            raise PermanentFailure(
                FailureReason.BLOCKED_ADDRESS,
                f"{host} resolves to {address}, which is not a public address",
            )
    return addresses


def _resolve(host: str, port: int, lookup: Lookup) -> list[str]:
    try:
        infos = lookup(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno == socket.EAI_AGAIN:
            # The resolver itself failed, not the name: another attempt may well succeed.
            raise TransientFailure(
                FailureReason.UPSTREAM_ERROR, f"could not resolve host {host} now"
            ) from None
        raise PermanentFailure(
            FailureReason.UPSTREAM_ERROR, f"could not resolve host {host}"
        ) from None
    except UnicodeError:
        raise PermanentFailure(
            FailureReason.INVALID_URL, f"the host name {host!r} is not valid"
        ) from None
    # getaddrinfo has already normalised decimal, octal and hex IPv4 spellings, so the policy
    # only ever sees canonical addresses. A scope id ("fe80::1%eth0") is kept for connecting.
    return list(dict.fromkeys(_canonical(str(info[4][0])) for info in infos))


def _canonical(address: str) -> str:
    """IPv4-mapped IPv6 (::ffff:a.b.c.d) is connected to, and judged, as the IPv4 it maps."""
    parsed = ipaddress.ip_address(address)
    mapped = getattr(parsed, "ipv4_mapped", None)
    return str(mapped) if mapped else address


def is_blocked_ip(address: IPAddress) -> bool:
    """True when `address` is not a public unicast address an image or webhook may live at."""
    embedded = _embedded_ipv4(address)
    if embedded is not None and is_blocked_ip(embedded):
        return True
    if isinstance(address, ipaddress.IPv6Address) and (address.ipv4_mapped or address in _NAT64):
        # These are only ways of reaching an IPv4 address, judged just above.
        return False
    # `is_global` alone is not enough: multicast counts as global, and what it covers has
    # changed between Python releases; the explicit flags keep the policy stable.
    return (
        not address.is_global
        or address.is_multicast
        or address.is_reserved
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address leads to: mapped, NAT64 or 6to4 forms."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def is_blocked_literal(host: str) -> bool:
    """True when `host` is an address literal (in any spelling) in a blocked range.

    For the API's check of a `webhook_url` at upload: names are not resolved there, only at
    delivery. The caller skips this check when private URLs are allowed.
    """
    literal = _parse_literal(host.strip().strip("[]").lower())
    return literal is not None and is_blocked_ip(literal)


def _parse_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not _LOOSE_IPV4.match(host):
        return None
    try:
        # The spellings a resolver also accepts: 2130706433, 0x7f.1, 0177.0.0.1, 127.1.
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None
