"""Acceptance of policy versions: explicit, or by continued use once notified; never more."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select

from avowal.app import create_app
from avowal.audit.models import AuditEntry
from avowal.client import (
    AlreadyAccepted,
    AvowalError,
    Client,
    NotFound,
    PurposeNotAllowed,
    SubjectErased,
)
from avowal.lib import clock
from avowal.lifecycle.acceptance import changes_digest
from avowal.lifecycle.models import Acceptance, ChangeNotification, PolicyVersion
from avowal.settings import Settings
from tests.factories import PURCHASE
from tests.integration.lifecycle.changes_setup import (
    ADDED,
    AFTER,
    EFFECTIVE,
    T0,
    asker,
    customer,
    mail_pass,
    publish,
    v2,
)

SIGN_IN = "essential.service.authentication"


@pytest.fixture
def moment(monkeypatch: pytest.MonkeyPatch) -> dict[str, dt.datetime]:
    moment = {"now": T0}
    monkeypatch.setattr(clock, "now", lambda: moment["now"])
    return moment


@pytest.fixture
def app(settings: Settings, engine: Engine, moment: dict[str, dt.datetime]) -> FastAPI:
    return create_app(settings.model_copy(update={"policy_refresh_seconds": 0}), engine=engine)


@pytest.fixture
def ada(backend: Client) -> str:
    return customer(backend, "ada", buys=True)


def _announce(app: FastAPI, engine: Engine, **changes: object) -> PolicyVersion:
    """Publish the new version and tell people by e-mail (the mail worker's pass)."""
    version = publish(engine, v2(**changes))
    assert mail_pass(app).sent
    return version


def _rows(app: FastAPI, subject_id: str) -> list[Acceptance]:
    with app.state.sessionmaker() as s:
        return list(s.scalars(select(Acceptance).where(Acceptance.subject_id == subject_id)))


def test_continued_use_is_recorded_at_the_first_sign_in_after_the_date_once_notified(
    app: FastAPI, engine: Engine, backend: Client, ada: str, moment: dict[str, dt.datetime]
) -> None:
    version = _announce(app, engine)
    # Before the date: the version is announced, not in effect; signing in accepts nothing.
    moment["now"] = EFFECTIVE - dt.timedelta(minutes=1)
    backend.read(ada, purpose=SIGN_IN)
    assert _rows(app, ada) == []
    moment["now"] = AFTER
    # A read for another purpose is not the person's interaction.
    backend.read(ada, purpose="essential.service.payment_processing")
    assert _rows(app, ada) == []
    backend.read(ada, purpose=SIGN_IN)
    (row,) = _rows(app, ada)
    assert row.method == "continued_use" and row.version_id == version.version_id
    assert clock.aware(row.at) == AFTER
    assert row.actor == "web_backend"
    with app.state.sessionmaker() as s:
        note = s.scalars(select(ChangeNotification).where(ChangeNotification.subject_id == ada))
        message_id = note.one().message_id
    assert row.shown == {
        "version_id": version.version_id,
        "notice": f"email:{message_id}",
        "material": version.material,
        "changes_digest": changes_digest(version.changes),
    }
    # Not twice.
    moment["now"] = AFTER + dt.timedelta(days=1)
    backend.read(ada, purpose=SIGN_IN)
    assert len(_rows(app, ada)) == 1
    (listed,) = backend.acceptances(ada, purpose="essential.service")
    assert listed.method == "continued_use" and listed.shown.notice == f"email:{message_id}"
    exported = backend.export(ada).acceptances  # read because an acceptance exists
    assert [(a.version_id, a.method) for a in exported] == [(version.version_id, "continued_use")]


def test_continued_use_never_extends_the_purposes_of_earlier_data(
    app: FastAPI, engine: Engine, backend: Client, ada: str, moment: dict[str, dt.datetime]
) -> None:
    _announce(app, engine)
    before = backend.read(ada, purpose=ADDED, fields=["card"])
    assert "card" not in before["values"]
    moment["now"] = AFTER
    backend.read(ada, purpose=SIGN_IN)
    assert [r.method for r in _rows(app, ada)] == ["continued_use"]
    # The new version lets support use purchase data: only the person's explicit consent to the
    # point's new notice extends what they gave earlier, never their continued use.
    after = backend.read(ada, purpose=ADDED, fields=["card"])
    assert "card" not in after["values"]
    (withheld,) = after["withheld"]
    assert withheld.field == "card" and withheld.reason == "consent_required"


def test_no_continued_use_without_notice(
    app: FastAPI, engine: Engine, backend: Client, moment: dict[str, dt.datetime]
) -> None:
    # Their only address was given for a question: they could not be told by e-mail.
    asked = asker(backend, "asker")
    ada = customer(backend, "ada", buys=True)
    _announce(app, engine)
    moment["now"] = AFTER
    backend.read(asked, purpose="essential.service.operations.support")
    backend.collect("contact", {"email": "asker@example.com", "message": "Hi"}, subject_id=asked)
    assert _rows(app, asked) == []
    # Any collection for a notified person is an interaction of theirs.
    backend.collect("purchase", {**PURCHASE, "email": "ada.billing@example.com"}, subject_id=ada)
    assert [r.method for r in _rows(app, ada)] == ["continued_use"]


def test_no_continued_use_when_the_policy_says_it_does_not_accept(
    app: FastAPI, engine: Engine, backend: Client, ada: str, moment: dict[str, dt.datetime]
) -> None:
    _announce(app, engine, continued_use_accepts=False)
    moment["now"] = AFTER
    backend.read(ada, purpose=SIGN_IN)
    assert _rows(app, ada) == []


def test_no_continued_use_for_someone_who_came_after_the_change(
    app: FastAPI, engine: Engine, backend: Client, moment: dict[str, dt.datetime]
) -> None:
    customer(backend, "ada", buys=True)
    _announce(app, engine)
    moment["now"] = AFTER
    newcomer = customer(backend, "newcomer", buys=True)
    backend.read(newcomer, purpose=SIGN_IN)
    assert _rows(app, newcomer) == []


def test_explicit_acceptance_and_its_refusals(
    app: FastAPI, engine: Engine, as_role: Callable[[str], Client], ada: str,
    moment: dict[str, dt.datetime],
) -> None:  # fmt: skip
    backend = as_role("web_backend")
    first = app.state.policies.current().version_id
    version = _announce(app, engine)
    # An announced version may be accepted before it takes effect.
    accepted = backend.accept(ada, version.version_id, shown="signup-banner-2027-02")
    assert accepted.method == "explicit" and accepted.actor == "web_backend"
    assert accepted.at == T0
    assert accepted.shown.notice == "signup-banner-2027-02"
    assert accepted.shown.material is version.material
    with pytest.raises(AlreadyAccepted) as twice:
        backend.accept(ada, version.version_id)
    assert twice.value.status == 409 and twice.value.method == "explicit"
    with pytest.raises(NotFound) as unknown:
        backend.accept(ada, "0" * 64)
    assert unknown.value.status == 404 and unknown.value.error == "unknown_version"
    with pytest.raises(NotFound):
        backend.accept("00000000-0000-4000-8000-000000000000", version.version_id)
    with pytest.raises(PurposeNotAllowed) as refused:
        as_role("newsletter_service").accept(ada, version.version_id)
    assert refused.value.status == 403
    with app.state.sessionmaker() as s:
        denied = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "accept", AuditEntry.decision == "deny")
        ).all()
    assert len(denied) == 1
    # Once the new version is in effect the old one can no longer be accepted.
    moment["now"] = AFTER
    with pytest.raises(AvowalError) as superseded:
        backend.accept(ada, first)
    assert superseded.value.status == 409 and superseded.value.error == "version_not_current"
    # Accepted explicitly already: signing in records nothing more.
    backend.read(ada, purpose=SIGN_IN)
    assert [r.method for r in _rows(app, ada)] == ["explicit"]
    (listed,) = backend.acceptances(ada, purpose="essential.service")
    assert listed.acceptance_id == accepted.acceptance_id


def test_reading_acceptances_needs_a_purpose_serving_the_person(
    app: FastAPI, engine: Engine, as_role: Callable[[str], Client], ada: str
) -> None:
    backend = as_role("web_backend")
    version = _announce(app, engine)
    backend.accept(ada, version.version_id)
    with pytest.raises(PurposeNotAllowed):
        as_role("newsletter_service").acceptances(ada, purpose="essential.service")
    with pytest.raises(AvowalError) as not_for_marketing:
        as_role("newsletter_service").acceptances(ada, purpose="marketing.communications.email")
    assert not_for_marketing.value.status == 403
    assert not_for_marketing.value.error == "purpose_not_allowed"
    with pytest.raises(NotFound):
        backend.acceptances("00000000-0000-4000-8000-000000000000", purpose="essential.service")


def test_erasure_deletes_acceptances_and_notifications(
    app: FastAPI, engine: Engine, backend: Client, ada: str
) -> None:
    version = _announce(app, engine)
    backend.accept(ada, version.version_id)
    backend.erase(ada)
    assert _rows(app, ada) == []
    with app.state.sessionmaker() as s:
        left = select(func.count()).where(ChangeNotification.subject_id == ada)
        assert s.scalar(left) == 0
        # The chain still says an acceptance was recorded, as it keeps every access.
        kept = select(func.count()).where(
            AuditEntry.action == "accept", AuditEntry.subject_id == ada
        )
        assert s.scalar(kept) == 1
    with pytest.raises(SubjectErased):
        backend.acceptances(ada, purpose="essential.service")
    with pytest.raises(SubjectErased):
        backend.accept(ada, version.version_id)
