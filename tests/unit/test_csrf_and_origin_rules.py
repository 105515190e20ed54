"""The console's CSRF and Origin rules as functions: what a form POST must carry to be accepted.

The integration tests (tests/integration/console/test_csrf_and_origin.py) send every console
form of the authorization matrix; these pin the edges of each rule: which URLs have an origin,
which origins are allowed where, which header a refusal names, and what counts as a token.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from avowal.console.deps import (
    CsrfRefused,
    OriginRefused,
    allowed_origins,
    check_csrf,
    check_origin,
    form_csrf_token,
    origin_of,
)
from avowal.settings import Settings

TOKEN = "k3Yb0aRd-cat-walked-over-the-keys-0123456789"


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://[::1]:8000/console", "http://[::1]:8000"),
        ("https://[2001:db8::1]/", "https://[2001:db8::1]"),
        ("https://console.example.com:8443/x", "https://console.example.com:8443"),
        ("http://console.example.com:80/", "http://console.example.com"),
        ("http:///console", None),  # no host
        ("https://", None),
        ("ftp://console.example.com/", None),  # not a web origin
        ("http://console.example.com:99999/", None),  # no such port
    ],
)
def test_the_origin_of_a_url(url: str, origin: str | None) -> None:
    assert origin_of(url) == origin


def fake_request(
    headers: dict[str, str], method: str = "POST", url: str = "http://testserver/console/x"
) -> Any:
    """Return what the rules read of a request: its method, URL and headers."""
    return SimpleNamespace(method=method, url=httpx.URL(url), headers=httpx.Headers(headers))


def test_production_accepts_only_the_public_url_even_when_left_at_its_default(
    tmp_path: Path,
) -> None:
    # A production server refuses to start on the default public URL; if it ever did, the
    # request's Host header would still not be trusted.
    prod = Settings(env="production", data_dir=tmp_path)
    request = fake_request({"host": "attacker.example.com"})
    assert allowed_origins(request, prod) == {"http://127.0.0.1:8000"}


def test_a_request_without_host_adds_no_origin_in_development(tmp_path: Path) -> None:
    dev = Settings(env="development", data_dir=tmp_path)
    request = fake_request({})
    assert allowed_origins(request, dev) == {"http://127.0.0.1:8000"}
    with_host = fake_request({"host": "192.0.2.10:8000"})
    assert allowed_origins(with_host, dev) == {"http://127.0.0.1:8000", "http://192.0.2.10:8000"}


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"origin": "https://evil.example.com"}, "Origin: https://evil.example.com"),
        (
            {"origin": "https://evil.example.com", "referer": "http://testserver/console"},
            "Origin: https://evil.example.com",
        ),
        ({"referer": "https://evil.example.com/page"}, "Referer: https://evil.example.com/page"),
    ],
)
def test_an_origin_refusal_names_the_header_and_the_origins_allowed(
    tmp_path: Path, headers: dict[str, str], named: str
) -> None:
    settings = Settings(
        env="production", public_url="https://console.example.com", data_dir=tmp_path
    )
    with pytest.raises(OriginRefused) as refused:
        check_origin(fake_request(headers), settings)
    assert refused.value.message == (
        f"this form was sent from another site ({named}); console forms are accepted only "
        "from the console's own pages at https://console.example.com"
    )
    assert refused.value.details == {"header": named.split(":")[0]}


def test_a_post_from_the_console_itself_or_without_either_header_passes(tmp_path: Path) -> None:
    settings = Settings(
        env="production", public_url="https://console.example.com", data_dir=tmp_path
    )
    check_origin(fake_request({"origin": "https://console.example.com"}), settings)
    check_origin(fake_request({"referer": "https://console.example.com/console/people"}), settings)
    check_origin(fake_request({}), settings)  # the CSRF token decides
    check_origin(fake_request({"origin": "https://evil.example.com"}, method="GET"), settings)


def form_request(body: bytes, content_type: str) -> Request:
    """Return a POST request carrying ``body``."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        more, sent = not sent, True
        return {"type": "http.request", "body": body if more else b"", "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/console/x",
        "headers": [(b"content-type", content_type.encode())],
        "query_string": b"",
    }
    return Request(scope, receive)


def read_token(body: bytes, content_type: str) -> str:
    async def read() -> str:
        request = form_request(body, content_type)
        try:
            return await form_csrf_token(request)
        finally:
            await request.close()  # the uploaded file's spool

    return asyncio.run(read())


def test_the_form_token_is_the_csrf_token_field_or_empty() -> None:
    form = "application/x-www-form-urlencoded"
    assert read_token(f"csrf_token={TOKEN}&q=x".encode(), form) == TOKEN
    assert read_token(b"q=x", form) == ""
    # A file named csrf_token is no token.
    boundary = "b0undary"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="csrf_token"; filename="token.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
        f"{TOKEN}\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    assert read_token(body, f"multipart/form-data; boundary={boundary}") == ""


def test_a_wrong_or_missing_csrf_token_is_refused_with_a_reason() -> None:
    ctx: Any = SimpleNamespace(csrf_token=TOKEN)
    check_csrf(ctx, TOKEN)
    for given in (None, "", TOKEN[:-1], TOKEN + "x"):
        with pytest.raises(CsrfRefused) as refused:
            check_csrf(ctx, given)
        assert refused.value.message == (
            "the form's security token is missing or out of date; reload the page"
        )
        assert refused.value.status_code == 403


def test_an_origin_refusal_shows_at_most_100_characters_of_the_header_and_every_origin_allowed(
    tmp_path: Path,
) -> None:
    long = "https://" + "a" * 150 + ".example.com"
    dev = Settings(env="development", data_dir=tmp_path)
    request = fake_request({"origin": long, "host": "192.0.2.10:8000"})
    with pytest.raises(OriginRefused) as refused:
        check_origin(request, dev)
    assert refused.value.message == (
        f"this form was sent from another site (Origin: {long[:100]}); console forms are "
        "accepted only from the console's own pages at http://127.0.0.1:8000, "
        "http://192.0.2.10:8000"
    )
