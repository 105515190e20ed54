"""X-Forwarded-For/-Proto are believed from trusted proxies only."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from avowal.lib.proxy import ProxyConfigError, ProxyHeaders, parse_networks

TRUSTED = ["10.0.0.0/8", "192.0.2.7", "fd00::/8"]


def seen(
    peer: str | None,
    headers: list[tuple[str, str]],
    *,
    trusted: list[str] | None = None,
    kind: str = "http",
) -> dict[str, Any]:
    """Run the middleware on a request from ``peer``; return the scope the app received."""
    captured: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        captured.update(scope)

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        pass

    scope = {
        "type": kind,
        "scheme": "ws" if kind == "websocket" else "http",
        "path": "/",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
        "client": (peer, 51000) if peer is not None else None,
    }
    middleware = ProxyHeaders(app, TRUSTED if trusted is None else trusted)
    asyncio.run(middleware(scope, receive, send))
    return captured


def test_forged_headers_from_an_untrusted_peer_change_nothing_and_are_removed() -> None:
    scope = seen(
        "203.0.113.9",
        [("X-Forwarded-For", "10.0.0.1"), ("X-Forwarded-Proto", "https"), ("Host", "a")],
    )
    assert scope["client"] == ("203.0.113.9", 51000)
    assert scope["scheme"] == "http"
    assert scope["headers"] == [(b"host", b"a")]


def test_a_trusted_proxy_gives_the_client_address_and_scheme() -> None:
    scope = seen("10.1.2.3", [("X-Forwarded-For", "198.51.100.4"), ("X-Forwarded-Proto", "https")])
    assert scope["client"] == ("198.51.100.4", 0)
    assert scope["scheme"] == "https"


def test_the_client_is_the_right_most_address_not_a_trusted_proxy() -> None:
    # The visitor forged the first entry; the edge proxy appended the real one; an inner trusted
    # proxy appended the edge proxy's address.
    scope = seen("10.0.0.1", [("X-Forwarded-For", "6.6.6.6, 198.51.100.4, 192.0.2.7")])
    assert scope["client"] == ("198.51.100.4", 0)


def test_several_forwarded_for_headers_are_one_list() -> None:
    scope = seen("10.0.0.1", [("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "198.51.100.4")])
    assert scope["client"] == ("198.51.100.4", 0)


def test_when_every_hop_is_trusted_the_left_most_is_the_client() -> None:
    scope = seen("10.0.0.1", [("X-Forwarded-For", "10.9.9.9, 192.0.2.7")])
    assert scope["client"] == ("10.9.9.9", 0)


def test_garbage_stops_at_the_last_address_a_proxy_vouched_for() -> None:
    scope = seen("10.0.0.1", [("X-Forwarded-For", "198.51.100.4, <script>, 192.0.2.7")])
    assert scope["client"] == ("192.0.2.7", 0)
    scope = seen("10.0.0.1", [("X-Forwarded-For", "unknown")])
    assert scope["client"] == ("10.0.0.1", 0)


def test_ipv6_peers_networks_and_bracketed_addresses() -> None:
    scope = seen("fd12::1", [("X-Forwarded-For", "[2001:db8::5]"), ("X-Forwarded-Proto", "https")])
    assert scope["client"] == ("2001:db8::5", 0)
    assert scope["scheme"] == "https"
    untrusted = seen("2001:db8::1", [("X-Forwarded-Proto", "https")])
    assert untrusted["scheme"] == "http"


def test_an_ipv4_peer_on_a_dual_stack_socket_is_matched() -> None:
    scope = seen("::ffff:192.0.2.7", [("X-Forwarded-Proto", "https")])
    assert scope["scheme"] == "https"


def test_the_nearest_proxys_proto_counts_and_only_http_or_https() -> None:
    # A client claiming https before a proxy that appends the real scheme gains nothing.
    assert seen("10.0.0.1", [("X-Forwarded-Proto", "https, http")])["scheme"] == "http"
    assert seen("10.0.0.1", [("X-Forwarded-Proto", "HTTPS")])["scheme"] == "https"
    assert seen("10.0.0.1", [("X-Forwarded-Proto", "gopher")])["scheme"] == "http"


def test_websockets_get_ws_schemes() -> None:
    scope = seen("10.0.0.1", [("X-Forwarded-Proto", "https")], kind="websocket")
    assert scope["scheme"] == "wss"


def test_no_client_or_a_unix_socket_peer_is_untrusted() -> None:
    assert seen(None, [("X-Forwarded-Proto", "https")])["scheme"] == "http"
    assert seen("testclient", [("X-Forwarded-Proto", "https")])["scheme"] == "http"


def test_no_trusted_proxies_means_nobody_is_believed() -> None:
    scope = seen("127.0.0.1", [("X-Forwarded-For", "198.51.100.4")], trusted=[])
    assert scope["client"] == ("127.0.0.1", 51000)


def test_a_bad_entry_is_named() -> None:
    with pytest.raises(ProxyConfigError, match=r"'proxy\.example\.com' is not an IP"):
        parse_networks(["10.0.0.1", "proxy.example.com"])
    assert [str(n) for n in parse_networks(["10.0.0.1", "10.0.0.0/8", "::1"])] == [
        "10.0.0.1/32",
        "10.0.0.0/8",
        "::1/128",
    ]
