"""News in the console: a marketing member writes a message of a declared kind, and exactly the
people who agreed to its purpose get it; other roles are refused, and so are forged or
incomplete forms, which queue nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from avowal.client import Client
from avowal.mail.models import OutboxMessage
from tests.factories import PURCHASE, REGISTRATION
from tests.integration.console.conftest import Browser, audit_entries, options

PURPOSE = "marketing.communications.email"
FORM = {"kind": "new_projects", "subject": "A new project", "text": "We started something new."}


def _years_ago(years: int) -> str:
    today = dt.datetime.now(dt.UTC).date()
    return today.replace(year=today.year - years).isoformat()


@pytest.fixture
def people(backend: Client) -> dict[str, str]:
    """Ada and Eve agreed to news; Bob only bought; a child waits for a parent."""
    ada = backend.collect("registration", REGISTRATION, ref="ada")["subject_id"]
    bob = backend.collect("purchase", {**PURCHASE, "email": "bob@example.com"}, ref="bob")
    kid = backend.collect(
        "registration",
        {**REGISTRATION, "email": "kid@example.com", "birth_date": _years_ago(10)},
        ref="kid",
        parent_email="parent@example.com",
    )
    eve = backend.collect("registration", {**REGISTRATION, "email": "eve@example.com"}, ref="eve")
    return {
        "ada": ada,
        "bob": bob["subject_id"],
        "kid": kid["subject_id"],
        "eve": eve["subject_id"],
    }


def _news(app: FastAPI) -> list[tuple[str | None, str | None]]:
    """Return the queued news: (subject id, purpose) of each message, sorted."""
    with app.state.sessionmaker() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "news")).all()
        return sorted((r.subject_id, r.purpose) for r in rows)


def test_a_marketing_member_sends_news_of_a_declared_kind_to_exactly_those_who_agreed(
    app: FastAPI, people: dict[str, str], staff_browser: Callable[..., Browser]
) -> None:
    mary = staff_browser("mary@example.com", "marketing")
    page = mary.get("/console/news")
    assert page.status_code == 200, page.text
    assert options(page.text, "kind") == ["service_updates", "new_projects"]
    # The titles, and a preview of how many people each kind reaches now.
    assert "New projects: 2 people now" in page.text
    assert "Service updates: 2 people now" in page.text
    assert f'name="csrf_token" value="{mary.csrf}"' in page.text

    sent = mary.post("/console/news", FORM)
    assert sent.status_code == 200, sent.text
    assert "2 messages of the kind “New projects”" in sent.text
    assert _news(app) == sorted([(people["ada"], PURPOSE), (people["eve"], PURPOSE)])
    (send,) = audit_entries(app, action="news")
    assert (send.actor, send.role, send.decision, send.purpose) == (
        "mary@example.com",
        "marketing",
        "allow",
        PURPOSE,
    )
    assert send.reason == "news 'new_projects' queued to 2 person(s)"
    mails = audit_entries(app, action="mail", purpose=PURPOSE)
    assert sorted(e.subject_id for e in mails) == sorted([people["ada"], people["eve"]])
    for e in [send, *mails]:
        assert FORM["text"] not in (e.reason or "") and "ada@" not in (e.reason or "")


def test_a_role_granting_no_kinds_purpose_gets_403_and_sends_nothing(
    app: FastAPI, people: dict[str, str], staff_browser: Callable[..., Browser]
) -> None:
    sam = staff_browser("sam@example.com", "support")
    page = sam.get("/console/news")
    assert page.status_code == 403
    assert "text/html" in page.headers["content-type"]
    assert "grants the purpose of none of the kinds of messages" in page.text
    posted = sam.post("/console/news", FORM)
    assert posted.status_code == 403
    assert _news(app) == []
    assert audit_entries(app, action="news") == []


def test_a_forged_csrf_token_is_refused_and_queues_nothing(
    app: FastAPI, people: dict[str, str], staff_browser: Callable[..., Browser]
) -> None:
    mary = staff_browser("mary@example.com", "marketing")
    refused = mary.http.post(
        "/console/news", data={**FORM, "csrf_token": "forged"}, follow_redirects=False
    )
    assert refused.status_code == 403
    assert "security token" in refused.text
    missing = mary.http.post("/console/news", data=FORM, follow_redirects=False)
    assert missing.status_code == 403
    assert _news(app) == []
    assert audit_entries(app, action="news") == []


def test_an_empty_subject_or_an_undeclared_kind_is_named_and_queues_nothing(
    app: FastAPI, people: dict[str, str], staff_browser: Callable[..., Browser]
) -> None:
    mary = staff_browser("mary@example.com", "marketing")
    empty = mary.post("/console/news", {**FORM, "subject": ""})
    assert empty.status_code == 422
    assert "Nothing was sent" in empty.text and "Subject:" in empty.text
    # The form keeps what was typed.
    assert FORM["text"] in empty.text
    unknown = mary.post("/console/news", {**FORM, "kind": "weekly_digest"})
    assert unknown.status_code == 422
    assert "no kind of message &#39;weekly_digest&#39;" in unknown.text
    assert "service_updates, new_projects" in unknown.text
    assert _news(app) == []
    assert audit_entries(app, action="news") == []
