"""The client's address and scheme behind reverse proxies, believed only from trusted proxies.

Behind a reverse proxy (nginx, Caddy, a load balancer) the connection comes from the proxy:
``REMOTE_ADDR`` is the proxy's address and the scheme is plain ``http`` even when the client
used TLS; the proxy tells who the client was in ``X-Forwarded-For``, ``X-Forwarded-Proto`` and
``X-Forwarded-Host``. Anyone can send those headers, so ``TrustedProxies`` reads them only when
the connection comes from an address in ``TRUSTED_PROXIES``, and removes them from every
request, so nothing behind it (the per-client limits, logs) can read a forged one.

It must wrap everything else (the outermost WSGI middleware): whatever runs before it sees the
proxy's address instead of the client's.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST")
PEER = "senacs.peer"  # the environ key keeping the connection's own address
SCHEMES = ("http", "https")
_HOST = re.compile(r"(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_WITH_PORT = re.compile(r"\[(?P<v6>[^\]]+)\](?::\d+)?|(?P<v4>\d+\.\d+\.\d+\.\d+):\d+")


def parse_networks(entries: Iterable[object] | str | None) -> tuple[Network, ...]:
    """``TRUSTED_PROXIES`` as networks: addresses (``10.0.0.5``) or CIDR (``10.0.0.0/8``).

    A string is read as a comma-separated list (an environment variable that is not JSON).
    An entry that is neither raises ``ValueError`` naming it: a typo must not silently
    trust nobody, or everybody.
    """
    if entries is None:
        return ()
    if isinstance(entries, str):
        entries = [e for e in entries.split(",") if e.strip()]
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            raise ValueError(f"TRUSTED_PROXIES: {entry!r} is not an IP address or network "
                             "(e.g. \"10.0.0.5\" or \"10.0.0.0/8\")") from None
    return tuple(networks)


def parse_address(text: str | None) -> Address | None:
    """An IP address from a connection or a forwarded hop; None if it is not one.

    Tolerates a port (``1.2.3.4:80``, ``[::1]:80``), as some proxies write one, and reads an
    IPv4-mapped IPv6 address (``::ffff:10.0.0.1``, from a dual-stack socket) as the IPv4 one.
    """
    text = (text or "").strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        found = _WITH_PORT.fullmatch(text)
        if not found:
            return None
        try:
            address = ipaddress.ip_address(found.group("v6") or found.group("v4"))
        except ValueError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _values(header: str | None) -> list[str]:
    """A list header's values (several header lines arrive joined by commas)."""
    return [v.strip() for v in (header or "").split(",") if v.strip()]


def _at_hop(values: list[str], hop: int) -> str | None:
    """The value written by the proxy that received the client's connection (``hop`` from the
    right); the left-most value when fewer were written (proxies that overwrite, not append)."""
    if not values:
        return None
    if hop and len(values) >= hop:
        return values[-hop]
    return values[0] if hop else values[-1]


class TrustedProxies:
    """WSGI middleware: ``REMOTE_ADDR``, ``wsgi.url_scheme`` and ``HTTP_HOST`` from the
    ``X-Forwarded-*`` headers of trusted proxies only (werkzeug's ProxyFix, but by address
    rather than by a count of hops)."""

    def __init__(self, app: Callable, trusted: Iterable[Network]) -> None:
        self.app = app
        self.networks = tuple(trusted)

    def trusts(self, address: Address | None) -> bool:
        return address is not None and any(address in network for network in self.networks)

    def client(self, peer: Address, forwarded_for: list[str]) -> tuple[Address, int]:
        """The client's address and its hop (1 = the last entry): the right-most entry that is
        not a trusted proxy. Entries left of it were written by the client itself and are not
        believed; an entry that is not an address ends the walk there."""
        client, hop = peer, 0
        for depth, text in enumerate(reversed(forwarded_for), start=1):
            address = parse_address(text)
            if address is None:
                break
            client, hop = address, depth
            if not self.trusts(address):
                break
        return client, hop

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        peer_text = environ.get("REMOTE_ADDR", "")
        environ[PEER] = peer_text
        headers = {key: environ.pop(key, None) for key in FORWARDED}
        peer = parse_address(peer_text)
        if self.networks and self.trusts(peer):
            self.apply(environ, peer, headers)
        return self.app(environ, start_response)

    def apply(self, environ: dict, peer: Address, headers: dict[str, str | None]) -> None:
        client, hop = self.client(peer, _values(headers["HTTP_X_FORWARDED_FOR"]))
        environ["REMOTE_ADDR"] = str(client)
        scheme = (_at_hop(_values(headers["HTTP_X_FORWARDED_PROTO"]), hop) or "").lower()
        if scheme in SCHEMES:
            environ["wsgi.url_scheme"] = scheme
        host = _at_hop(_values(headers["HTTP_X_FORWARDED_HOST"]), hop)
        if host and _HOST.fullmatch(host):
            environ["HTTP_HOST"] = host
