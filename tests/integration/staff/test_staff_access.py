"""Need to know: access to personal data only for an enrolled, active member of a policy role who
acknowledged the current confidentiality agreement."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from avowal.audit.models import AuditEntry
from avowal.policy.loader import parse_text
from avowal.staff.models import Acknowledgement
from tests.factories import policy_text
from tests.integration.staff.conftest import Clock, Member
from tests.serving import enforce

SignIn = Callable[..., httpx.Response]
CsrfOf = Callable[[TestClient], str]


def acknowledge(client: TestClient, csrf: str, version: str) -> httpx.Response:
    return client.post(
        "/console/acknowledge",
        data={"csrf_token": csrf, "version": version},
        follow_redirects=False,
    )


def test_access_needs_the_acknowledgement_of_the_agreement(
    app: FastAPI,
    client: TestClient,
    make_member: Callable[..., Member],
    sign_in: SignIn,
    csrf_of: CsrfOf,
) -> None:
    member = make_member(acknowledge=False)
    answer = sign_in(member)
    assert answer.headers["location"] == "/console/acknowledge"
    probe = client.get("/console/probe", follow_redirects=False)
    assert (probe.status_code, probe.headers["location"]) == (303, "/console/acknowledge")
    page = client.get("/console/acknowledge")
    assert page.status_code == 200
    assert "version <strong>2017-02</strong>" in page.text
    assert "I will access personal information only when my work needs it" in page.text
    home = client.get("/console")
    assert "awaits your" in home.text
    csrf = csrf_of(client)
    done = acknowledge(client, csrf, "2017-02")
    assert (done.status_code, done.headers["location"]) == (303, "/console")
    assert client.get("/console/probe").json() == {
        "name": "grace@example.com",
        "role": "support",
        "purposes": ["essential.service.operations.support", "essential.service.authentication"],
    }
    assert "You acknowledged this version" in client.get("/console/acknowledge").text
    with app.state.sessionmaker() as session:
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        acks = session.scalars(select(Acknowledgement.version)).all()
    assert entry is not None
    assert (entry.actor, entry.action, entry.reason) == (
        "grace@example.com",
        "acknowledge",
        "confidentiality agreement version 2017-02",
    )
    assert acks == ["2017-02"]


def test_a_new_agreement_version_needs_a_new_acknowledgement_and_a_gone_role_no_access(
    app: FastAPI, client: TestClient, member: Member, sign_in: SignIn, csrf_of: CsrfOf
) -> None:
    sign_in(member)
    assert client.get("/console/probe").status_code == 200

    def new_version(data: dict[str, Any]) -> None:
        data["staff"]["confidentiality"]["version"] = "2018-01"
        data["staff"]["confidentiality"]["text"] += " I report any breach at once."

    enforce(app, parse_text(policy_text(new_version)))
    probe = client.get("/console/probe", follow_redirects=False)
    assert (probe.status_code, probe.headers["location"]) == (303, "/console/acknowledge")
    csrf = csrf_of(client)
    stale = acknowledge(client, csrf, "2017-02")
    assert stale.status_code == 409
    assert "the agreement changed (version 2018-01, not 2017-02)" in stale.text
    assert "I report any breach at once." in client.get("/console/acknowledge").text
    assert acknowledge(client, csrf, "2018-01").status_code == 303
    assert client.get("/console/probe").status_code == 200
    with app.state.sessionmaker() as session:
        assert sorted(session.scalars(select(Acknowledgement.version))) == ["2017-02", "2018-01"]

    def drop_support(data: dict[str, Any]) -> None:
        del data["staff"]["roles"]["support"]

    enforce(app, parse_text(policy_text(drop_support)))
    page = client.get("/console/probe")
    assert page.status_code == 403
    assert page.headers["content-type"].startswith("text/html")
    assert "the role &#39;support&#39; of this account is not a staff role" in page.text


def test_every_form_checks_the_csrf_token(
    client: TestClient, member: Member, sign_in: SignIn, csrf_of: CsrfOf, clock: Clock
) -> None:
    # The sign-in form: a double-submit cookie, as there is no session yet.
    data = {"email": member.email, "password": member.password, "code": member.code(clock.now)}
    assert client.post("/console/login", data=data).status_code == 403
    client.get("/console/login")
    answer = client.post("/console/login", data={**data, "csrf_token": "forged" * 8})
    assert answer.status_code == 403
    assert "avowal_session" not in client.cookies
    # The forms of a session: its own token.
    sign_in(member)
    csrf = csrf_of(client)
    for path, data in [
        ("/console/probe", {}),
        ("/console/acknowledge", {"version": "2017-02"}),
        ("/console/logout", {}),
    ]:
        for token in (None, "", csrf[:-1] + ("A" if csrf[-1] != "A" else "B")):
            sent = data if token is None else {**data, "csrf_token": token}
            answer = client.post(path, data=sent, follow_redirects=False)
            assert answer.status_code == 403, (path, token)
            assert "security token" in answer.text
            assert answer.headers["content-type"].startswith("text/html")
    assert client.post("/console/probe", data={"csrf_token": csrf}).json() == {
        "done": "grace@example.com"
    }


def test_without_a_session_the_console_sends_to_the_sign_in_page(client: TestClient) -> None:
    for path in ("/console", "/console/probe", "/console/acknowledge"):
        answer = client.get(path, follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (303, "/console/login"), path
    forged = client.get("/console", headers={"Cookie": "avowal_session=" + "A" * 22})
    assert forged.url.path == "/console/login"
    assert client.post("/console/acknowledge", follow_redirects=False).status_code == 303


def test_the_home_page_lists_the_purposes_of_the_role(
    client: TestClient, member: Member, sign_in: SignIn
) -> None:
    sign_in(member)
    page = client.get("/console")
    assert "<code>essential.service.operations.support</code>" in page.text
    assert 'aria-current="page">Home' in page.text
    assert 'action="/console/logout"' in page.text
    assert "<script" not in page.text and "style=" not in page.text
    css = client.get("/console/static/console.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
