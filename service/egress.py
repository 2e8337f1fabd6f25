"""Where the service may send requests: callback URLs checked at submission and again at delivery.

A ``callback_url`` makes the service POST to an address a client chose, so
without a policy any role could reach what only the server can: Redis on
loopback, the service's own port, a cloud metadata address, the clinic's
private network. The rules (docs/security.md):

* At submission the URL is parsed (with httpx's parser, the one delivery uses)
  and refused with a reason when it is longer than :data:`MAX_URL_LENGTH`, is
  not ``http``/``https``, has no host, carries credentials (``user@host``), has
  a port outside 1-65535, or holds whitespace or control characters.
* Its host is resolved, every spelling of an address included (``2130706433``,
  ``0x7f.1``, ``0177.0.0.1``, ``[::ffff:127.0.0.1]``), and refused when any
  address it resolves to is loopback, link-local, private, shared (CGNAT),
  multicast, unspecified, reserved or otherwise not globally reachable, IPv4 or
  IPv6 (IPv6 forms that embed an IPv4 address are judged by that address),
  unless a network of the ``webhook_allow_networks`` setting names it.
* At delivery the host is resolved and checked again (a name may point
  elsewhere by then: DNS rebinding) and the connection goes to the address that
  was checked, with the name kept for the ``Host`` header and TLS.

The resolver is injectable (:func:`set_resolver`) so tests answer names from a
table and never send a query off the machine.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import httpx

__all__ = [
    "MAX_URL_LENGTH",
    "EgressRefused",
    "Resolver",
    "Target",
    "check_url",
    "parse_url",
    "pinned_request",
    "set_resolver",
    "system_resolver",
]

MAX_URL_LENGTH = 2048

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


class EgressRefused(ValueError):
    """The URL or the address it leads to may not be contacted; the message says why."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system's resolver gives for ``host``."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


_resolver: Resolver = system_resolver


def set_resolver(resolver: Resolver | None) -> Resolver:
    """Use ``resolver`` for every later check (None: the system's); returns the one it replaces."""
    global _resolver
    before, _resolver = _resolver, resolver or system_resolver
    return before


@dataclass(frozen=True)
class Target:
    """A callback URL that passed the checks, and the address it was checked against."""

    url: httpx.URL
    host: str
    address: IPAddress


def _has_control(text: str) -> bool:
    return any(ord(c) < 0x21 or ord(c) == 0x7F for c in text)


def parse_url(raw: str) -> httpx.URL:
    """Parse and check the form of a callback URL; raises :class:`EgressRefused` naming what is wrong."""
    if len(raw) > MAX_URL_LENGTH:
        raise EgressRefused(f"longer than {MAX_URL_LENGTH} characters ({len(raw)})")
    if _has_control(raw) or any(c.isspace() for c in raw):
        raise EgressRefused("contains whitespace or control characters")
    try:
        url = httpx.URL(raw)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise EgressRefused(f"not a valid URL ({exc})") from None
    if url.scheme not in ("http", "https"):
        raise EgressRefused(f"scheme {url.scheme or 'missing'!r}: expected http or https")
    if url.userinfo:
        raise EgressRefused("credentials (user:password@) are not allowed in a callback URL")
    if not url.host:
        raise EgressRefused("no host")
    port = url.port
    if port is not None and not 1 <= port <= 65535:
        raise EgressRefused(f"port {port} is outside 1-65535")
    if url.fragment:
        raise EgressRefused("a fragment (#...) is never sent; leave it out")
    return url


def _inet_aton(host: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address in any spelling ``inet_aton`` accepts (and so connect() would use), else None.

    One to four parts, each decimal, octal (leading 0) or hex (0x): ``2130706433``,
    ``0x7f000001``, ``0177.0.0.1``, ``127.1``.
    """
    parts = host.split(".")
    if parts and parts[-1] == "":  # a trailing dot, as in "127.0.0.1."
        parts = parts[:-1]
    if not 1 <= len(parts) <= 4:
        return None
    values = []
    for p in parts:
        try:
            if p[:2].lower() == "0x":
                v = int(p[2:] or "0", 16)
            elif len(p) > 1 and p[0] == "0":
                v = int(p[1:], 8)
            else:
                v = int(p, 10) if p.isdigit() else -1
        except ValueError:
            return None
        if v < 0:
            return None
        values.append(v)
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    n = last
    for i, v in enumerate(head):
        n |= v << (8 * (3 - i))
    return ipaddress.IPv4Address(n)


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` spells, if it is an address (any IPv4 spelling, or IPv6 with or without brackets)."""
    h = host.strip("[]")
    if ":" in h:
        try:
            return ipaddress.IPv6Address(h.split("%", 1)[0])
        except ValueError:
            return None
    return _inet_aton(h)


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64 or ip in _NAT64_LOCAL:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if int(ip) >> 32 == 0 and int(ip) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _why_internal(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address (None when it is)."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            why = _why_internal(inner)
            return f"{why} (IPv4 {inner} inside IPv6)" if why else None
        if ip.is_site_local:
            return "site-local"
    for attr, name in (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_reserved", "reserved"),
        ("is_private", "private"),
    ):
        if getattr(ip, attr):
            return name
    if not ip.is_global:
        return "not globally reachable"
    return None


def _allowed(ip: IPAddress, allow: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    candidates: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        candidates.append(ip.ipv4_mapped)
    return any(c.version == net.version and c in net for c in candidates for net in allow)


def networks(specs: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(s.strip(), strict=False) for s in specs if s.strip()]


def check_url(raw: str, allow: Iterable[str] = ()) -> Target:
    """Parse ``raw``, resolve its host and check every address; the first address is the one to use.

    Raises :class:`EgressRefused` with a reason naming the host and the kind of address.
    """
    url = parse_url(raw)
    host = url.host
    port = url.port or (443 if url.scheme == "https" else 80)
    literal = literal_address(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            found = _resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise EgressRefused(f"host {host!r} does not resolve ({exc})") from None
        addresses = []
        for a in found:
            try:
                addresses.append(ipaddress.ip_address(a.split("%", 1)[0]))
            except ValueError:
                raise EgressRefused(f"host {host!r} resolved to {a!r}, not an address") from None
        if not addresses:
            raise EgressRefused(f"host {host!r} does not resolve")
    allow_nets = networks(allow)
    for ip in addresses:
        why = _why_internal(ip)
        if why and not _allowed(ip, allow_nets):
            shown = host if str(ip) == host.strip("[]") else f"{host} ({ip})"
            raise EgressRefused(
                f"{shown} is a {why} address; callbacks go to public addresses only "
                "(an operator may allow networks with MOTIONSCRIPT_WEBHOOK_ALLOW_NETWORKS)"
            )
    return Target(url=url, host=host, address=addresses[0])


def pinned_request(target: Target) -> tuple[httpx.URL, dict[str, str], dict[str, object]]:
    """The URL with the checked address in place of the name, the Host header and the TLS name.

    The connection then goes where the check looked, whatever the name resolves to a
    moment later; the server still sees its name in ``Host`` and in TLS (SNI and the
    certificate check).
    """
    ip = target.address
    url = target.url.copy_with(host=str(ip))
    host_header = target.url.netloc.decode("ascii")  # the name, and the port when it is not the default
    extensions: dict[str, object] = {}
    if target.url.scheme == "https":
        extensions["sni_hostname"] = target.host
    return url, {"Host": host_header}, extensions
