"""Believe X-Forwarded-For/-Proto only from the reverse proxies the operator names."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

FORWARDED_FOR = b"x-forwarded-for"
FORWARDED_PROTO = b"x-forwarded-proto"
SCHEMES = {"http": {"http": "http", "https": "https"}, "websocket": {"http": "ws", "https": "wss"}}


class ProxyConfigError(ValueError):
    """A ``trusted_proxies`` entry that is neither an IP address nor a network."""


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Parse addresses and CIDR networks (IPv4 or IPv6); raise naming the first bad entry."""
    networks: list[Network] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ProxyConfigError(
                f"AVOWAL_TRUSTED_PROXIES: {entry!r} is not an IP address or network "
                "(write e.g. 10.0.0.5, 10.0.0.0/8 or fd00::/8)"
            ) from None
    return tuple(networks)


def parse_address(text: str) -> Address | None:
    """Return the IP address in ``text`` (brackets allowed around IPv6), or None."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; match them against IPv4 entries.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class ProxyHeaders:
    """ASGI middleware rewriting ``scope["client"]`` and ``scope["scheme"]`` behind a proxy.

    Only when the TCP peer is a trusted proxy: the client is the right-most X-Forwarded-For
    address that is not itself a trusted proxy (everything to its left was written by parties
    nobody vouches for), and the scheme is the right-most X-Forwarded-Proto value, the one the
    nearest proxy added. From any other peer both headers are removed from the request, so no
    code downstream can be fooled by reading them.
    """

    def __init__(self, app: ASGIApp, trusted: Iterable[str]) -> None:
        self.app = app
        self.networks = parse_networks(trusted)

    def is_trusted(self, address: Address | None) -> bool:
        """Say whether ``address`` belongs to a configured proxy."""
        return address is not None and any(address in net for net in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in SCHEMES:
            scope = self.rewrite(scope)
        await self.app(scope, receive, send)

    def rewrite(self, scope: Scope) -> Scope:
        """Return the scope as the real client sees it."""
        client = scope.get("client")
        # With no trusted proxy configured no peer can be one: skip parsing its address.
        peer = parse_address(client[0]) if client and self.networks else None
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        if not self.is_trusted(peer):
            kept = [(k, v) for k, v in headers if k not in (FORWARDED_FOR, FORWARDED_PROTO)]
            if len(kept) == len(headers):
                return scope
            return {**scope, "headers": kept}
        scope = dict(scope)
        forwarded_for = [v.decode("latin-1") for k, v in headers if k == FORWARDED_FOR]
        if forwarded_for:
            hops = [h for v in forwarded_for for h in v.split(",")]
            host = str(peer)
            for hop in reversed(hops):
                address = parse_address(hop)
                if address is None:
                    # Garbage from the hop before: stop at the last address a proxy vouched for.
                    break
                host = str(address)
                if not self.is_trusted(address):
                    break
            scope["client"] = (host, 0)
        protos = [v.decode("latin-1") for k, v in headers if k == FORWARDED_PROTO]
        if protos:
            proto = ",".join(protos).split(",")[-1].strip().lower()
            scheme = SCHEMES[scope["type"]].get(proto)
            if scheme is not None:
                scope["scheme"] = scheme
        return scope
