"""Enrolment: a single-use, expiring link where the person sets a password and enrols TOTP."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from avowal.audit.models import AuditEntry
from avowal.staff.models import Enrolment, StaffAccount
from tests.integration.staff.conftest import PASSWORD, Clock, Member


def enrol(
    client: TestClient,
    token: str,
    *,
    password: str = PASSWORD,
    confirm: str | None = None,
    code: str,
    csrf: str | None = None,
) -> httpx.Response:
    page = client.get(f"/console/enrol/{token}")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    # A refused link shows no form: post the browser's double-submit cookie then.
    token_value = found.group(1) if found else client.cookies.get("avowal_csrf", "")
    return client.post(
        f"/console/enrol/{token}",
        data={
            "password": password,
            "confirm": password if confirm is None else confirm,
            "code": code,
            "csrf_token": token_value if csrf is None else csrf,
        },
    )


def test_enrolment_shows_the_secret_sets_the_password_and_the_link_works_once(
    app: FastAPI, client: TestClient, make_member: Callable[..., Member], clock: Clock
) -> None:
    new = make_member("ada@example.com", enrol=False, acknowledge=False)
    page = client.get(f"/console/enrol/{new.token}")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    grouped = " ".join(new.secret[i : i + 4] for i in range(0, len(new.secret), 4))
    assert grouped in page.text
    image = re.search(r'<img src="data:image/svg\+xml;base64,([^"]+)"', page.text)
    assert image is not None
    assert base64.b64decode(image.group(1)).startswith(b"<svg")
    assert "<script" not in page.text and "style=" not in page.text
    assert 'minlength="12"' in page.text

    done = enrol(client, new.token, code=new.code(clock.now))
    assert done.status_code == 200, done.text
    assert "The account ada@example.com is ready" in done.text
    with app.state.sessionmaker() as session:
        account = session.get(StaffAccount, new.account_id)
        enrolment = session.scalars(select(Enrolment)).one()
        actions = session.scalars(select(AuditEntry.action)).all()
    assert account is not None and account.password_hash is not None
    assert account.password_hash.startswith("$argon2id$")
    assert account.totp_secret is not None and new.secret.encode() not in account.totp_secret
    assert account.enrolled_at is not None and enrolment.used_at is not None
    assert account.totp_last_step == int(clock.now.timestamp()) // 30
    assert new.token not in enrolment.token_hash
    assert "enrol" in actions

    again = client.get(f"/console/enrol/{new.token}")
    assert again.status_code == 410
    assert "was used already" in again.text
    clock.advance(seconds=30)
    assert enrol(client, new.token, code=new.code(clock.now)).status_code == 410


def test_refusals_name_the_rule_and_keep_the_link(
    app: FastAPI, client: TestClient, make_member: Callable[..., Member], clock: Clock
) -> None:
    new = make_member("ada@example.com", enrol=False, acknowledge=False)
    code = new.code(clock.now)
    wrong = "000000" if code != "000000" else "111111"
    cases: list[tuple[dict[str, str], str]] = [
        ({"password": "short-Pw1"}, "at least 12 characters"),
        ({"password": "password1234"}, "the password is"),
        ({"password": "ada-Lantern-47-orbit"}, "must not contain your e-mail"),
        ({"confirm": "quiet-Lantern-47-orbiT"}, "the two passwords differ"),
        ({"code": wrong}, "the code from the authenticator"),
    ]
    for change, message in cases:
        answer = enrol(client, new.token, **{"code": code, **change})  # type: ignore[arg-type]
        assert answer.status_code == 400, change
        assert message in answer.text, (change, answer.text)
        assert 'role="alert"' in answer.text
    for forged in ("", "forged-" * 6):
        answer = enrol(client, new.token, code=code, csrf=forged)
        assert answer.status_code == 403
        assert "security token" in answer.text
    with app.state.sessionmaker() as session:
        account = session.get(StaffAccount, new.account_id)
        assert account is not None and account.password_hash is None
    assert enrol(client, new.token, code=code).status_code == 200


def test_an_expired_or_unknown_link_is_refused(
    client: TestClient, make_member: Callable[..., Member], clock: Clock
) -> None:
    new = make_member("ada@example.com", enrol=False, acknowledge=False)
    clock.advance(hours=71, minutes=59, seconds=59)
    assert client.get(f"/console/enrol/{new.token}").status_code == 200
    clock.advance(seconds=1)  # 72 hours after `staff add`
    page = client.get(f"/console/enrol/{new.token}")
    assert page.status_code == 410
    assert "this enrolment link expired on" in page.text
    assert client.get("/console/enrol/" + "x" * 43).status_code == 410
