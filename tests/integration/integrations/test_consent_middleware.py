"""The site's own application behind the consent middleware: a Starlette app (ASGI) and a plain
WSGI callable, each setting one cookie per category of the example policy and an undeclared one.
Only the policy file is needed: no database, no avowal server."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from avowal.consent.cookie import format_value
from avowal.integrations import ConsentCookiesASGI, ConsentCookiesWSGI, rules
from avowal.policy.loader import load_file
from avowal.policy.schemas import CookieCategory as C
from tests.factories import EXAMPLE_POLICY, write_policy

ID = "3f9c2b7a" * 4
VERSION = "a1b2c3d4e5f6"
# A distinctive value: it must never reach a log line.
TRACKER_VALUE = "fictional-tracker-value-0142"
# (name, value, attributes) of each cookie the test application sets.
SET = [
    ("cm_consent", f"v1.{ID}.{VERSION}.none", "Path=/; SameSite=Lax"),
    ("cm_usage", "u1", "Path=/; Max-Age=3600"),
    ("cm_content", "c1", "HttpOnly; Secure; Path=/; Expires=Wed, 21 Oct 2037 07:28:00 GMT"),
    ("cm_perf", "p1", "Path=/"),
    ("tracker_x", TRACKER_VALUE, "Path=/"),
]
BODY = b"the site's own page"

Server = Callable[..., list[str]]


def _asgi_app(extra: list[str]) -> Starlette:
    async def page(request: Request) -> PlainTextResponse:
        response = PlainTextResponse(BODY.decode())
        for name, value, attributes in SET:
            response.headers.append("set-cookie", f"{name}={value}; {attributes}")
        for name in extra:
            response.set_cookie(name, "x", httponly=True, secure=True)
        return response

    return Starlette(routes=[Route("/", page)])


def _wsgi_app(extra: list[str]) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        headers = [("Content-Type", "text/plain")]
        headers += [("Set-Cookie", f"{n}={v}; {a}") for n, v, a in SET]
        headers += [("set-cookie", f"{n}=x; HttpOnly; Secure") for n in extra]
        start_response("200 OK", headers)
        return [BODY]

    return app


def _names(set_cookies: list[str]) -> list[str]:
    return [header.split("=", 1)[0] for header in set_cookies]


@pytest.fixture(params=["asgi", "wsgi"])
def serve(request: pytest.FixtureRequest) -> Callable[..., tuple[Server, Any]]:
    """Return a factory: (policy, extra cookie names) -> (a request function, the middleware)."""

    def make(policy: Any = EXAMPLE_POLICY, extra: list[str] | None = None) -> tuple[Server, Any]:
        if request.param == "asgi":
            asgi = ConsentCookiesASGI(_asgi_app(extra or []), policy=policy)
            client = TestClient(asgi)

            def get_asgi(cookie: str | None = None, gpc: bool = False) -> list[str]:
                headers = {"Sec-GPC": "1"} if gpc else {}
                if cookie is not None:
                    headers["Cookie"] = cookie
                response = client.get("/", headers=headers)
                assert response.status_code == 200 and response.content == BODY
                return _names(response.headers.get_list("set-cookie"))

            return get_asgi, asgi

        wsgi = ConsentCookiesWSGI(_wsgi_app(extra or []), policy=policy)

        def get_wsgi(cookie: str | None = None, gpc: bool = False) -> list[str]:
            environ: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": "/"}
            if cookie is not None:
                environ["HTTP_COOKIE"] = cookie
            if gpc:
                environ["HTTP_SEC_GPC"] = "1"
            started: list[tuple[str, list[tuple[str, str]]]] = []

            def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
                started.append((status, headers))
                return lambda data: None

            body = b"".join(wsgi(environ, start_response))
            assert body == BODY and started[0][0] == "200 OK"
            assert ("Content-Type", "text/plain") in started[0][1]
            return _names([v for k, v in started[0][1] if k.lower() == "set-cookie"])

        return get_wsgi, wsgi

    return make


def consent(*granted: C) -> str:
    return f"lang=en; cm_consent={format_value(ID, VERSION, frozenset(granted))}; theme=dark"


def test_without_consent_only_the_consent_cookie_and_the_undeclared_one_pass(serve: Any) -> None:
    get, _ = serve()
    assert get() == ["cm_consent", "tracker_x"]


def test_consent_to_analytics_lets_its_cookie_pass_and_not_advertising(serve: Any) -> None:
    get, _ = serve()
    assert get(consent(C.analytics)) == ["cm_consent", "cm_usage", "tracker_x"]


def test_everything_granted_lets_every_cookie_pass(serve: Any) -> None:
    get, middleware = serve()
    granted = consent(C.analytics, C.advertising, C.performance, C.functional)
    assert get(granted) == [name for name, _, _ in SET]
    assert middleware.enforcer.metrics.dropped == {}


def test_global_privacy_control_drops_advertising_even_when_granted(serve: Any) -> None:
    get, middleware = serve()
    granted = consent(C.analytics, C.advertising, C.performance)
    assert get(granted, gpc=True) == ["cm_consent", "cm_usage", "cm_perf", "tracker_x"]
    assert middleware.enforcer.metrics.dropped == {"advertising": 1}


def test_global_privacy_control_is_ignored_when_the_policy_does_not_honour_it(
    serve: Any, tmp_path: Path
) -> None:
    def no_gpc(data: dict[str, Any]) -> None:
        data["cookie_rules"]["honour_global_privacy_control"] = False

    get, _ = serve(load_file(write_policy(tmp_path, no_gpc)))
    assert "cm_content" in get(consent(C.advertising), gpc=True)


@pytest.mark.parametrize(
    "cookie",
    [
        f"cm_consent=v2.{ID}.{VERSION}.analytics-advertising-performance",
        f"cm_consent=v1.{ID}.{VERSION}.analytics-everything",
        f"cm_consent=v1.not-an-id.{VERSION}.analytics",
        "cm_consent=",
        "cm_consent",
        "other_consent=" + format_value(ID, VERSION, frozenset({C.analytics})),
    ],
)
def test_a_malformed_consent_cookie_reads_as_none(serve: Any, cookie: str) -> None:
    get, _ = serve()
    assert get(cookie) == ["cm_consent", "tracker_x"]


def test_an_undeclared_cookie_passes_and_is_reported_once_by_name_only(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    get, middleware = serve()
    with caplog.at_level(logging.WARNING, logger="avowal.integrations"):
        for cookie in (None, consent(C.analytics), consent()):
            assert "tracker_x" in get(cookie)
    reports = [r for r in caplog.records if "tracker_x" in r.getMessage()]
    assert len(reports) == 1 and reports[0].name == "avowal.integrations"
    assert TRACKER_VALUE not in caplog.text
    assert middleware.undeclared == {"tracker_x": 3}


def test_a_pattern_declared_cookie_is_judged_by_its_pattern(serve: Any, tmp_path: Path) -> None:
    def ga(data: dict[str, Any]) -> None:
        data["cookies"].append(
            {
                "name": "_ga_*",
                "provider": "Example Analytics",
                "category": "analytics",
                "lifetime": "13 months",
                "purpose": "analytics.reporting",
                "description": "Counts visits for the fictional analytics provider.",
            }
        )

    get, middleware = serve(write_policy(tmp_path, ga), extra=["_ga_EXAMPLE42"])
    assert "_ga_EXAMPLE42" not in get()
    assert "_ga_EXAMPLE42" in get(consent(C.analytics))
    assert middleware.undeclared == {"tracker_x": 2}


def test_an_error_inside_the_rules_leaves_the_response_intact(
    serve: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    get, middleware = serve()

    def broken(*args: Any) -> Any:
        raise ValueError(f"internal failure near {TRACKER_VALUE}")

    monkeypatch.setattr(rules, "allowed", broken)
    with caplog.at_level(logging.ERROR, logger="avowal.integrations"):
        assert get() == [name for name, _, _ in SET]
    assert middleware.enforcer.metrics.errors == len(SET)
    assert "ValueError" in caplog.text and TRACKER_VALUE not in caplog.text


def test_an_error_filtering_the_headers_leaves_the_response_intact(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    get, middleware = serve()

    def broken(*args: Any) -> Any:
        raise RuntimeError("filter failure")

    monkeypatch.setattr(type(middleware), "_filter", broken)
    assert get() == [name for name, _, _ in SET]
    assert middleware.enforcer.metrics.errors == 1


def test_an_error_reading_the_consent_cookie_still_drops_what_was_not_shown_consented(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    get, _ = serve()

    def broken(*args: Any) -> Any:
        raise RuntimeError("reading failure")

    monkeypatch.setattr(rules, "visitor", broken)
    assert get(consent(C.analytics)) == ["cm_consent", "tracker_x"]


def test_the_policy_is_taken_as_a_path_a_string_or_a_loaded_policy(tmp_path: Path) -> None:
    loaded = load_file(EXAMPLE_POLICY)
    for source in (EXAMPLE_POLICY, str(EXAMPLE_POLICY), loaded):
        middleware = ConsentCookiesWSGI(_wsgi_app([]), policy=source)
        assert middleware.enforcer.policy.cookie_rules.consent_cookie == "cm_consent"


def test_starlette_add_middleware_as_documented() -> None:
    app = _asgi_app([])
    app.add_middleware(ConsentCookiesASGI, policy=EXAMPLE_POLICY)
    response = TestClient(app).get("/", headers={"Cookie": consent(C.performance)})
    assert _names(response.headers.get_list("set-cookie")) == ["cm_consent", "cm_perf", "tracker_x"]
