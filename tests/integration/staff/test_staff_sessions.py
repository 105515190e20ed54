"""Sessions: a new id at each sign-in, timeouts, sign-out, disabled and expired accounts, and
Secure cookies in production."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from avowal.app import create_app
from avowal.audit.models import AuditEntry
from avowal.crypto import service as crypto
from avowal.crypto.keyring import Keyring
from avowal.settings import Settings
from avowal.staff import service as staff
from avowal.staff.models import StaffAccount, StaffSession
from tests.integration.staff.conftest import Clock, Member
from tests.kept import publish_kept

SignIn = Callable[..., httpx.Response]


def cookie_flags(answer: httpx.Response, name: str) -> set[str]:
    found = [c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{name}=")]
    assert len(found) == 1, answer.headers.get_list("set-cookie")
    return {part.strip().lower() for part in found[0].split(";")[1:]}


def sent_to_login(answer: httpx.Response) -> None:
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console/login"


def with_cookie(app: FastAPI, token: str) -> httpx.Response:
    """Load the console home with only this session cookie (an attacker replaying it)."""
    return TestClient(app).get(
        "/console", headers={"Cookie": f"avowal_session={token}"}, follow_redirects=False
    )


def test_production_cookies_are_secure(
    settings: Settings,
    engine: Engine,
    tmp_path: Path,
    make_member: Callable[..., Member],
    clock: Clock,
) -> None:
    member = make_member()
    crypto.load(settings)  # the test instance's index and signing keys exist from here on
    master = tmp_path / "production-master.json"
    Keyring.create(master, development=False)
    production = settings.model_copy(
        update={
            "env": "production",
            "master_key_file": master,
            "index_key_file": settings.index_key_path,
            "signing_key_file": settings.signing_key_path,
            "trusted_proxies": ["127.0.0.1"],
            "public_url": "https://testserver",
            "policy_file": publish_kept(engine, tmp_path / "kept"),
        }
    )
    with TestClient(create_app(production, engine=engine), base_url="https://testserver") as tls:
        form = tls.get("/console/login")
        assert "secure" in cookie_flags(form, "avowal_csrf")
        answer = tls.post(
            "/console/login",
            data={
                "email": member.email,
                "password": member.password,
                "code": member.code(clock.now),
                "csrf_token": tls.cookies["avowal_csrf"],
            },
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        assert cookie_flags(answer, "avowal_session") == {
            "httponly",
            "path=/console",
            "samesite=strict",
            "secure",
        }
        assert tls.get("/console").status_code == 200  # the Secure cookie comes back over TLS


def test_sign_in_renews_the_session_id_and_sign_out_ends_it(
    app: FastAPI,
    client: TestClient,
    member: Member,
    sign_in: SignIn,
    clock: Clock,
    csrf_of: Callable[[TestClient], str],
) -> None:
    sign_in(member)
    first = client.cookies["avowal_session"]
    clock.advance(seconds=30)
    sign_in(member)
    second = client.cookies["avowal_session"]
    assert first != second
    sent_to_login(with_cookie(app, first))
    assert client.get("/console").status_code == 200

    answer = client.post(
        "/console/logout", data={"csrf_token": csrf_of(client)}, follow_redirects=False
    )
    sent_to_login(answer)
    assert 'avowal_session=""' in answer.headers["set-cookie"]
    sent_to_login(with_cookie(app, second))
    with app.state.sessionmaker() as session:
        ended = session.scalars(select(StaffSession.ended_at)).all()
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    assert len(ended) == 2 and None not in ended
    assert actions[-3:] == ["sign_in", "sign_in", "sign_out"]


def test_idle_and_absolute_timeouts_end_a_session(
    client: TestClient, member: Member, sign_in: SignIn, clock: Clock
) -> None:
    sign_in(member)
    for _ in range(2):
        clock.advance(minutes=29)
        assert client.get("/console").status_code == 200  # each request keeps it alive
    clock.advance(minutes=30, seconds=1)
    sent_to_login(client.get("/console", follow_redirects=False))
    clock.advance(seconds=1)
    sent_to_login(client.get("/console", follow_redirects=False))  # ended for good

    clock.advance(seconds=30)
    sign_in(member)
    for _ in range(12 * 60 // 29):
        clock.advance(minutes=29)
        assert client.get("/console").status_code == 200
    clock.advance(minutes=29)  # 12 h 23 min after sign-in, never idle
    sent_to_login(client.get("/console", follow_redirects=False))


def test_disabled_and_expired_accounts_lose_every_session_at_once(
    app: FastAPI,
    client: TestClient,
    make_member: Callable[..., Member],
    sign_in: SignIn,
    clock: Clock,
) -> None:
    member = make_member()
    browsers = [TestClient(app, client=(f"198.51.100.{i}", 40000)) for i in (1, 2)]
    for browser in browsers:
        assert sign_in(member, via=browser).status_code == 303
        clock.advance(seconds=30)
    with app.state.sessionmaker() as session, session.begin():
        assert staff.disable(session, member.email, now=clock.now) == 2
    for browser in browsers:
        sent_to_login(browser.get("/console", follow_redirects=False))

    # Even set behind the service's back (no session ended), the flag is checked each time.
    other = make_member("joan@example.com")
    sign_in(other)
    with app.state.sessionmaker() as session, session.begin():
        session.execute(
            update(StaffAccount)
            .where(StaffAccount.id == other.account_id)
            .values(disabled_at=clock.now)
        )
    sent_to_login(client.get("/console/probe", follow_redirects=False))
    with app.state.sessionmaker() as session:
        live = session.scalars(select(StaffSession).where(StaffSession.ended_at.is_(None)))
        assert live.all() == []

    # A contractor's access ends with the last day of the contract, session or not.
    contractor = make_member(
        "ada@example.com", role="engineering", kind="contractor", expires=clock.now.date()
    )
    clock.advance(seconds=30)
    sign_in(contractor)
    assert client.get("/console/probe").status_code == 200
    end_of_day = dt.datetime.combine(clock.now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
    clock.advance(seconds=(end_of_day - clock.now).total_seconds() - 1)
    assert client.get("/console/probe").status_code == 200
    clock.advance(seconds=1)
    sent_to_login(client.get("/console/probe", follow_redirects=False))
