"""The shared rule (rules.allowed), reading Set-Cookie names per RFC 6265, reading the consent
cookie from Cookie headers, and the ASGI middleware on raw header lists."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from avowal.consent.cookie import format_value, parse_value
from avowal.integrations import ConsentCookiesASGI
from avowal.integrations.rules import NAMELESS, Reason, allowed, request_cookie, set_cookie_name
from avowal.policy.loader import load_file
from avowal.policy.schemas import CookieCategory as C
from tests.factories import EXAMPLE_POLICY

ID = "3f9c2b7a" * 4
VERSION = "a1b2c3d4e5f6"
POLICY = load_file(EXAMPLE_POLICY).policy


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("cm_content=c1; HttpOnly; Secure", "cm_content"),
        ("  cm_usage =u1;Path=/", "cm_usage"),
        ("cm_perf=p=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT", "cm_perf"),
        ('cm_consent="quoted"', "cm_consent"),
        ("__Host-session=s; Secure; Path=/", "__Host-session"),
        ("HttpOnly; cm_usage=u1", NAMELESS),
        ("=value-only", NAMELESS),
        ("", NAMELESS),
    ],
)
def test_the_cookie_name_is_read_before_the_first_equals_of_the_first_pair(
    header: str, name: str
) -> None:
    assert set_cookie_name(header) == name


def test_the_consent_cookie_is_read_from_any_cookie_header_first_one_wins() -> None:
    assert request_cookie(["a=1; cm_consent=first", "cm_consent=second"], "cm_consent") == "first"
    assert request_cookie(["a=1", " cm_consent = v ; b=2"], "cm_consent") == "v"
    assert request_cookie(["xcm_consent=1; cm_consent"], "cm_consent") is None


@pytest.mark.parametrize(
    ("name", "granted", "gpc", "reason"),
    [
        ("cm_consent", None, False, Reason.consent_cookie),
        ("tracker_x", None, False, Reason.undeclared),
        ("cm_usage", None, False, Reason.not_consented),
        ("cm_usage", {C.analytics}, False, Reason.consented),
        ("cm_content", {C.advertising}, True, Reason.global_privacy_control),
        ("cm_content", {C.advertising}, False, Reason.consented),
        ("cm_perf", {C.analytics}, False, Reason.not_consented),
    ],
)
def test_allowed_gives_one_reason_per_outcome(
    name: str, granted: set[C] | None, gpc: bool, reason: Reason
) -> None:
    consent = (
        None if granted is None else parse_value(format_value(ID, VERSION, frozenset(granted)))
    )
    decision = allowed(POLICY, consent, gpc, name)
    assert decision.reason is reason
    assert decision.keep is (reason not in (Reason.not_consented, Reason.global_privacy_control))


def test_a_strictly_necessary_cookie_and_a_policy_without_choice_keep_declared_cookies() -> None:
    necessary = POLICY.model_copy(
        update={
            "cookies": [
                *POLICY.cookies,
                POLICY.cookies[1].model_copy(
                    update={"name": "sid", "category": C.strictly_necessary}
                ),
            ]
        }
    )
    assert allowed(necessary, None, False, "sid").reason is Reason.strictly_necessary
    no_choice = POLICY.model_copy(
        update={"cookie_rules": POLICY.cookie_rules.model_copy(update={"can_refuse": False})}
    )
    assert allowed(no_choice, None, False, "cm_usage").reason is Reason.cannot_refuse
    assert allowed(no_choice, None, True, "cm_content").reason is Reason.global_privacy_control


async def _noop(scope: Any, receive: Any, send: Any) -> None:
    return None


def _run(middleware: ConsentCookiesASGI, scope: dict[str, Any], start: dict[str, Any]) -> list:
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(start)
        if start["type"] == "http.response.start":
            await send({"type": "http.response.body", "body": b"ok"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        sent.append(message)

    middleware.app = app
    asyncio.run(middleware(scope, receive, send))
    return sent


def test_asgi_header_lists_any_case_several_cookie_headers_and_websocket_accept() -> None:
    middleware = ConsentCookiesASGI(_noop, policy=EXAMPLE_POLICY)
    granted = format_value(ID, VERSION, frozenset({C.analytics}))
    scope = {
        "type": "http",
        "headers": [(b"cookie", b"lang=en"), (b"cookie", f"cm_consent={granted}".encode())],
    }
    start = {
        "type": "http.response.start",
        "status": 201,
        "headers": [
            (b"Set-Cookie", b"cm_usage=u1; HttpOnly"),
            (b"SET-COOKIE", b"cm_content=c1; HttpOnly; Secure"),
            (b"set-cookie", b"cm_perf=p1"),
            (b"content-type", b"text/plain"),
        ],
    }
    sent = _run(middleware, scope, start)
    assert sent[0]["status"] == 201 and sent[1]["body"] == b"ok"
    assert sent[0]["headers"] == [
        (b"Set-Cookie", b"cm_usage=u1; HttpOnly"),
        (b"content-type", b"text/plain"),
    ]
    assert start["headers"][1] == (b"SET-COOKIE", b"cm_content=c1; HttpOnly; Secure")

    accept = {"type": "websocket.accept", "headers": [(b"set-cookie", b"cm_content=c1")]}
    sent = _run(middleware, {"type": "websocket", "headers": []}, accept)
    assert sent[0]["headers"] == []


def test_asgi_lifespan_and_header_less_starts_pass_untouched() -> None:
    middleware = ConsentCookiesASGI(_noop, policy=EXAMPLE_POLICY)
    start = {"type": "http.response.start", "status": 204}
    assert _run(middleware, {"type": "http"}, start)[0] is start
    lifespan = {"type": "lifespan.startup.complete", "headers": [(b"set-cookie", b"cm_perf=1")]}
    assert _run(middleware, {"type": "lifespan"}, lifespan)[0] is lifespan
