"""The rights API (issue 12, point 2): the site's back end relays a person's request.

Export, correction, withdrawal, objection and a site-issued privacy-center link, through the
Python client against the app, with a token of each service role of the example policy: the
back end acts; the newsletter and reporting services are refused (403, audited, nothing changed).
Each request carried out is a closed case with source ``api``. SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from avowal.audit.models import AuditEntry
from avowal.client import (
    Client,
    InvalidData,
    NotFound,
    NotObjectable,
    NotWithdrawable,
    PersonLocked,
    RightsNotAllowed,
    SubjectErased,
    UnknownPurpose,
)
from avowal.crypto import cipher, signing
from avowal.mail import news
from avowal.mail.news_models import Objection
from avowal.rights import links, signin
from avowal.rights.exceptions import LinkUsed
from avowal.rights.models import Case, PersonGrant
from avowal.settings import Settings
from avowal.vault.models import BlindIndex, Disclosure, PersonalValue, Receipt
from tests import stored
from tests.factories import PURCHASE, REGISTRATION

MARKETING = "marketing.communications.email"
AUTHENTICATION = "essential.service.authentication"
PAYMENT = "essential.service.payment_processing"
REFUSED_ROLES = ("newsletter_service", "reporting_service")
NEW_EMAIL = "ada.new@example.com"
# What the vault keeps of each value given (normalised as at collection; the card as last4).
KEPT = {
    "registration": {**REGISTRATION, "phone": "+15550100"},
    "purchase": {**PURCHASE, "card": "4242"},
}


# -- Helpers -----------------------------------------------------------------------------------


def held(app: FastAPI) -> dict[str, list[tuple[Any, ...]]]:
    """Return what a refused or invalid request must leave unchanged: values, lookup rows,
    receipts, disclosures, objections, cases and privacy-center links."""
    with app.state.sessionmaker() as s:
        return {
            "values": [
                (v.subject_id, v.point, v.field, v.receipt_id, sorted(v.purposes), v.ciphertext)
                for v in s.scalars(select(PersonalValue).order_by(PersonalValue.id))
            ],
            "index": [
                (b.subject_id, b.point, b.field, b.digest)
                for b in s.scalars(select(BlindIndex).order_by(BlindIndex.digest))
            ],
            "receipts": sorted((r.id,) for r in s.scalars(select(Receipt))),
            "disclosures": [(d.id,) for d in s.scalars(select(Disclosure))],
            "objections": [(o.subject_id, o.purpose) for o in s.scalars(select(Objection))],
            "cases": [(c.id,) for c in s.scalars(select(Case))],
            "grants": [(g.id,) for g in s.scalars(select(PersonGrant))],
        }


def api_cases(app: FastAPI) -> list[Case]:
    """Return the cases recorded, oldest first."""
    with app.state.sessionmaker() as s:
        return list(s.scalars(select(Case).order_by(Case.number)))


def last_audit(app: FastAPI, action: str) -> AuditEntry:
    """Return the latest audit entry of ``action``."""
    with app.state.sessionmaker() as s:
        entry: AuditEntry | None = s.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq.desc())
        ).first()
    assert entry is not None, action
    return entry


def assert_one_closed_case(app: FastAPI, kind: str, subject_id: str) -> Case:
    """Check the request was recorded as one case of ``kind``, from the API, closed at once."""
    found = [c for c in api_cases(app) if c.kind == kind]
    assert len(found) == 1, [(c.kind, c.outcome) for c in api_cases(app)]
    case = found[0]
    assert (case.source, case.status, case.account_ids) == ("api", "closed", subject_id)
    assert case.closed_by == "web_backend"
    assert case.identity_method == "vouched for by web_backend"
    assert case.closed_at is not None and case.outcome
    # The register says what was done, never a value of the person's.
    for value in [*REGISTRATION.values(), *PURCHASE.values(), NEW_EMAIL]:
        assert value not in case.outcome
    return case


def verifies(client: TestClient, receipt: dict[str, Any], signature: str) -> bool:
    """Check a receipt with the public key the server publishes."""
    key = client.get("/v1/receipts/key").json()
    return signing.verify(signing.load_public_pem(key["public_key_pem"]), receipt, signature)


def bearer(tokens: dict[str, str]) -> dict[str, str]:
    """Return the back end's authorization header, for calls outside the client."""
    return {"Authorization": f"Bearer {tokens['web_backend']}"}


def newsletter_reads_email(as_role: Callable[[str], Client], subject_id: str) -> bool:
    """Tell whether the newsletter service's read for marketing gets the person's e-mail."""
    data = as_role("newsletter_service").read(subject_id, purpose=MARKETING)
    return "email" in data["values"]


# -- Export ------------------------------------------------------------------------------------


def test_the_export_is_everything_held_decrypted_with_receipts_that_verify(
    backend: Client,
    registered: dict[str, Any],
    client: TestClient,
    app: FastAPI,
    tokens: dict[str, str],
) -> None:
    sid = registered["subject_id"]
    backend.disclose(sid, recipient="payment_processor", fields=["card"], purpose=PAYMENT)
    backend.object(sid, MARKETING)
    exported = backend.export(sid)

    assert exported.subject_id == sid
    assert exported.schema_ == "avowal-export/1"
    points = {p.point: p for p in exported.points}
    assert list(points) == ["registration", "purchase"]
    for point, given in KEPT.items():
        notice = {f.name: f for f in backend.notice(point).fields}
        values = {v.field: v for v in points[point].values}
        assert set(values) == set(given)
        for name, value in values.items():
            assert value.value == given[name], (point, name)
            assert value.kept_as == notice[name].storage
            assert sorted(p.key for p in value.purposes) == sorted(notice[name].purposes)
            assert all(p.name and p.name != p.key for p in value.purposes)
    card = next(v for v in points["purchase"].values if v.field == "card")
    assert (card.value, card.kept_as) == ("4242", "last4")
    assert [r.key for r in card.recipients] == ["payment_processor"]

    receipt_ids = {registered["registration"]["receipt"]["receipt_id"]}
    receipt_ids.add(registered["purchase"]["receipt"]["receipt_id"])
    assert {r.receipt["receipt_id"] for r in exported.receipts} == receipt_ids
    for r in exported.receipts:
        assert verifies(client, r.receipt, r.signature)
    assert [(d.recipient.key, d.purpose.key, d.fields) for d in exported.disclosures] == [
        ("payment_processor", PAYMENT, ["card"])
    ]
    assert [(o.purpose.key, o.via) for o in exported.objections] == [(MARKETING, "api")]

    # The JSON answer names its schema by the key `schema`.
    raw = client.get(f"/v1/subjects/{sid}/export", headers=bearer(tokens)).json()
    assert raw["schema"] == "avowal-export/1" and "schema_" not in raw
    entry = last_audit(app, "export")
    assert (entry.actor, entry.role, entry.subject_id) == ("web_backend", "web_backend", sid)
    assert len([c for c in api_cases(app) if c.kind == "access"]) == 2


def test_an_export_is_a_closed_case(
    backend: Client, registered: dict[str, Any], app: FastAPI
) -> None:
    sid = registered["subject_id"]
    backend.export(sid)
    assert_one_closed_case(app, "access", sid)


def test_an_unknown_person_is_404_and_an_erased_one_410(
    backend: Client, registered: dict[str, Any], app: FastAPI
) -> None:
    with pytest.raises(NotFound) as unknown:
        backend.export("00000000-0000-4000-8000-000000000000")
    assert (unknown.value.status, unknown.value.error) == (404, "subject_not_found")
    sid = registered["subject_id"]
    backend.erase(sid)
    for call in (
        lambda: backend.export(sid),
        lambda: backend.withdraw(sid, MARKETING),
        lambda: backend.correct(sid, "registration", "email", NEW_EMAIL),
        lambda: backend.object(sid, MARKETING),
        lambda: backend.privacy_link(sid),
    ):
        with pytest.raises(SubjectErased) as gone:
            call()
        assert gone.value.status == 410
    assert api_cases(app) == []


# -- Who may act -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", REFUSED_ROLES)
def test_other_roles_are_refused_audited_and_nothing_changes(
    role: str,
    as_role: Callable[[str], Client],
    registered: dict[str, Any],
    app: FastAPI,
) -> None:
    sid = registered["subject_id"]
    caller = as_role(role)
    before = held(app)
    calls: dict[str, Callable[[], Any]] = {
        "export": lambda: caller.export(sid),
        "correct": lambda: caller.correct(sid, "registration", "email", NEW_EMAIL),
        "withdraw": lambda: caller.withdraw(sid, MARKETING),
        "objection": lambda: caller.object(sid, MARKETING),
        "privacy_link": lambda: caller.privacy_link(sid),
    }
    for action, call in calls.items():
        with pytest.raises(RightsNotAllowed) as refused:
            call()
        assert refused.value.status == 403
        assert refused.value.role == role
        entry = last_audit(app, action)
        assert (entry.decision, entry.role, entry.subject_id) == ("deny", role, sid)
    # A site ref is refused before it is looked up: a caller who may not act learns nothing.
    for ref in ("user-1", "nobody-here"):
        with pytest.raises(RightsNotAllowed):
            caller.privacy_link(ref=ref)
    assert held(app) == before
    assert newsletter_reads_email(as_role, sid)


# -- Withdrawal --------------------------------------------------------------------------------


def test_a_withdrawal_takes_effect_on_the_next_read_and_lookup(
    backend: Client,
    as_role: Callable[[str], Client],
    registered: dict[str, Any],
    client: TestClient,
    app: FastAPI,
) -> None:
    sid = registered["subject_id"]
    newsletter = as_role("newsletter_service")
    assert newsletter_reads_email(as_role, sid)
    assert newsletter.lookup("email", REGISTRATION["email"], purpose=MARKETING) == [sid]

    withdrawn = backend.withdraw(sid, MARKETING)
    assert (withdrawn.purpose, withdrawn.values_changed, withdrawn.values_destroyed) == (
        MARKETING,
        1,
        0,
    )

    data = newsletter.read(sid, purpose=MARKETING)
    assert data["values"] == {}
    assert "email" in {w.field for w in data.withheld}
    assert newsletter.lookup("email", REGISTRATION["email"], purpose=MARKETING) == []
    # What serves the person stays: the back end still signs them in by that address.
    assert backend.lookup("email", REGISTRATION["email"], purpose=AUTHENTICATION) == [sid]
    exported = backend.export(sid)
    email = next(
        v
        for p in exported.points
        if p.point == "registration"
        for v in p.values
        if v.field == "email"
    )
    assert MARKETING not in {p.key for p in email.purposes}
    [receipt_id] = withdrawn.receipt_ids
    fetched = client.get(f"/v1/receipts/{receipt_id}").json()
    assert fetched["receipt"]["basis"] == "withdrawal"
    assert verifies(client, fetched["receipt"], fetched["signature"])
    assert_one_closed_case(app, "withdrawal", sid)
    assert last_audit(app, "withdraw").actor == "web_backend"


def test_withdrawing_an_essential_purpose_is_409_and_changes_nothing(
    backend: Client,
    as_role: Callable[[str], Client],
    registered: dict[str, Any],
    app: FastAPI,
) -> None:
    sid = registered["subject_id"]
    before = held(app)
    with pytest.raises(NotWithdrawable) as essential:
        backend.withdraw(sid, AUTHENTICATION)
    assert essential.value.status == 409
    assert essential.value.purpose == AUTHENTICATION
    assert "erase" in essential.value.message
    with pytest.raises(UnknownPurpose) as unknown:
        backend.withdraw(sid, "curiosity")
    assert unknown.value.status == 400
    assert held(app) == before
    assert newsletter_reads_email(as_role, sid)
    # Nothing left to withdraw the second time.
    backend.withdraw(sid, MARKETING)
    with pytest.raises(NotWithdrawable) as again:
        backend.withdraw(sid, MARKETING)
    assert "nothing" in again.value.message
    assert [c.kind for c in api_cases(app)] == ["withdrawal"]


# -- Correction --------------------------------------------------------------------------------


def test_a_correction_destroys_the_old_value_and_finds_the_person_by_the_new_one(
    backend: Client,
    registered: dict[str, Any],
    client: TestClient,
    app: FastAPI,
    settings: Settings,
) -> None:
    sid = registered["subject_id"]
    index_key = app.state.secrets.index_key
    old_digest = cipher.blind_index(index_key, "email", REGISTRATION["email"])
    with app.state.sessionmaker() as s:
        old = s.scalars(
            select(PersonalValue).where(
                PersonalValue.subject_id == sid,
                PersonalValue.point == "registration",
                PersonalValue.field == "email",
            )
        ).one()
        old_ciphertext, old_purposes = old.ciphertext, sorted(old.purposes)
    assert old_ciphertext is not None
    assert old_ciphertext in stored.everything(app, settings)  # the scan sees it

    corrected = backend.correct(sid, "registration", "email", NEW_EMAIL)

    raw = stored.everything(app, settings)
    assert old_ciphertext not in raw
    assert old_digest not in raw
    assert cipher.blind_index(index_key, "email", NEW_EMAIL) in raw
    assert backend.lookup("email", NEW_EMAIL, purpose=AUTHENTICATION) == [sid]
    assert backend.lookup("email", REGISTRATION["email"], purpose=AUTHENTICATION) == []
    assert backend.read(sid, purpose=AUTHENTICATION)["values"]["email"]["value"] == NEW_EMAIL

    receipt = corrected.receipt
    assert receipt["basis"] == "correction"
    assert receipt["corrects_receipt_id"] == registered["registration"]["receipt"]["receipt_id"]
    assert verifies(client, receipt, corrected.signature)
    fetched = client.get(f"/v1/receipts/{receipt['receipt_id']}").json()
    assert fetched["signature"] == corrected.signature
    with app.state.sessionmaker() as s:
        new = s.scalars(
            select(PersonalValue).where(
                PersonalValue.subject_id == sid,
                PersonalValue.point == "registration",
                PersonalValue.field == "email",
            )
        ).one()
    assert sorted(new.purposes) == old_purposes  # the same terms, only the value changed
    case = assert_one_closed_case(app, "rectification", sid)
    assert case.outcome == "email at registration corrected"
    assert last_audit(app, "correct").actor == "web_backend"


def test_an_invalid_correction_is_422_naming_the_field_and_changes_nothing(
    backend: Client,
    registered: dict[str, Any],
    client: TestClient,
    app: FastAPI,
    tokens: dict[str, str],
) -> None:
    sid = registered["subject_id"]
    before = held(app)
    with pytest.raises(InvalidData) as invalid:
        backend.correct(sid, "registration", "email", "not an address")
    assert (invalid.value.status, invalid.value.error) == (422, "invalid_value")
    assert invalid.value.field == "email"
    assert "email" in invalid.value.message
    with pytest.raises(InvalidData) as unknown:
        backend.correct(sid, "registration", "fax", "+1 555-0199")
    assert unknown.value.error == "unknown_field"
    assert unknown.value.fields == ["fax"]
    with pytest.raises(NotFound):
        backend.correct(sid, "nowhere", "email", NEW_EMAIL)
    answer = client.post(
        f"/v1/subjects/{sid}/corrections",
        headers=bearer(tokens),
        json={"point": "registration", "field": "email"},
    )
    assert answer.status_code == 422
    assert [p["location"] for p in answer.json()["problems"]] == ["body.value"]
    assert held(app) == before


# -- Objection ---------------------------------------------------------------------------------


def test_an_objection_makes_news_skip_them_and_a_repeat_changes_nothing(
    backend: Client,
    as_role: Callable[[str], Client],
    registered: dict[str, Any],
    app: FastAPI,
) -> None:
    sid = registered["subject_id"]

    def recipients() -> list[str]:
        with app.state.sessionmaker() as s:
            return news.recipients(s, app.state.policies.current(), MARKETING)

    assert recipients() == [sid]
    first = backend.object(sid, MARKETING)
    assert (first.subject_id, first.purpose, first.new) == (sid, MARKETING, True)
    assert recipients() == []
    assert not newsletter_reads_email(as_role, sid)
    second = backend.object(sid, MARKETING)
    assert second.new is False
    with app.state.sessionmaker() as s:
        assert s.scalar(select(func.count()).select_from(Objection)) == 1
    kinds = [(c.kind, c.source, c.status) for c in api_cases(app)]
    assert kinds == [("objection", "api", "closed")] * 2
    assert "already" in (api_cases(app)[1].outcome or "")

    before = held(app)
    with pytest.raises(NotObjectable) as not_communications:
        backend.object(sid, AUTHENTICATION)
    assert not_communications.value.status == 409
    with pytest.raises(UnknownPurpose):
        backend.object(sid, "curiosity")
    assert held(app) == before


# -- Privacy link ------------------------------------------------------------------------------


def test_a_privacy_link_opens_the_center_once_and_expires_in_five_minutes(
    backend: Client, registered: dict[str, Any], app: FastAPI, settings: Settings
) -> None:
    sid = registered["subject_id"]
    asked = dt.datetime.now(dt.UTC)
    link = backend.privacy_link(ref="user-1")
    prefix = f"{settings.public_url.rstrip('/')}/privacy/me/signin/"
    assert link.url.startswith(prefix)
    token = link.url.removeprefix(prefix)
    assert len(token) >= 40 and "/" not in token
    expires = dt.datetime.fromisoformat(link.expires_at)
    assert (
        dt.timedelta(minutes=4, seconds=50) <= expires - asked <= dt.timedelta(minutes=5, seconds=5)
    )
    assert links.SITE_LINK_MINUTES == 5

    with app.state.sessionmaker() as s, s.begin():
        _, _, people = signin.complete(s, token)
    assert people == [sid]
    with app.state.sessionmaker() as s, s.begin(), pytest.raises(LinkUsed):
        signin.complete(s, token)
    # By subject id too; the links differ, and none is a case (signing in is not a request).
    assert backend.privacy_link(sid).url != link.url
    assert api_cases(app) == []
    entry = last_audit(app, "privacy_link")
    assert (entry.actor, entry.decision, entry.subject_id) == ("web_backend", "allow", sid)
    with pytest.raises(NotFound):
        backend.privacy_link(ref="nobody-here")


# -- A minor before a parent consents ----------------------------------------------------------


def test_a_locked_minor_cannot_be_changed_and_gets_no_link(
    backend: Client, client: TestClient, app: FastAPI
) -> None:
    today = dt.date.today()
    child = {**REGISTRATION, "birth_date": today.replace(year=today.year - 10).isoformat()}
    sid = backend.collect(
        "registration", child, ref="minor-1", parent_email="parent@example.com"
    ).subject_id
    before = held(app)
    for call in (
        lambda: backend.withdraw(sid, MARKETING),
        lambda: backend.correct(sid, "registration", "email", NEW_EMAIL),
        lambda: backend.privacy_link(sid),
    ):
        with pytest.raises(PersonLocked) as locked:
            call()
        assert (locked.value.status, locked.value.error) == (409, "parental_consent_pending")
    assert held(app) == before
    exported = backend.export(sid)
    assert exported.parental_consent is not None
    assert exported.parental_consent.status == "pending"
    assert all(v.withheld for p in exported.points for v in p.values)
