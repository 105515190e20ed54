"""News is of a kind the policy declares, and goes only to the people who agreed to that kind's
purpose, not locked and not objecting, with a one-click unsubscribe (RFC 8058) and a page; an
objection also withholds reads and lookups for the purpose; every message and every send is
audited without an address. An undeclared kind is refused naming the declared ones."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from email.message import Message
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from avowal.app import create_app
from avowal.audit.models import AuditEntry
from avowal.callers import service as callers
from avowal.cli import app as cli
from avowal.client import Client
from avowal.mail import news, unsubscribe
from avowal.mail.models import OutboxMessage
from avowal.mail.news_models import Objection
from avowal.policy.loader import parse_text
from avowal.settings import Settings
from tests.factories import PURCHASE, REGISTRATION, policy_text, write_policy
from tests.integration.mail.conftest import Certificate, run_pass, serve, smtp_settings

PURPOSE = "marketing.communications.email"
NOTIFICATIONS = "essential.service.notifications.email"
KIND, TITLE = "new_projects", "New projects"
DECLARED = "service_updates, new_projects"
NEWS = {"kind": KIND, "subject": "A new project", "text": "We started something new."}
EMAILS = {
    "ada": "ada@example.com",
    "bob": "bob@example.com",
    "kid": "kid@example.com",
    "eve": "eve@example.com",
}


def _years_ago(years: int) -> str:
    today = dt.datetime.now(dt.UTC).date()
    return today.replace(year=today.year - years).isoformat()


@pytest.fixture
def people(backend: Client) -> dict[str, str]:
    """Ada and Eve agreed to news; Bob only bought (no news); a child waits for a parent."""
    ada = backend.collect("registration", REGISTRATION, ref="ada")["subject_id"]
    bob = backend.collect("purchase", {**PURCHASE, "email": EMAILS["bob"]}, ref="bob")["subject_id"]
    kid = backend.collect(
        "registration",
        {**REGISTRATION, "email": EMAILS["kid"], "birth_date": _years_ago(10)},
        ref="kid",
        parent_email="parent@example.com",
    )["subject_id"]
    eve = backend.collect("registration", {**REGISTRATION, "email": EMAILS["eve"]}, ref="eve")[
        "subject_id"
    ]
    return {"ada": ada, "bob": bob, "kid": kid, "eve": eve}


def _auth(tokens: dict[str, str], role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}"}


def _post_news(client: TestClient, tokens: dict[str, str], role: str = "newsletter_service") -> Any:
    return client.post("/v1/news", json=NEWS, headers=_auth(tokens, role))


def _deliver(app: FastAPI, settings: Settings, certificate: Certificate) -> dict[str, Message]:
    """Deliver the outbox over SMTP; return the news received, by address."""
    with serve("starttls", certificate) as server:
        run_pass(app, smtp_settings(settings, server.port, certificate))
    return {str(m["To"]): m for m in server.inbox.messages() if m["List-Unsubscribe"] is not None}


def _text(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    raise AssertionError("no text part")


def _outbox(app: FastAPI) -> list[tuple[str | None, str | None]]:
    """Return the queued news: (subject id, purpose) of each message, sorted."""
    with app.state.sessionmaker() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "news")).all()
        return sorted((r.subject_id, r.purpose) for r in rows)


def _objections(app: FastAPI) -> list[tuple[str, str, str]]:
    with app.state.sessionmaker() as session:
        rows = session.scalars(select(Objection).order_by(Objection.id)).all()
        return [(r.subject_id, r.purpose, r.via) for r in rows]


def test_news_reaches_only_those_who_agreed_and_one_click_unsubscribes(
    app: FastAPI,
    client: TestClient,
    settings: Settings,
    certificate: Certificate,
    tokens: dict[str, str],
    people: dict[str, str],
    as_role: Callable[[str], Client],
) -> None:
    answer = _post_news(client, tokens)
    assert answer.status_code == 201, answer.text
    assert answer.json()["count"] == 2 and len(answer.json()["message_ids"]) == 2
    assert (answer.json()["kind"], answer.json()["purpose"]) == (KIND, PURPOSE)
    received = _deliver(app, settings, certificate)
    # Not Bob (no news purpose), not the child (locked until a parent consents).
    assert set(received) == {EMAILS["ada"], EMAILS["eve"]}
    msg = received[EMAILS["eve"]]
    assert msg["Subject"] == NEWS["subject"]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    found = re.fullmatch(r"<(https?://\S+(/privacy/unsubscribe/\S+))>", msg["List-Unsubscribe"])
    assert found is not None, msg["List-Unsubscribe"]
    assert found.group(1) in _text(msg) and NEWS["text"] in _text(msg)
    # The message says which kind of message it is, by the title the policy gives it.
    assert _text(msg).splitlines()[0] == TITLE and f"You receive “{TITLE}”" in _text(msg)
    path = found.group(2)
    # What a mail client sends for a one-click unsubscribe; twice changes nothing.
    for _ in range(2):
        done = client.post(path, data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200 and "unsubscribed" in done.text
    assert _objections(app) == [(people["eve"], PURPOSE, "header")]

    again = _post_news(client, tokens)
    assert again.json()["count"] == 1
    assert set(_deliver(app, settings, certificate)) == {EMAILS["ada"]}

    # Reads for the purpose withhold the objector's values; a lookup answers them as unknown.
    newsletter = as_role("newsletter_service")
    read = newsletter.read(people["eve"], purpose=PURPOSE)
    assert read.values == {}
    assert ("email", "objected") in {(w.field, w.reason) for w in read.withheld}
    assert newsletter.read(people["ada"], purpose=PURPOSE).values["email"].value == EMAILS["ada"]
    assert newsletter.lookup("email", EMAILS["eve"], purpose=PURPOSE) == []
    assert newsletter.lookup("email", EMAILS["ada"], purpose=PURPOSE) == [people["ada"]]

    with app.state.sessionmaker() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    sends = [e for e in entries if e.action == "news"]
    assert [(e.actor, e.purpose, e.reason) for e in sends] == [
        (sends[0].actor, PURPOSE, f"news '{KIND}' queued to 2 person(s)"),
        (sends[0].actor, PURPOSE, f"news '{KIND}' queued to 1 person(s)"),
    ]
    mails = [e for e in entries if e.action == "mail" and e.purpose == PURPOSE]
    assert sorted(e.subject_id for e in mails) == sorted(
        [people["ada"], people["eve"], people["ada"]]
    )
    assert [e.subject_id for e in entries if e.action == "objection"] == [people["eve"]]
    for e in [*sends, *mails]:
        logged = " ".join(str(getattr(e, c)) for c in ("reason", "fields", "actor", "role"))
        assert "@" not in logged and NEWS["text"] not in logged


def test_the_unsubscribe_page_records_an_objection_and_forged_links_open_nothing(
    app: FastAPI, client: TestClient, people: dict[str, str]
) -> None:
    token = unsubscribe.token(app.state.secrets, people["ada"], PURPOSE)
    page = client.get(f"/privacy/unsubscribe/{token}")
    assert page.status_code == 200
    assert f'action="/privacy/unsubscribe/{token}"' in page.text
    assert page.headers["cache-control"] == "no-store"
    done = client.post(f"/privacy/unsubscribe/{token}")
    assert done.status_code == 200 and "unsubscribed" in done.text
    assert _objections(app) == [(people["ada"], PURPOSE, "page")]
    forged = [
        token[:-1] + ("0" if token[-1] != "0" else "1"),
        token.replace(PURPOSE, "marketing.communications"),
        token.replace(people["ada"], people["eve"]),
        "nonsense",
    ]
    for bad in forged:
        assert client.get(f"/privacy/unsubscribe/{bad}").status_code == 404
        assert client.post(f"/privacy/unsubscribe/{bad}").status_code == 404
    assert len(_objections(app)) == 1


def test_only_a_role_granting_the_kinds_purpose_sends_news(
    app: FastAPI, client: TestClient, tokens: dict[str, str], people: dict[str, str]
) -> None:
    refused = _post_news(client, tokens, "web_backend")
    assert refused.status_code == 403
    assert refused.json()["error"] == "purpose_not_granted"
    with app.state.sessionmaker() as session:
        denied = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "news", AuditEntry.decision == "deny")
        ).all()
    assert [(e.role, e.purpose) for e in denied] == [("web_backend", PURPOSE)]
    assert _outbox(app) == []


def test_an_undeclared_kind_is_refused_naming_the_declared_ones_and_nothing_is_queued(
    app: FastAPI, client: TestClient, tokens: dict[str, str], people: dict[str, str]
) -> None:
    unknown = client.post(
        "/v1/news",
        json={**NEWS, "kind": "weekly_digest"},
        headers=_auth(tokens, "newsletter_service"),
    )
    assert unknown.status_code == 422
    body = unknown.json()
    assert body["error"] == "unknown_news_kind"
    assert (body["kind"], body["declared"]) == (
        "weekly_digest",
        ["service_updates", "new_projects"],
    )
    assert "'weekly_digest'" in body["message"] and DECLARED in body["message"]
    # A policy that declares kinds takes no purpose instead (nor both, nor neither).
    by_purpose = {"purpose": PURPOSE, "subject": "Hi", "text": "Hello."}
    for sent in (by_purpose, {**by_purpose, "kind": KIND}, {"subject": "Hi", "text": "Hello."}):
        answer = client.post("/v1/news", json=sent, headers=_auth(tokens, "newsletter_service"))
        assert answer.status_code == 422, sent
        assert answer.json()["error"] == "news_kind_required", sent
    assert DECLARED in answer.json()["message"]
    assert _outbox(app) == []
    news_or_mail = [(e.action, e.purpose) for e in _entries(app) if e.action in ("news", "mail")]
    assert news_or_mail == [("mail", "essential.service.notifications")]  # the parent's request


def _entries(app: FastAPI) -> list[AuditEntry]:
    with app.state.sessionmaker() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def _account_news(d: dict[str, Any]) -> None:
    d["communications"]["account_news"] = {
        "title": "About your account",
        "description": "Changes to how your account works.",
        "purpose": NOTIFICATIONS,
    }


def test_the_kinds_purpose_decides_the_recipients_exactly(
    app: FastAPI, people: dict[str, str]
) -> None:
    loaded = parse_text(policy_text(_account_news))
    secrets, settings = app.state.secrets, app.state.settings
    with app.state.sessionmaker() as session, session.begin():
        account = news.kind_of(loaded, "account_news")
        projects = news.kind_of(loaded, KIND)
        assert (account.purpose, account.title) == (NOTIFICATIONS, "About your account")
        first = news.send(session, loaded, secrets, settings, account, "Hi", "Hello.", "grace")
        second = news.send(session, loaded, secrets, settings, projects, "Hi", "Hello.", "grace")
    # Notifications: everyone who gave an address for them (Bob bought, so he is told too);
    # new projects: only those who agreed to marketing e-mail. Never the locked child.
    told = sorted([people["ada"], people["bob"], people["eve"]])
    agreed = sorted([people["ada"], people["eve"]])
    assert (first.kind, first.count, second.kind, second.count) == ("account_news", 3, KIND, 2)
    assert _outbox(app) == sorted(
        [(s, NOTIFICATIONS) for s in told] + [(s, PURPOSE) for s in agreed]
    )
    sends = [(e.purpose, e.reason) for e in _entries(app) if e.action == "news"]
    assert sends == [
        (NOTIFICATIONS, "news 'account_news' queued to 3 person(s)"),
        (PURPOSE, f"news '{KIND}' queued to 2 person(s)"),
    ]


def _no_communications(d: dict[str, Any]) -> None:
    del d["communications"]


def test_a_policy_without_communications_takes_a_purpose(
    settings: Settings, engine: Any, tmp_path: Any
) -> None:
    folder = tmp_path / "no-communications"
    folder.mkdir()
    changed = settings.model_copy(update={"policy_file": write_policy(folder, _no_communications)})
    other = create_app(changed, engine=engine)
    with TestClient(other) as http:
        with other.state.sessionmaker() as session, session.begin():
            policy = other.state.policies.current()
            token = {
                r: callers.create(session, policy, r, r)
                for r in ("web_backend", "newsletter_service", "reporting_service")
            }
        Client("http://testserver", token["web_backend"], http=http).collect(  # type: ignore[arg-type]
            "registration", REGISTRATION, ref="ada"
        )
        sent = http.post(
            "/v1/news",
            json={"purpose": PURPOSE, "subject": "Hi", "text": "Hello."},
            headers={"Authorization": f"Bearer {token['newsletter_service']}"},
        )
        assert sent.status_code == 201, sent.text
        assert (sent.json()["kind"], sent.json()["count"]) == (None, 1)
        kind = http.post(
            "/v1/news",
            json={"kind": KIND, "subject": "Hi", "text": "Hello."},
            headers={"Authorization": f"Bearer {token['newsletter_service']}"},
        )
        assert kind.status_code == 422 and kind.json()["declared"] == []
        analytics = http.post(
            "/v1/news",
            json={"purpose": "analytics.reporting", "subject": "Hi", "text": "Hello."},
            headers={"Authorization": f"Bearer {token['reporting_service']}"},
        )
        assert analytics.status_code == 400
        assert analytics.json()["error"] == "news_purpose_not_allowed"
    assert [(e.reason) for e in _entries(other) if e.action == "news"] == [
        "news queued to 1 person(s)"
    ]


def test_the_command_line_sends_news(
    monkeypatch: pytest.MonkeyPatch,
    app: FastAPI,
    settings: Settings,
    people: dict[str, str],
) -> None:
    monkeypatch.setenv("AVOWAL_ENV", "test")
    monkeypatch.setenv("AVOWAL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AVOWAL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("AVOWAL_POLICY_FILE", str(settings.policy_file))
    text = settings.data_dir / "news.txt"
    text.write_text(NEWS["text"], encoding="utf-8")
    base = ["news", "send", "--subject", "Hi", "--text-file", str(text), "--by", "grace"]
    result = CliRunner().invoke(cli, [*base, "--kind", KIND])
    assert result.exit_code == 0, result.output
    assert f"2 message(s) queued for {KIND} ({PURPOSE})" in result.stdout
    unknown = CliRunner().invoke(cli, [*base, "--kind", "weekly_digest"])
    assert unknown.exit_code == 1
    assert "declares no kind of message 'weekly_digest'" in unknown.stderr
    assert DECLARED in unknown.stderr
    by_purpose = CliRunner().invoke(cli, [*base, "--purpose", "analytics.reporting"])
    assert by_purpose.exit_code == 1 and "name one as the kind" in by_purpose.stderr
    with app.state.sessionmaker() as session:
        sends = session.scalars(select(AuditEntry).where(AuditEntry.action == "news")).all()
    assert [(e.actor, e.role) for e in sends] == [("grace", "operator")]
