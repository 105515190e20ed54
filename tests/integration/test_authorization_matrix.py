"""The authorization matrix: every route of the app, called as every kind of caller.

Callers: anonymous; a service token of each role of the example policy; a signed-in (TOTP) staff
member of each staff role; an expired contractor, a staff member who has not acknowledged the
current confidentiality agreement and a disabled account, each still holding a session.

Each case names the outcome each caller must get (status, and where a redirect goes, and whether
a refusal is an HTML page or JSON) and exactly which of Ada's personal values an allowed caller
sees; a refused caller sees none. The role sets are written out by hand from the example policy,
not computed with the code under test. A route missing from ``CASES`` fails
:func:`test_every_route_is_classified`: a new route must say who may call it.

The whole matrix runs on SQLite against one populated server (cases that change state get fresh
objects of their own); :func:`test_matrix_slice_on_postgresql` runs the data routes on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import update
from starlette.routing import Mount

from avowal.analytics import share, tracker
from avowal.app import create_app
from avowal.callers import service as callers
from avowal.callers.models import ServiceToken
from avowal.client import Client
from avowal.consent import banner
from avowal.db import migrate
from avowal.db.engine import make_engine
from avowal.legal import service as legal
from avowal.legal.models import BreakGlass
from avowal.legal.schemas import LegalRequestCreate
from avowal.settings import EXAMPLE_POLICY, Settings
from avowal.staff import passwords, sessions
from avowal.staff import service as staff
from avowal.staff.models import StaffAccount
from avowal.vault import notices
from tests.factories import PURCHASE, REGISTRATION
from tests.integration.legal.helpers import add_account, run

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "quiet-Lantern-47-orbit"
# Tokens are issued only to service roles; a token of a people's role (written to the database
# directly, as one left from before the rule) is no credential at all.
SERVICE_ROLES = ("web_backend", "newsletter_service", "reporting_service")
ROLES = (*SERVICE_ROLES, "support", "billing", "marketing", "engineering", "privacy_officer")
STAFF_ROLES = ("support", "billing", "marketing", "engineering", "privacy_officer")
SITE = "www.contactmonkey.com"
SUPPORT = "essential.service.operations.support"
PAYMENT = "essential.service.payment_processing"
MARKETING = "marketing.communications.email"
WHY = "Matrix test: checking the break-glass routes of every caller"
TOMORROW = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()

# -- Who calls ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Who:
    """A kind of caller: anonymous, token, staff, expired, unacknowledged or disabled."""

    name: str
    kind: str
    role: str | None = None


CALLERS = (
    Who("anonymous", "anonymous"),
    *(Who(f"token:{r}", "token", r) for r in ROLES),
    *(Who(f"staff:{r}", "staff", r) for r in STAFF_ROLES),
    Who("expired contractor", "expired", "support"),
    Who("unacknowledged", "unacknowledged", "support"),
    Who("disabled", "disabled", "support"),
)

# Who the example policy lets do what, written out by hand (the oracle of this test).
GRANT_SUPPORT = {"support", "privacy_officer", "web_backend"}  # essential.service covers it
GRANT_PAYMENT = {"billing", "web_backend"}
# A use within essential.service: the roles that may record a person's acceptance.
SERVING_PEOPLE = {"support", "billing", "engineering", "privacy_officer", "web_backend"}
ERASERS = {"web_backend", "privacy_officer"}  # a service role, or essential.legal_obligation
# Granting essential.service itself: the back end serving the person says their account closed.
CLOSERS = {"web_backend"}
GRANT_MARKETING = {"marketing", "newsletter_service"}
# Any purpose of registration: the e-mail given there is for marketing e-mails too.
GRANT_REGISTRATION = {"web_backend", "newsletter_service"}
GRANT_ANALYTICS = {"marketing", "privacy_officer", "reporting_service"}
OFFICERS = {"privacy_officer"}
BREAK_GLASS = {"engineering"}
ANY_ROLE = set(ROLES)

# -- What they may see -------------------------------------------------------------------------

# Ada's values as the vault keeps them (phone normalised, the card's last four digits).
ADA = {
    "name": REGISTRATION["name"],
    "email": REGISTRATION["email"],
    "phone": "+15550100",
    "address": REGISTRATION["address"],
    "birth_date": REGISTRATION["birth_date"],
    "billing email": PURCHASE["email"],
    "card": "4242",
}
AT_REGISTRATION = frozenset({"name", "email", "phone", "address", "birth_date"})
AT_PURCHASE = frozenset({"name", "billing email", "address", "card"})
# Digits inside ids and hashes are not a card: only a free-standing 4242 is.
LAST4 = re.compile(r"(?<![0-9A-Za-z-])4242(?![0-9A-Za-z-])")


def personal_values(body: str) -> set[str]:
    """Return the names of Ada's values found in a response body."""
    found = {name for name, value in ADA.items() if name != "card" and value in body}
    if "555-0100" in body:
        found.add("phone")
    if LAST4.search(body) or "4242424242424242" in body or "4242 4242" in body:
        found.add("card")
    return found


# -- Outcomes ----------------------------------------------------------------------------------

LOGIN = "303 /console/login"
ACK = "303 /console/acknowledge"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
Expect = Callable[[Who], str]


def outcome(response: httpx.Response) -> str:
    """Return a response's outcome: the status, with where a redirect goes or what a refusal is."""
    status = response.status_code
    if 300 <= status < 400:
        location = response.headers.get("location", "").split("?", 1)[0]
        return f"{status} {UUID.sub('{id}', location)}"
    if status >= 400:
        ctype = response.headers.get("content-type", "")
        return f"{status} {'html' if 'html' in ctype else 'json' if 'json' in ctype else ctype}"
    return str(status)


def everyone(result: str) -> Expect:
    """The same outcome for every caller (public routes)."""
    return lambda who: result


def api(roles: Collection[str], ok: str = "200") -> Expect:
    """A service-token route: tokens of ``roles`` get ``ok``; other tokens 403; the rest 401."""

    def expect(who: Who) -> str:
        if who.kind != "token":
            return "401 json"  # console sessions are no credential here (cookie path /console)
        if who.role not in SERVICE_ROLES:
            return "401 json"  # people use the console, never a token
        return ok if who.role in roles else "403 json"

    return expect


def signed_in(ok: str = "200") -> Expect:
    """A console page for any signed-in staff member (CurrentStaff)."""
    return lambda who: ok if who.kind in ("staff", "unacknowledged") else LOGIN


def console(roles: Collection[str], ok: str = "200", denied: str = "403 html") -> Expect:
    """A console page showing personal or legal data (StaffAccess) to staff of ``roles``."""

    def expect(who: Who) -> str:
        if who.kind == "staff":
            return ok if who.role in roles else denied
        return ACK if who.kind == "unacknowledged" else LOGIN

    return expect


# -- The world the cases run in ----------------------------------------------------------------


@dataclass
class Credential:
    token: str | None = None
    session: str | None = None
    csrf: str | None = None
    account_id: int | None = None


@dataclass
class World:
    """A server with Ada registered, a staff member of every kind signed in, and their ids."""

    app: FastAPI
    client: TestClient
    params: dict[str, str] = field(default_factory=dict)
    creds: dict[str, Credential] = field(default_factory=dict)
    officers: dict[str, int] = field(default_factory=dict)  # olivia, oscar: account ids

    def api_call(self, role: str, method: str, url: str, **kw: Any) -> Any:
        self.client.cookies.clear()
        token = self.creds[f"token:{role}"].token
        answer = self.client.request(
            method, url, headers={"Authorization": f"Bearer {token}"}, **kw
        )
        assert answer.is_success, answer.text
        return answer.json()


def _sign_in(client: TestClient, email: str, secret: str) -> tuple[str, str]:
    """Sign in through the form with password and TOTP; return the session and CSRF tokens."""
    client.cookies.clear()
    page = client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    answer = client.post(
        "/console/login",
        data={
            "email": email,
            "password": PASSWORD,
            "code": pyotp.TOTP(secret).now(),
            "csrf_token": token.group(1),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    session = client.cookies.get("avowal_session")
    assert session is not None
    home = client.get("/console")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert csrf is not None
    client.cookies.clear()
    return session, csrf.group(1)


def _populate(app: FastAPI, client: TestClient) -> World:
    world = World(app, client)
    state = app.state
    now = dt.datetime.now(dt.UTC)
    with state.sessionmaker() as session, session.begin():
        for role in SERVICE_ROLES:
            token = callers.create(session, state.policies.current(), f"matrix-{role}", role)
            world.creds[f"token:{role}"] = Credential(token=token)
        for role in set(ROLES) - set(SERVICE_ROLES):
            token = f"avw_matrix-{role}-{uuid.uuid4()}"
            session.add(
                ServiceToken(
                    name=f"matrix-{role}",
                    role=role,
                    token_hash=hashlib.sha256(token.encode()).hexdigest(),
                    created_at=now,
                )
            )
            world.creds[f"token:{role}"] = Credential(token=token)
        share_token = share.create(session, SITE)
    token = world.creds["token:web_backend"].token or ""
    backend = Client("http://testserver", token, http=client)  # type: ignore[arg-type]
    reg = backend.collect("registration", REGISTRATION, ref="ada")
    backend.collect("purchase", PURCHASE, subject_id=reg["subject_id"])

    # Staff: (caller name, e-mail, role, kind, expires, acknowledged).
    members = [
        *((f"staff:{r}", f"{r}@example.com", r, "employee", None, True) for r in STAFF_ROLES),
        ("expired contractor", "contractor@example.com", "support", "contractor", 30, True),
        ("unacknowledged", "unsworn@example.com", "support", "employee", None, False),
        ("disabled", "gone@example.com", "support", "employee", None, True),
    ]
    secrets: dict[str, str] = {}
    with state.sessionmaker() as session, session.begin():
        for name, email, role, kind, days, ack in members:
            added = staff.add(
                session,
                state.policies.current(),
                state.settings,
                state.secrets,
                email=email,
                kind=kind,
                role=role,
                expires=(now + dt.timedelta(days=days)).date() if days else None,
                now=now,
            )
            secret = staff.totp_secret(state.secrets, added.account)
            link = added.link.rsplit("/", 1)[1]
            staff.complete_enrolment(
                session,
                state.policies.current(),
                state.secrets,
                link,
                password=PASSWORD,
                confirm=PASSWORD,
                code=pyotp.TOTP(secret).at(now - dt.timedelta(seconds=30)),
                now=now,
            )
            if ack:
                version = state.policies.current().policy.staff.confidentiality.version
                staff.acknowledge(
                    session, state.policies.current(), added.account, version, now=now
                )
            secrets[name] = secret
            world.creds[name] = Credential(account_id=added.account.id)
        newcomer = staff.add(
            session,
            state.policies.current(),
            state.settings,
            state.secrets,
            email="newcomer@example.com",
            kind="employee",
            role="support",
            now=now,
        )
        for email in ("olivia@example.com", "oscar@example.com"):
            account = add_account(session, email, "privacy_officer")
            world.officers[email.split("@")[0]] = account.id
    for name, email, *_ in members:
        world.creds[name].session, world.creds[name].csrf = _sign_in(client, email, secrets[name])
    world.creds["anonymous"] = Credential()
    # They keep their sessions: the console must refuse them anyway, at once.
    with state.sessionmaker() as session, session.begin():
        expired = world.creds["expired contractor"].account_id
        session.execute(
            update(StaffAccount)
            .where(StaffAccount.id == expired)
            .values(expires_at=now - dt.timedelta(minutes=1))
        )
        gone = world.creds["disabled"].account_id
        session.execute(update(StaffAccount).where(StaffAccount.id == gone).values(disabled_at=now))
    world.params = {
        "sid": reg["subject_id"],
        "receipt": reg["receipt"]["receipt_id"],
        "site": SITE,
        "share": share_token,
        "version": tracker.SCRIPT.version,
        "enrol": newcomer.link.rsplit("/", 1)[1],
        "contact_notice": notices.notice(state.policies.current(), "contact")["notice_id"],
        "registration_notice": notices.notice(state.policies.current(), "registration")[
            "notice_id"
        ],
    }
    world.params["request"] = new_request(world)
    return world


@contextmanager
def built_world(database_url: str, data_dir: Path) -> Iterator[World]:
    """Yield a populated world on a fresh database (light Argon2 while staff are made)."""
    settings = Settings(
        env="test",
        data_dir=data_dir,
        database_url=database_url,
        policy_file=ROOT / EXAMPLE_POLICY,
    )
    engine = make_engine(settings)
    try:
        migrate.upgrade(engine)
        app = create_app(settings, engine=engine)
        with pytest.MonkeyPatch.context() as mp, TestClient(app) as client:
            mp.setattr(
                passwords, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
            )
            yield _populate(app, client)
    finally:
        engine.dispose()


# -- Fresh objects for cases that change state ------------------------------------------------


def new_request(world: World, *, approved: bool = False) -> str:
    """Register a legal request by Olivia (approved by Oscar if asked); return its id."""
    app = world.app
    body = LegalRequestCreate(
        authority="Springfield Police",
        reference=f"SPD-{uuid.uuid4().hex[:6]}",
        legal_basis="Production order 117",
        recipient="authorities",
        subject_ids=[world.params["sid"]],
        fields=["email", "phone"],
        deadline=dt.date.fromisoformat(TOMORROW),
        may_notify=True,
    )
    olivia, oscar = world.officers["olivia"], world.officers["oscar"]

    def register(s: Any) -> str:
        return legal.create_request(
            s, app.state.policies.current(), s.get(StaffAccount, olivia), body
        ).id

    request_id = run(app, register)
    if approved:
        run(
            app,
            lambda s: legal.approve(
                s, app.state.policies.current(), s.get(StaffAccount, oscar), request_id
            ),
        )
    return request_id


def pending_request(world: World, who: Who) -> dict[str, str]:
    return {"request": new_request(world)}


def approved_request(world: World, who: Who) -> dict[str, str]:
    return {"request": new_request(world, approved=True)}


def throwaway_subject(world: World, who: Who) -> dict[str, str]:
    answer = world.api_call(
        "web_backend",
        "POST",
        "/v1/collect/contact",
        json={
            "notice_id": world.params["contact_notice"],
            "subject": {"ref": f"matrix-{uuid.uuid4()}"},
            "values": {"email": "bob@example.com", "message": "Please erase me."},
        },
    )
    return {"victim": answer["subject_id"]}


def _case_body(world: World, **more: Any) -> dict[str, Any]:
    return {
        "kind": "question",
        "email": "bob@example.com",
        "message": "What do you keep about me?",
        "notice_id": world.params["contact_notice"],
        **more,
    }


def open_case(world: World, who: Who) -> dict[str, str]:
    """A question from the site's form, open and unchecked, for each caller."""
    answer = world.api_call("web_backend", "POST", "/v1/cases", json=_case_body(world))
    return {"case": answer["id"]}


def checked_erasure(world: World, who: Who) -> dict[str, str]:
    """An erasure request the site vouched for, about a throwaway person of the caller's own."""
    victim = throwaway_subject(world, who)["victim"]
    body = _case_body(world, kind="erasure", subject={"subject_id": victim})
    answer = world.api_call("web_backend", "POST", "/v1/cases", json=body)
    return {"case": answer["id"]}


def accepting_subject(world: World, who: Who) -> dict[str, str]:
    """A person of their own for each caller, so every allowed acceptance is a first one."""
    return {
        **throwaway_subject(world, who),
        "version": world.app.state.policies.current().version_id,
    }


def cookie_choice(world: World, who: Who) -> dict[str, str]:
    """A choice recorded on the current banner, and its consent id."""
    version = banner.version(world.app.state.policies.current())
    answer = world.client.post(
        "/v1/consents/cookies", json={"version": version, "granted": ["analytics"]}
    )
    assert answer.status_code == 201, answer.text
    return {"banner": version, "consent": answer.json()["consent_id"]}


def own_session(world: World, who: Who) -> dict[str, str]:
    """A session of the caller's own, so signing it out leaves the matrix's session alive."""
    account = world.creds[who.name].account_id
    if who.kind not in ("staff", "unacknowledged") or account is None:
        return {}
    with world.app.state.sessionmaker() as session, session.begin():
        started = sessions.start(session, account, dt.datetime.now(dt.UTC))
        return {"session": started.token, "csrf": started.row.csrf_token}


def running_grant(world: World, who: Who) -> dict[str, str]:
    """A running break-glass grant: the caller's own if staff, else Oscar's.

    Stored directly (as if opened under an earlier policy): the example lets only engineering
    open one, and every holder may end their own.
    """
    account_id = world.creds[who.name].account_id if who.kind == "staff" else None
    now = dt.datetime.now(dt.UTC)
    grant = BreakGlass(
        id=str(uuid.uuid4()),
        account_id=account_id or world.officers["oscar"],
        justification=WHY,
        started_at=now,
        expires_at=now + dt.timedelta(minutes=30),
        minutes=30,
        notified=[],
    )
    with world.app.state.sessionmaker() as session, session.begin():
        session.add(grant)
    return {"grant": grant.id}


def end_grants(world: World) -> None:
    with world.app.state.sessionmaker() as session, session.begin():
        session.execute(
            update(BreakGlass)
            .where(BreakGlass.ended_at.is_(None))
            .values(ended_at=dt.datetime.now(dt.UTC))
        )


# -- The cases ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One request to one route, and what each caller must get."""

    method: str
    route: str  # the path as the app declares it
    url: str  # formatted with the world's parameters and the prepared ones
    expect: Expect
    variant: str = ""
    reveals: frozenset[str] = frozenset()  # exactly what an allowed (2xx) caller sees
    echo: frozenset[str] = frozenset()  # values the caller sent itself
    body: Callable[[dict[str, str]], Any] | None = None
    form: dict[str, Any] | None = None
    content: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    prepare: Callable[[World, Who], dict[str, str]] | None = None
    cleanup: Callable[[World], None] | None = None

    @property
    def id(self) -> str:
        return f"{self.method} {self.route}" + (f" [{self.variant}]" if self.variant else "")


def get(route: str, expect: Expect, url: str | None = None, **kw: Any) -> Case:
    return Case("GET", route, url or route, expect, **kw)


def post(route: str, expect: Expect, url: str | None = None, **kw: Any) -> Case:
    return Case("POST", route, url or route, expect, **kw)


PUBLIC = everyone("200")
EVENT = json.dumps({"name": "pageview", "url": f"https://{SITE}/pricing", "domain": SITE})
FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
LEGAL_FORM = {
    "authority": "Springfield Police",
    "reference": "SPD-MATRIX",
    "legal_basis": "Production order 117",
    "recipient": "authorities",
    "subject_ids": "{sid}",
    "fields": ["email"],
    "deadline": TOMORROW,
    "notify": "now",
}
SHARE = "/v1/analytics/share/{token}"
SITES = "/v1/analytics/sites/{domain}"

CASES: tuple[Case, ...] = (
    # Public documents, the tracker and the event endpoint: the same for everyone.
    get("/openapi.json", PUBLIC),
    get("/docs", PUBLIC),
    get("/docs/assets/{name}", PUBLIC, "/docs/assets/docs.js"),
    get("/healthz", PUBLIC),
    get("/readyz", PUBLIC),
    # Not served without AVOWAL_METRICS_TOKEN, to anyone (the token: web/test_metrics.py).
    get("/metrics", everyone("404 json")),
    get("/v1/policy", PUBLIC),
    get("/privacy", PUBLIC),
    get("/privacy.md", PUBLIC),
    get("/assets/privacy.css", PUBLIC),
    get("/favicon.svg", PUBLIC),
    get("/favicon.ico", PUBLIC),
    get("/assets/versions.css", PUBLIC),
    get("/privacy/versions", PUBLIC),
    get("/privacy/versions/{version_id}", everyone("404 html"), "/privacy/versions/0123456789ab"),
    get("/privacy/diff", everyone("404 html"), "/privacy/diff?from=0123456789abcdef&to=fedcba98"),
    get("/v1/policy/versions", PUBLIC),
    get("/v1/policy/diff", everyone("404 json"), "/v1/policy/diff?from=0123456789ab&to=fedcba98"),
    get("/assets/review.css", PUBLIC),
    get("/v1/notices/{point}", PUBLIC, "/v1/notices/registration"),
    get("/v1/notices/{point}/parent", PUBLIC, "/v1/notices/registration/parent"),
    # A parent's pages: the link is the secret; a forged one opens nothing, for anyone.
    get("/privacy/parent/{token}", everyone("404 html"), "/privacy/parent/x.answer.y.z"),
    post(
        "/privacy/parent/{token}",
        everyone("404 html"),
        "/privacy/parent/x.answer.y.z",
        form={"decision": "consent"},
    ),
    # Questions and requests: the contact form is public, an identity link is the secret.
    # The privacy center: a person signs in by a mailed link; no staff or token credential
    # opens it (its cookie is its own). Without a session, a person's page sends them to sign in.
    get("/privacy/me", PUBLIC),
    post(
        "/privacy/me/link",
        PUBLIC,
        form={"email": "nobody@example.com"},
        echo=frozenset(),
    ),
    get("/privacy/me/signin/{token}", everyone("404 html"), "/privacy/me/signin/forged"),
    post("/privacy/me/signin/{token}", everyone("404 html"), "/privacy/me/signin/forged"),
    post("/privacy/me/signout", everyone("401 html")),
    get(
        "/privacy/me/{subject_id}/export.json",
        everyone("303 /privacy/me"),
        "/privacy/me/{sid}/export.json",
    ),
    get(
        "/privacy/me/{subject_id}/export.html",
        everyone("303 /privacy/me"),
        "/privacy/me/{sid}/export.html",
    ),
    get("/privacy/me/{subject_id}/erase", everyone("303 /privacy/me"), "/privacy/me/{sid}/erase"),
    *(
        post(
            f"/privacy/me/{{subject_id}}/{action}",
            everyone("401 html"),
            f"/privacy/me/{{sid}}/{action}",
        )
        for action in ("correct", "withdraw", "object", "erase")
    ),
    get("/privacy/contact", PUBLIC),
    post(
        "/privacy/contact",
        PUBLIC,
        form={
            "kind": "question",
            "email": "bob@example.com",
            "message": "Hello",
            "notice_id": "{contact_notice}",
        },
    ),
    get("/privacy/cases/confirm/{token}", everyone("404 html"), "/privacy/cases/confirm/forged"),
    post("/privacy/cases/confirm/{token}", everyone("404 html"), "/privacy/cases/confirm/forged"),
    # The site's form: tokens whose role grants the contact point's purpose (support).
    post(
        "/v1/cases",
        api(GRANT_SUPPORT, "201"),
        body=lambda p: {
            "kind": "question",
            "email": "bob@example.com",
            "message": "Hello",
            "notice_id": p["contact_notice"],
        },
    ),
    get("/v1/cases/{case_id}", api(GRANT_SUPPORT), "/v1/cases/{case}", prepare=open_case),
    # The unsubscribe page and RFC 8058 one-click: the signed link is the secret.
    get(
        "/privacy/unsubscribe/{token}",
        everyone("404 html"),
        "/privacy/unsubscribe/0123.marketing.communications.email.forged",
    ),
    post(
        "/privacy/unsubscribe/{token}",
        everyone("404 html"),
        "/privacy/unsubscribe/0123.marketing.communications.email.forged",
        form={"List-Unsubscribe": "One-Click"},
    ),
    # News: tokens whose role grants the purpose (the newsletter service).
    post(
        "/v1/news",
        api(GRANT_MARKETING, "201"),
        body=lambda p: {"kind": "new_projects", "subject": "News", "text": "Something new."},
    ),
    get("/v1/policy/changes", PUBLIC),
    get("/v1/receipts/key", PUBLIC),
    get("/v1/receipts/{receipt_id}", PUBLIC, "/v1/receipts/{receipt}"),
    get("/a.js", PUBLIC),
    get("/a-{version}.js", PUBLIC),
    get("/js/{name}", PUBLIC, "/js/script.outbound-links.hash.js"),
    Case(
        "OPTIONS",
        "/api/event",
        "/api/event",
        everyone("204"),
        headers={"Origin": f"https://{SITE}", "Access-Control-Request-Method": "POST"},
    ),
    post(
        "/api/event",
        everyone("202"),
        content=EVENT,
        headers={"Content-Type": "text/plain", "User-Agent": FIREFOX},
    ),
    # The cookie banner, choices and their history (the consent id is the secret), GPC.
    get("/c.js", PUBLIC),
    get("/.well-known/gpc.json", PUBLIC),
    Case(
        "OPTIONS",
        "/v1/consents/cookies",
        "/v1/consents/cookies",
        everyone("204"),
        headers={"Origin": f"https://{SITE}", "Access-Control-Request-Method": "POST"},
    ),
    post(
        "/v1/consents/cookies",
        everyone("201"),
        body=lambda p: {"version": p["banner"], "granted": ["advertising"]},
        headers={"Origin": f"https://{SITE}"},
        prepare=cookie_choice,
    ),
    get(
        "/v1/consents/cookies/{consent_id}",
        PUBLIC,
        "/v1/consents/cookies/{consent}",
        prepare=cookie_choice,
    ),
    get("/share/{token}", PUBLIC, "/share/{share}"),
    get(f"{SHARE}/summary", PUBLIC, "/v1/analytics/share/{share}/summary"),
    get(f"{SHARE}/breakdown/{{dimension}}", PUBLIC, "/v1/analytics/share/{share}/breakdown/page"),
    get(f"{SHARE}/timeseries", PUBLIC, "/v1/analytics/share/{share}/timeseries"),
    get(f"{SHARE}/realtime", PUBLIC, "/v1/analytics/share/{share}/realtime"),
    get(f"{SHARE}/export.csv", PUBLIC, "/v1/analytics/share/{share}/export.csv?table=page"),
    get("/console/static", PUBLIC, "/console/static/console.css"),
    get("/console/login", PUBLIC),
    # Without the double-submit cookie of the sign-in page, the form is refused for everyone.
    post("/console/login", everyone("403 html"), form={"email": "x@example.com"}),
    get("/console/enrol/{token}", PUBLIC, "/console/enrol/{enrol}"),
    post("/console/enrol/{token}", everyone("403 html"), "/console/enrol/{enrol}", form={}),
    # The vault API: service tokens whose role grants the purpose used.
    post(
        "/v1/collect/{point}",
        api(GRANT_SUPPORT, "201"),
        "/v1/collect/contact",
        body=lambda p: {
            "notice_id": p["contact_notice"],
            "subject": {"ref": f"matrix-{uuid.uuid4()}"},
            "values": {"email": "carol@example.com", "message": "A question."},
        },
    ),
    get(
        "/v1/subjects/lookup",
        api(GRANT_SUPPORT),
        f"/v1/subjects/lookup?field=email&value={ADA['email']}&purpose={SUPPORT}",
        echo=frozenset({"email"}),
    ),
    get(
        "/v1/subjects/{subject_id}/data",
        api(GRANT_SUPPORT),
        f"/v1/subjects/{{sid}}/data?purpose={SUPPORT}",
        variant="support",
        reveals=AT_REGISTRATION,
    ),
    get(
        "/v1/subjects/{subject_id}/data",
        api(GRANT_PAYMENT),
        f"/v1/subjects/{{sid}}/data?purpose={PAYMENT}",
        variant="payment",
        reveals=AT_PURCHASE,
    ),
    get(
        "/v1/subjects/{subject_id}/data",
        api(GRANT_MARKETING),
        f"/v1/subjects/{{sid}}/data?purpose={MARKETING}",
        variant="marketing",
        reveals=frozenset({"email"}),
    ),
    post(
        "/v1/disclosures",
        api(GRANT_PAYMENT, "201"),
        body=lambda p: {
            "subject_id": p["sid"],
            "recipient": "payment_processor",
            "fields": ["card"],
            "purpose": PAYMENT,
        },
        reveals=frozenset({"card"}),
    ),
    # Ada's values are all under the current notice: an allowed caller learns there is nothing
    # to consent to (and sees no value).
    post(
        "/v1/subjects/{subject_id}/consents",
        api(GRANT_REGISTRATION, "409 json"),
        "/v1/subjects/{sid}/consents",
        body=lambda p: {"point": "registration", "notice_id": p["registration_notice"]},
    ),
    # The register, for a purpose the role grants (no values); only the back end or the privacy
    # officer erases.
    get(
        "/v1/subjects/{subject_id}/disclosures",
        api(GRANT_PAYMENT),
        f"/v1/subjects/{{sid}}/disclosures?purpose={PAYMENT}",
    ),
    # Acceptances of policy versions: read for a purpose serving the person, recorded by a role
    # granting a use within essential.service.
    get(
        "/v1/subjects/{subject_id}/acceptances",
        api(GRANT_SUPPORT),
        f"/v1/subjects/{{sid}}/acceptances?purpose={SUPPORT}",
    ),
    post(
        "/v1/subjects/{subject_id}/acceptances",
        api(SERVING_PEOPLE, "201"),
        "/v1/subjects/{victim}/acceptances",
        body=lambda p: {"version_id": p["version"]},
        prepare=accepting_subject,
    ),
    # Cookie consents follow the person: attached by a role granting a use within
    # essential.service, read for a purpose serving them.
    post(
        "/v1/subjects/{subject_id}/cookie-consents",
        api(SERVING_PEOPLE, "201"),
        "/v1/subjects/{sid}/cookie-consents",
        body=lambda p: {"consent_id": p["consent"]},
        prepare=cookie_choice,
    ),
    get(
        "/v1/subjects/{subject_id}/cookie-consents",
        api(GRANT_SUPPORT),
        f"/v1/subjects/{{sid}}/cookie-consents?purpose={SUPPORT}",
    ),
    Case(
        "DELETE",
        "/v1/subjects/{subject_id}",
        "/v1/subjects/{victim}",
        api(ERASERS),
        prepare=throwaway_subject,
    ),
    post(
        "/v1/subjects/{subject_id}/closure",
        api(CLOSERS),
        "/v1/subjects/{victim}/closure",
        prepare=throwaway_subject,
    ),
    # A person's rights, relayed by the back end serving them or carried out by the privacy
    # officer's role (the erasers): everything held, decrypted, for the export.
    get(
        "/v1/subjects/{subject_id}/export",
        api(ERASERS),
        "/v1/subjects/{sid}/export",
        reveals=AT_REGISTRATION | AT_PURCHASE,
    ),
    post(
        "/v1/subjects/{subject_id}/corrections",
        api(ERASERS),
        "/v1/subjects/{victim}/corrections",
        body=lambda p: {"point": "contact", "field": "message", "value": "Please keep me."},
        prepare=throwaway_subject,
    ),
    post(
        "/v1/subjects/{subject_id}/withdrawals",
        api(ERASERS, "409 json"),
        "/v1/subjects/{victim}/withdrawals",
        # The contact point's values are held for support only: nothing to withdraw.
        body=lambda p: {"purpose": MARKETING},
        prepare=throwaway_subject,
    ),
    post(
        "/v1/subjects/{subject_id}/objections",
        api(ERASERS),
        "/v1/subjects/{victim}/objections",
        body=lambda p: {"purpose": MARKETING},
        prepare=throwaway_subject,
    ),
    post(
        "/v1/privacy/links",
        api(ERASERS, "201"),
        body=lambda p: {"subject": {"subject_id": p["victim"]}},
        prepare=throwaway_subject,
    ),
    # Analytics figures: tokens whose role grants analytics.reporting.
    get("/v1/analytics/sites", api(GRANT_ANALYTICS)),
    get(f"{SITES}/summary", api(GRANT_ANALYTICS), "/v1/analytics/sites/{site}/summary"),
    get(
        f"{SITES}/breakdown/{{dimension}}",
        api(GRANT_ANALYTICS),
        "/v1/analytics/sites/{site}/breakdown/page",
    ),
    get(f"{SITES}/timeseries", api(GRANT_ANALYTICS), "/v1/analytics/sites/{site}/timeseries"),
    get(f"{SITES}/realtime", api(GRANT_ANALYTICS), "/v1/analytics/sites/{site}/realtime"),
    get(
        f"{SITES}/export.csv",
        api(GRANT_ANALYTICS),
        "/v1/analytics/sites/{site}/export.csv?table=page",
    ),
    # The console: signed in, enrolled, acknowledged, and a role that grants what is shown.
    get("/console", signed_in()),
    get("/console/acknowledge", signed_in()),
    post("/console/acknowledge", signed_in("409 html"), form={"version": "1999-01"}),
    post("/console/logout", everyone(LOGIN), prepare=own_session),
    get("/console/analytics", console(GRANT_ANALYTICS)),
    get(
        "/console/analytics/export.csv",
        console(GRANT_ANALYTICS),
        "/console/analytics/export.csv?site={site}&table=page",
    ),
    # Plausible's Stats API: tokens whose role grants analytics.reporting (figures only).
    get(
        "/api/v1/stats/realtime/visitors",
        api(GRANT_ANALYTICS),
        "/api/v1/stats/realtime/visitors?site_id={site}",
    ),
    get("/api/v1/stats/aggregate", api(GRANT_ANALYTICS), "/api/v1/stats/aggregate?site_id={site}"),
    get(
        "/api/v1/stats/timeseries",
        api(GRANT_ANALYTICS),
        "/api/v1/stats/timeseries?site_id={site}",
    ),
    get(
        "/api/v1/stats/breakdown",
        api(GRANT_ANALYTICS),
        "/api/v1/stats/breakdown?site_id={site}&property=event:page",
    ),
    post(
        "/api/v2/query",
        api(GRANT_ANALYTICS),
        body=lambda p: {"site_id": p["site"], "metrics": ["visitors"], "date_range": "7d"},
    ),
    get("/console/people", console(STAFF_ROLES), variant="form"),
    get(
        "/console/people",
        console(GRANT_SUPPORT),
        f"/console/people?q={ADA['email']}&purpose={SUPPORT}",
        variant="by e-mail",
        echo=frozenset({"email"}),
        # Each result says who matched: the name, read (and audited) for the purpose.
        reveals=frozenset({"name"}),
    ),
    # A subject id goes to the person page, which reads (and refuses) under the purpose.
    get(
        "/console/people",
        console(STAFF_ROLES, "303 /console/people/{id}"),
        f"/console/people?q={{sid}}&purpose={SUPPORT}",
        variant="by id",
    ),
    get(
        "/console/people/{subject_id}",
        console(GRANT_SUPPORT),
        f"/console/people/{{sid}}?purpose={SUPPORT}",
        variant="support",
        reveals=AT_REGISTRATION,
    ),
    get(
        "/console/people/{subject_id}",
        console(GRANT_PAYMENT),
        f"/console/people/{{sid}}?purpose={PAYMENT}",
        variant="payment",
        reveals=AT_PURCHASE,
    ),
    get(
        "/console/people/{subject_id}",
        console(GRANT_MARKETING),
        f"/console/people/{{sid}}?purpose={MARKETING}",
        variant="marketing",
        reveals=frozenset({"email"}),
    ),
    # News: staff whose role grants the purpose of a declared kind of message.
    get("/console/news", console(GRANT_MARKETING)),
    post(
        "/console/news",
        console(GRANT_MARKETING),
        form={"kind": "new_projects", "subject": "News", "text": "Something new."},
    ),
    # Cases: support and the privacy officer handle them; only the officer acts on an account.
    get("/console/cases", console(GRANT_SUPPORT)),
    get(
        "/console/cases/{case_id}",
        console(GRANT_SUPPORT),
        "/console/cases/{case}",
        prepare=open_case,
    ),
    post(
        "/console/cases/{case_id}/identity",
        console(GRANT_SUPPORT),
        "/console/cases/{case}/identity",
        prepare=open_case,
    ),
    post(
        "/console/cases/{case_id}/extend",
        console(GRANT_SUPPORT),
        "/console/cases/{case}/extend",
        form={"months": "1", "reason": "Records are kept off site."},
        prepare=open_case,
    ),
    post(
        "/console/cases/{case_id}/answer",
        console(GRANT_SUPPORT),
        "/console/cases/{case}/answer",
        form={"text": "We keep your question only.", "outcome": "answered"},
        prepare=open_case,
    ),
    post(
        "/console/cases/{case_id}/act",
        console(OFFICERS),
        "/console/cases/{case}/act",
        form={"action": "erasure"},
        prepare=checked_erasure,
    ),
    get("/console/legal", console(OFFICERS)),
    get("/console/legal/new", console(OFFICERS)),
    post("/console/legal/new", console(OFFICERS, "303 /console/legal/{id}"), form=LEGAL_FORM),
    get("/console/legal/{request_id}", console(OFFICERS), "/console/legal/{request}"),
    post(
        "/console/legal/{request_id}/approve",
        console(OFFICERS, "303 /console/legal/{id}"),
        "/console/legal/{request}/approve",
        prepare=pending_request,
    ),
    post(
        "/console/legal/{request_id}/reject",
        console(OFFICERS, "303 /console/legal/{id}"),
        "/console/legal/{request}/reject",
        form={"reason": "Not signed"},
        prepare=pending_request,
    ),
    post(
        "/console/legal/{request_id}/export",
        console(OFFICERS),
        "/console/legal/{request}/export",
        prepare=approved_request,
        reveals=frozenset({"email", "billing email", "phone"}),
    ),
    get("/console/break-glass", console(STAFF_ROLES)),
    # The example policy lets only engineering (employees) open break-glass access.
    post(
        "/console/break-glass/start",
        console(BREAK_GLASS, "303 /console/break-glass"),
        form={"justification": WHY, "minutes": "5"},
        cleanup=end_grants,
    ),
    # Approval is not required by the example policy, and it names no approvers.
    post(
        "/console/break-glass/{grant_id}/approve",
        console(set()),
        "/console/break-glass/{grant}/approve",
        prepare=running_grant,
        cleanup=end_grants,
    ),
    post(
        "/console/break-glass/{grant_id}/end",
        console(STAFF_ROLES, "303 /console/break-glass"),
        "/console/break-glass/{grant}/end",
        prepare=running_grant,
        cleanup=end_grants,
    ),
    get("/console/review", console(OFFICERS)),
    get("/console/review.json", console(OFFICERS)),
)

# Run on PostgreSQL too: every route that reads, finds or discloses personal data.
POSTGRES_SLICE = {
    c.id
    for c in CASES
    if c.reveals or c.echo or c.route.startswith(("/v1/subjects", "/console/legal/{"))
}


def call(world: World, case: Case, who: Who) -> httpx.Response:
    """Send a case's request as ``who``."""
    extra = case.prepare(world, who) if case.prepare else {}
    params = {**world.params, **extra}
    cred = world.creds[who.name]
    headers = dict(case.headers)
    if cred.token:
        headers["Authorization"] = f"Bearer {cred.token}"
    session = extra.get("session", cred.session)
    if session:
        headers["Cookie"] = f"avowal_session={session}"
    kwargs: dict[str, Any] = {}
    if case.body is not None:
        kwargs["json"] = case.body(params)
    if case.content is not None:
        kwargs["content"] = case.content
    given = case.form
    if given is None and case.method == "POST" and case.route.startswith("/console"):
        given = {}  # every console form carries the session's token
    if given is not None:
        form = {k: v.format(**params) if isinstance(v, str) else v for k, v in given.items()}
        csrf = extra.get("csrf", cred.csrf)
        kwargs["data"] = {**form, **({"csrf_token": csrf} if csrf else {})}
    world.client.cookies.clear()
    return world.client.request(
        case.method, case.url.format(**params), headers=headers, follow_redirects=False, **kwargs
    )


def mismatches(world: World, case: Case) -> list[str]:
    """Call a case as every caller; return every outcome or disclosure that is not as expected."""
    problems = []
    for who in CALLERS:
        response = call(world, case, who)
        got, want = outcome(response), case.expect(who)
        if got != want:
            problems.append(f"{who.name:<24} expected {want:<28} got {got}")
        seen = personal_values(response.text) - case.echo
        allowed = case.reveals if response.is_success else frozenset()
        if seen != allowed:
            problems.append(
                f"{who.name:<24} personal values {sorted(seen)}, expected {sorted(allowed)}"
            )
        if case.cleanup:
            case.cleanup(world)
    return problems


def declared_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Return (method, path) of every route and mount of the app (HEAD goes with GET)."""
    found = set()
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, Mount):
            found.add(("GET", str(route.path)))
            continue
        methods = set(route.methods or ())
        for method in methods - {"HEAD"} if methods != {"HEAD"} else methods:
            found.add((method, str(route.path)))
    return found


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One populated server on SQLite for the whole matrix."""
    folder = tmp_path_factory.mktemp("matrix")
    with built_world(f"sqlite:///{folder / 'avowal.sqlite3'}", folder) as built:
        yield built


def test_every_route_is_classified(world: World) -> None:
    declared = declared_routes(world.app)
    classified = {(c.method, c.route) for c in CASES}
    assert declared - classified == set(), "add these routes to CASES, saying who may call them"
    assert classified - declared == set(), "these routes of CASES no longer exist"
    # Anonymous, a token of every role (human roles' tokens are refused), each staff role
    # signed in, and the three staff who may not see anything.
    assert len(CALLERS) == 1 + len(ROLES) + len(STAFF_ROLES) + 3 == 17


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_matrix(world: World, case: Case) -> None:
    problems = mismatches(world, case)
    assert not problems, f"{case.id}:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_matrix_slice_on_postgresql(db_url: str, tmp_path: Path) -> None:
    with built_world(db_url, tmp_path) as on_postgres:
        problems = [p for c in CASES if c.id in POSTGRES_SLICE for p in mismatches(on_postgres, c)]
    assert len(POSTGRES_SLICE) >= 15
    assert not problems, "\n".join(problems)
