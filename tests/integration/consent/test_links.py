"""A site's back end attaches a consent id to a person; the link goes when the person is erased."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from avowal.audit.models import AuditEntry
from avowal.client import AvowalError as ApiError
from avowal.client import Client
from avowal.consent.models import CookieConsent, CookieConsentLink
from tests.integration.consent.helpers import choose

SUPPORT = "essential.service.operations.support"


def _links(app: FastAPI) -> list[CookieConsentLink]:
    with app.state.sessionmaker() as session:
        return list(session.scalars(select(CookieConsentLink)))


def test_link_list_and_erase(
    app: FastAPI, client: TestClient, backend: Client, registered: dict[str, Any]
) -> None:
    sid = registered["subject_id"]
    made = choose(client, ["analytics"]).json()
    cid = made["consent_id"]
    linked = backend.link_cookie_consent(sid, cid)
    assert linked.subject_id == sid and linked.consent_id == cid
    assert linked.actor == "web_backend"
    assert [c.signature for c in linked.choices] == [made["signature"]]
    # Linking again changes nothing.
    backend.link_cookie_consent(sid, cid)
    assert len(_links(app)) == 1
    later = choose(client, [], consent_id=cid, method="settings").json()
    (found,) = backend.cookie_consents(sid, purpose=SUPPORT)
    assert [c.signature for c in found.choices] == [later["signature"], made["signature"]]
    # The person's export holds both choices (read because a link exists).
    exported = backend.export(sid).cookie_consents
    assert sorted(c.granted for c in exported) == [[], ["analytics"]]
    assert {c.consent_id for c in exported} == {cid}
    with app.state.sessionmaker() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.subject_id == sid)
        ).all()
    assert {"link_cookie_consent", "cookie_consents"} <= set(actions)

    backend.erase(sid)
    assert _links(app) == []
    # The records themselves are anonymous and stay, under their random id.
    with app.state.sessionmaker() as session:
        assert len(session.scalars(select(CookieConsent)).all()) == 2
    for call in (
        lambda: backend.link_cookie_consent(sid, cid),
        lambda: backend.cookie_consents(sid, purpose=SUPPORT),
    ):
        try:
            call()
        except ApiError as exc:
            assert exc.status == 410
        else:
            raise AssertionError("an erased person has no cookie consents")


def test_refusals(
    app: FastAPI,
    client: TestClient,
    backend: Client,
    as_role: Callable[[str], Client],
    registered: dict[str, Any],
) -> None:
    sid = registered["subject_id"]
    cid = choose(client, ["analytics"]).json()["consent_id"]
    newsletter = as_role("newsletter_service")
    reporting = as_role("reporting_service")
    cases: list[tuple[Callable[[], object], int, str]] = [
        (lambda: backend.link_cookie_consent(sid, "f" * 32), 404, "unknown_consent_id"),
        (
            lambda: backend.link_cookie_consent("00000000-0000-0000-0000-000000000000", cid),
            404,
            "subject_not_found",
        ),
        (lambda: newsletter.link_cookie_consent(sid, cid), 403, "purpose_not_granted"),
        (
            lambda: reporting.cookie_consents(sid, purpose="analytics.reporting"),
            403,
            "purpose_not_for_cookie_consents",
        ),
        (lambda: newsletter.cookie_consents(sid, purpose=SUPPORT), 403, "purpose_not_granted"),
    ]
    for call, status, error in cases:
        try:
            call()
        except ApiError as exc:
            assert (exc.status, exc.error) == (status, error), exc
        else:
            raise AssertionError(f"expected {status} {error}")
    assert _links(app) == []
