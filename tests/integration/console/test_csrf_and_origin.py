"""Every console POST checks its CSRF token and its origin, and refuses unstorable text.

The cases come from the authorization matrix (:data:`CASES`), so a new console form is covered
as soon as the matrix classifies it. Each POST is sent by a caller the matrix expects to get past
the sign-in (a staff member whose role may use the route where there is one; for the sign-in and
enrolment forms, a browser holding the form's double-submit cookie), once as the form would be
sent, and then:

- without its CSRF token, and with a wrong one: refused 403 by the CSRF check;
- from a page of another site (``Origin``, or ``Referer`` without ``Origin``), or with
  ``Origin: null``: refused 403 by the origin check;
- with a NUL or a noncharacter in each of its form fields: 400 naming the field.

A refusal leaves nothing behind: not one audit entry more. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import func, select

from avowal.audit.models import AuditEntry
from tests.integration.test_authorization_matrix import (
    ACK,
    CALLERS,
    CASES,
    LOGIN,
    Case,
    Who,
    World,
    built_world,
)

CSRF_REFUSED = "security token is missing or out of date"
ORIGIN_REFUSED = "was sent from another site"
ORIGIN = "http://testserver"  # the test client's own origin (development default public_url)
EVIL = "https://evil.example.com"
TOKEN_IN_PAGE = re.compile(r'name="csrf_token" value="([^"]+)"')

ANONYMOUS = next(w for w in CALLERS if w.kind == "anonymous")
CONSOLE_POSTS = [c for c in CASES if c.method == "POST" and c.route.startswith("/console")]


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ],
)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One populated server per database for the whole module."""
    folder = tmp_path_factory.mktemp("csrf")
    if request.param == "sqlite":
        with built_world(f"sqlite:///{folder / 'avowal.sqlite3'}", folder) as built:
            yield built
        return
    server = request.getfixturevalue("postgres_server")
    url = server.create_database()
    try:
        with built_world(url, folder) as built:
            yield built
    finally:
        server.drop_database(url)


def before_sign_in(case: Case) -> bool:
    """Tell whether a form is used before signing in (sign-in, enrolment)."""
    return case.expect(ANONYMOUS) != LOGIN


def sender(case: Case) -> Who:
    """Return the caller a case is tried as: one the matrix lets past the sign-in."""
    if before_sign_in(case):
        return ANONYMOUS
    staff = [w for w in CALLERS if w.kind == "staff"]
    passing = [w for w in staff if case.expect(w) not in (LOGIN, ACK)]
    allowed = [w for w in passing if not case.expect(w).startswith("403")]
    # Sign-out answers every caller with the sign-in page: any staff member will do.
    return (allowed or passing or staff)[0]


def audit_count(world: World) -> int:
    with world.app.state.sessionmaker() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def send(
    world: World,
    case: Case,
    *,
    token: str | None = "right",
    headers: dict[str, str] | None = None,
    change: dict[str, Any] | None = None,
) -> tuple[httpx.Response, int]:
    """Send a case's form as its sender; return the answer and how many audit entries it added.

    ``token`` is "right" (the session's, or the sign-in page's), None (left out) or a value.
    """
    who = sender(case)
    extra = case.prepare(world, who) if case.prepare else {}
    params = {**world.params, **extra}
    client = world.client
    client.cookies.clear()
    cred = world.creds[who.name]
    cookies: dict[str, str] = {}
    right = extra.get("csrf", cred.csrf)
    session = extra.get("session", cred.session)
    url = case.url.format(**params)
    if session:
        cookies["avowal_session"] = session
    else:  # a form signed in by nobody yet: the double-submit cookie of its page
        page = client.get(url)
        found = TOKEN_IN_PAGE.search(page.text)
        assert found is not None, f"{case.id}: no form token on {url}"
        right = found.group(1)
        cookies["avowal_csrf"] = client.cookies["avowal_csrf"]
        client.cookies.clear()
    form = {
        k: v.format(**params) if isinstance(v, str) else v for k, v in (case.form or {}).items()
    }
    if token is not None:
        form["csrf_token"] = right if token == "right" else token
    form.update(change or {})
    before = audit_count(world)
    cookie_header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    answer = client.post(
        url,
        data=form,
        headers={"Cookie": cookie_header, **(headers or {})},
        follow_redirects=False,
    )
    added = audit_count(world) - before
    if case.cleanup:
        case.cleanup(world)
    return answer, added


def fields_of(world: World, case: Case) -> list[str]:
    """Return the form fields a console POST route reads, from the route itself."""
    for context in iter_route_contexts(world.app.routes):
        route = context.original_route
        if context.path == case.route and "POST" in (context.methods or ()):
            assert isinstance(route, APIRoute)
            return sorted({p.alias for p in route.dependant.body_params} | {"csrf_token"})
    raise AssertionError(f"no route {case.route}")


def test_every_console_post_of_the_matrix_is_tried() -> None:
    routes = {c.route for c in CONSOLE_POSTS}
    assert {"/console/login", "/console/break-glass/start", "/console/legal/new"} <= routes
    assert len(routes) >= 10


@pytest.mark.parametrize("case", CONSOLE_POSTS, ids=[c.id for c in CONSOLE_POSTS])
def test_a_console_post_without_the_right_csrf_token_is_refused(world: World, case: Case) -> None:
    sent, _ = send(world, case)
    assert CSRF_REFUSED not in sent.text and ORIGIN_REFUSED not in sent.text, sent.text
    for token in (None, "x" * 43):
        answer, added = send(world, case, token=token)
        assert answer.status_code == 403, (token, answer.text)
        assert CSRF_REFUSED in answer.text and "text/html" in answer.headers["content-type"]
        assert added == 0


@pytest.mark.parametrize("case", CONSOLE_POSTS, ids=[c.id for c in CONSOLE_POSTS])
def test_a_console_post_from_another_origin_is_refused(world: World, case: Case) -> None:
    same, _ = send(world, case, headers={"Origin": ORIGIN, "Referer": f"{ORIGIN}/console"})
    assert ORIGIN_REFUSED not in same.text and CSRF_REFUSED not in same.text, same.text
    for headers in (
        {"Origin": EVIL},
        {"Origin": "null"},
        {"Origin": f"{EVIL}", "Referer": f"{ORIGIN}/console"},
        {"Referer": f"{EVIL}/page"},
        {"Origin": "http://testserver.evil.example.com"},
    ):
        answer, added = send(world, case, headers=headers)
        assert answer.status_code == 403, (headers, answer.text)
        assert ORIGIN_REFUSED in answer.text and "Form refused" in answer.text
        assert added == 0


@pytest.mark.parametrize("case", CONSOLE_POSTS, ids=[c.id for c in CONSOLE_POSTS])
def test_unstorable_text_in_any_field_of_a_console_form_is_refused(
    world: World, case: Case
) -> None:
    for name in fields_of(world, case):
        for bad in ("a\x00b", "a\ufffeb"):
            value: Any = [bad] if isinstance((case.form or {}).get(name), list) else bad
            answer, added = send(world, case, change={name: value})
            assert answer.status_code == 400, (name, answer.text)
            assert (
                f"the field &#39;{name}&#39;" in answer.text and "cannot be stored" in answer.text
            )
            assert added == 0


def test_the_fields_tried_are_those_the_forms_read(world: World) -> None:
    by_route = {c.route: c for c in CONSOLE_POSTS}
    assert {"email", "password", "code"} <= set(fields_of(world, by_route["/console/login"]))
    start = fields_of(world, by_route["/console/break-glass/start"])
    assert start == ["csrf_token", "justification", "minutes"]
    legal = fields_of(world, by_route["/console/legal/new"])
    assert {"authority", "legal_basis", "subject_ids", "fields"} <= set(legal)


def test_console_queries_refuse_unstorable_text(world: World) -> None:
    who = world.creds["staff:support"]
    for url in ("/console/people?q=ada%00@example.com", "/console/review?since=%EF%BF%BE"):
        world.client.cookies.clear()
        answer = world.client.get(
            url, headers={"Cookie": f"avowal_session={who.session}"}, follow_redirects=False
        )
        assert answer.status_code == 400 and "cannot be stored" in answer.text


def test_a_production_server_accepts_only_its_public_origin(tmp_path: Path) -> None:
    from avowal.console.deps import allowed_origins, origin_of
    from avowal.settings import Settings

    assert origin_of("https://Console.Example.com:443/x?y") == "https://console.example.com"
    assert origin_of("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    assert origin_of("javascript:alert(1)") is None and origin_of("null") is None

    class Req:
        url = httpx.URL("https://attacker.example.com/console/login")
        headers = httpx.Headers({"host": "attacker.example.com"})

    prod = Settings(env="production", public_url="https://console.example.com", data_dir=tmp_path)
    assert allowed_origins(Req(), prod) == {"https://console.example.com"}  # type: ignore[arg-type]
    dev = Settings(env="development", data_dir=tmp_path)
    assert allowed_origins(Req(), dev) == {  # type: ignore[arg-type]
        "http://127.0.0.1:8000",
        "https://attacker.example.com",
    }
    named = Settings(env="development", public_url="http://avowal.test:8000", data_dir=tmp_path)
    assert allowed_origins(Req(), named) == {"http://avowal.test:8000"}  # type: ignore[arg-type]
