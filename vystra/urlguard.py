"""Which URLs Vystra may fetch: public http(s) hosts only, unless an administrator allows more.

A URL is resolved here, once, and the fetcher connects to exactly the addresses checked here
(no second lookup a DNS answer could change in between). Refused: loopback, private, link-local,
multicast, unspecified, reserved, shared (CGNAT), documentation and cloud metadata addresses,
in IPv4 and IPv6, including IPv6 forms that carry an IPv4 address (mapped, 6to4, NAT64).
Numeric spellings of a host (``2130706433``, ``0x7f.1``, ``017700000001``) are resolved by
the system the same way the connection would be, so they are checked as the address they mean.

``VYSTRA_FETCH_ALLOW`` names exceptions: CIDR ranges (``10.20.0.0/16``) and host names
(``media.internal``, ``*.media.internal``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from vystra.errors import SourceError, SourceForbidden
from vystra.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

FORBIDDEN_MESSAGE = (
    "{url} is not fetched: Vystra reads only from public http(s) addresses, and this URL or"
    " a redirect it gave points elsewhere (an administrator may allow hosts with"
    " VYSTRA_FETCH_ALLOW)"
)

_BLOCKED = tuple(
    ipaddress.ip_network(n)
    for n in (
        # IPv4 (RFC 6890 special purpose, plus what clouds answer metadata on)
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",  # shared address space (CGNAT); Alibaba metadata 100.100.100.200
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local; AWS, GCP, Azure, OpenStack metadata 169.254.169.254
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "168.63.129.16/32",  # Azure's host endpoint (wireserver)
        # IPv6
        "::/96",  # unspecified, loopback and the deprecated IPv4-compatible form
        "100::/64",
        "2001::/23",  # protocol assignments, Teredo among them
        "2001:db8::/32",
        "3fff::/20",
        "5f00::/16",
        "64:ff9b:1::/48",  # local-use NAT64
        "fc00::/7",  # unique local; AWS metadata fd00:ec2::254
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # SIIT IPv4-translated
_HOSTNAME = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64, translated)."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or ip in _TRANSLATED:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_forbidden(ip: IPAddress) -> bool:
    """True for every address that is not a public unicast host."""
    inner = embedded_ipv4(ip)
    if inner is not None:  # the connection goes to the IPv4 address: judge that one
        return is_forbidden(inner)
    if any(ip.version == net.version and ip in net for net in _BLOCKED):
        return True
    return not ip.is_global or ip.is_multicast or ip.is_reserved


@dataclass(frozen=True)
class Allowlist:
    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()  # from "*.example.internal": ".example.internal"

    @classmethod
    def parse(cls, text: str) -> Allowlist:
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        suffixes: list[str] = []
        for entry in (e.strip().lower().rstrip(".") for e in text.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if not _HOSTNAME.match(entry):
                raise ValueError(f"VYSTRA_FETCH_ALLOW: {entry!r} is neither a CIDR nor a host name")
            if entry.startswith("*."):
                suffixes.append(entry[1:])
            else:
                hosts.add(entry)
        return cls(tuple(networks), frozenset(hosts), tuple(suffixes))

    def allows_host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in self.hosts or any(host.endswith(s) for s in self.suffixes)

    def allows_ip(self, ip: IPAddress) -> bool:
        inner = embedded_ipv4(ip)
        return any(
            (ip.version == n.version and ip in n) or (inner is not None and inner in n)
            for n in self.networks
        )


@lru_cache(maxsize=8)
def allowlist(text: str) -> Allowlist:
    return Allowlist.parse(text)


@dataclass(frozen=True)
class Target:
    """One checked hop: where to connect, and what to put in the request line and Host."""

    url: str
    scheme: str
    host: str  # ASCII, no brackets
    port: int
    path: str  # path and query, as sent
    addresses: tuple[str, ...]  # checked IPs, in the resolver's order

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


class Unresolvable(SourceError):
    """The host name has no address (it may still be fine later: DNS can be down)."""


def resolve(url: str, settings: Settings, *, shown: str | None = None) -> Target:
    """Check ``url`` and resolve its host; raise :class:`SourceForbidden` where it may not go.

    ``shown``: the URL named in errors (the user's own, not a redirect target they never saw).
    """
    shown = shown or url
    forbidden = SourceForbidden(FORBIDDEN_MESSAGE.format(url=shown))
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").encode("idna").decode("ascii")
        port = parts.port or (443 if scheme == "https" else 80)
    except (ValueError, UnicodeError):
        raise SourceError(f"{shown} is not a valid http(s) URL") from None
    if scheme not in ("http", "https"):
        raise forbidden  # a redirect to file://, s3://, gopher://, ...
    if not host:
        raise SourceError(f"{shown} is not a valid http(s) URL")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise Unresolvable(f"cannot download {shown}: the host {host} does not resolve") from None
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    allowed = allowlist(settings.fetch_allow)
    if not allowed.allows_host(host):
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%")[0])
            if is_forbidden(ip) and not allowed.allows_ip(ip):
                raise forbidden
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(url, scheme, host, port, path, addresses)


def check_source_url(url: str, settings: Settings) -> None:
    """The API's check before it accepts a URL: refuse what the fetcher would refuse.

    A name that does not resolve now is accepted: the fetch reports it, and DNS may be back.
    """
    with contextlib.suppress(Unresolvable):
        resolve(url, settings)
