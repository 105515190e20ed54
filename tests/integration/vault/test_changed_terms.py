"""Old data keeps old terms: a purpose or recipient added to a point later needs explicit consent.

Ada registers under the example policy. The policy then changes: registration's notice adds a
purpose (operations.improve) and a recipient (a mailer). A second app serves the changed policy
on the same database; until Ada consents to the new notice her values keep the old terms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from avowal.app import create_app
from avowal.audit.models import AuditEntry
from avowal.client import (
    Client,
    ConsentRequired,
    NotFound,
    NothingToConsent,
    PurposeNotAllowed,
    RecipientNotAnnounced,
    StaleNotice,
    SubjectErased,
)
from avowal.crypto import signing
from avowal.policy.loader import LoadedPolicy, parse_text
from avowal.settings import Settings
from avowal.vault import notices
from avowal.vault.models import PersonalValue
from tests.factories import REGISTRATION, policy_text

IMPROVE = "essential.service.operations.improve"
NOTIFY = "essential.service.notifications.email"
PAYMENT = "essential.service.payment_processing"
ADDED_ONLY = ("name", "email", "phone", "address", "birth_date")


def _changed(data: dict[str, Any]) -> None:
    """Add a purpose and a new recipient to registration's notice."""
    data["recipients"]["mailer"] = {
        "name": "E-mail delivery service",
        "kind": "processor",
        "country": "US",
        "purposes": [NOTIFY],
        "categories": ["user.name", "user.contact.email"],
        "description": "Delivers our account e-mails on our behalf and keeps nothing.",
    }
    registration = data["collection_points"]["registration"]
    registration["purposes"].append(IMPROVE)
    registration["recipients"] = ["mailer"]


@dataclass
class Changed:
    """The server after the change: its app, an HTTP client and a client per service role."""

    app: FastAPI
    http: TestClient
    as_role: Callable[[str], Client]

    @property
    def backend(self) -> Client:
        return self.as_role("web_backend")


@pytest.fixture
def changed_policy() -> LoadedPolicy:
    return parse_text(policy_text(_changed), "changed.yaml")


@pytest.fixture
def ada(backend: Client) -> str:
    """Ada registers under the example policy (before the change)."""
    return str(backend.collect("registration", REGISTRATION, ref="ada")["subject_id"])


@pytest.fixture
def changed(
    ada: str,
    settings: Settings,
    engine: Engine,
    tokens: dict[str, str],
    changed_policy: LoadedPolicy,
) -> Iterator[Changed]:
    """Serve the changed policy on the same database, once Ada has registered."""
    app = create_app(settings, policy=changed_policy, engine=engine)
    with TestClient(app) as http:

        def make(role: str) -> Client:
            return Client("http://testserver", tokens[role], http=http)  # type: ignore[arg-type]

        yield Changed(app, http, make)


def _values(app: FastAPI, subject_id: str) -> dict[str, PersonalValue]:
    with app.state.sessionmaker() as s:
        rows = s.scalars(select(PersonalValue).where(PersonalValue.subject_id == subject_id))
        return {row.field: row for row in rows}


def _last(app: FastAPI, **where: str) -> AuditEntry:
    with app.state.sessionmaker() as s:
        stmt = select(AuditEntry).order_by(AuditEntry.seq.desc())
        for name, value in where.items():
            stmt = stmt.where(getattr(AuditEntry, name) == value)
        entry = s.scalars(stmt).first()
    assert entry is not None
    return entry


def _consent(changed: Changed, subject_id: str) -> Any:
    notice_id = changed.backend.notice("registration").notice_id
    return changed.backend.consent(subject_id, "registration", notice_id)


def test_the_change_makes_a_new_notice(app: FastAPI, changed: Changed) -> None:
    before = notices.notice(app.state.policies.current(), "registration")
    after = changed.backend.notice("registration")
    assert before.notice_id != after.notice_id
    assert IMPROVE in {p.key for p in after.purposes}
    assert [r.key for r in after.recipients] == ["mailer"]


def test_a_purpose_added_later_is_withheld_as_consent_required(
    app: FastAPI, changed: Changed, ada: str
) -> None:
    old_notice = notices.notice(app.state.policies.current(), "registration").notice_id
    data = changed.backend.read(ada, purpose=IMPROVE)
    assert data.values == {}
    withheld = {w.field: w for w in data.withheld}
    assert set(withheld) == set(ADDED_ONLY)
    for w in withheld.values():
        assert w.reason == "consent_required"
        assert w.point == "registration"
        assert old_notice[:16] in w.detail
        assert IMPROVE in w.detail
        assert f"POST /v1/subjects/{ada}/consents" in w.detail
    entry = _last(changed.app, action="read")
    assert entry.reason is not None and "withheld" in entry.reason
    # The purposes Ada was told of still read as before.
    assert changed.backend.read(ada, purpose=NOTIFY).values["email"].value == "ada@example.com"


def test_a_purpose_no_notice_ever_included_is_still_purpose_not_allowed(
    changed: Changed, ada: str
) -> None:
    data = changed.backend.read(ada, purpose=PAYMENT)
    assert data.values == {}
    assert {w.reason for w in data.withheld} == {"purpose_not_allowed"}


def test_a_recipient_added_later_is_refused_and_audited(
    app: FastAPI, changed: Changed, ada: str
) -> None:
    old_notice = notices.notice(app.state.policies.current(), "registration").notice_id
    with pytest.raises(ConsentRequired) as info:
        changed.backend.disclose(ada, recipient="mailer", fields=["email"], purpose=NOTIFY)
    refusal = info.value
    assert refusal.status == 403
    assert refusal.error == "consent_required"
    assert refusal.fields == ["email"]
    assert refusal.point == "registration"
    assert refusal.notice_ids == [old_notice]
    assert refusal.current_notice_id == changed.backend.notice("registration").notice_id
    assert refusal.consent_endpoint == f"POST /v1/subjects/{ada}/consents"
    entry = _last(changed.app, action="disclose")
    assert (entry.decision, entry.subject_id, entry.purpose) == ("deny", ada, NOTIFY)
    # A recipient the policy never announced at registration is refused as before.
    with pytest.raises(RecipientNotAnnounced) as other:
        changed.backend.disclose(
            ada, recipient="payment_processor", fields=["email"], purpose=PAYMENT
        )
    assert other.value.fields == ["email"]


def test_a_lookup_for_a_purpose_added_later_answers_unknown(changed: Changed, ada: str) -> None:
    assert changed.backend.lookup("email", REGISTRATION["email"], purpose=IMPROVE) == []
    entry = _last(changed.app, action="lookup", decision="deny")
    assert entry.subject_id == ada
    assert entry.reason is not None and "explicit consent" in entry.reason
    _consent(changed, ada)
    assert changed.backend.lookup("email", REGISTRATION["email"], purpose=IMPROVE) == [ada]


def test_continued_use_never_stretches_old_data(app: FastAPI, changed: Changed, ada: str) -> None:
    old_notice = notices.notice(app.state.policies.current(), "registration").notice_id
    before = _values(app, ada)
    changed.backend.read(ada, purpose=IMPROVE)
    changed.backend.read(ada, purpose=NOTIFY)
    with pytest.raises(ConsentRequired):
        changed.backend.disclose(ada, recipient="mailer", fields=["name"], purpose=NOTIFY)
    # Someone else registering under the new notice changes nothing of Ada's.
    changed.backend.collect("registration", {**REGISTRATION, "email": "bea@example.com"}, ref="bea")
    after = _values(app, ada)
    assert {f: v.notice_id for f, v in after.items()} == dict.fromkeys(after, old_notice)
    assert {f: v.purposes for f, v in after.items()} == {f: v.purposes for f, v in before.items()}
    assert all(v.recipients == [] for v in after.values())


def test_a_new_collection_under_the_new_notice_is_readable_for_the_new_purpose(
    changed: Changed,
) -> None:
    bea = changed.backend.collect(
        "registration", {**REGISTRATION, "email": "bea@example.com"}, ref="bea"
    )
    assert bea.receipt.recipients == ["mailer"]
    data = changed.backend.read(bea.subject_id, purpose=IMPROVE)
    assert data.values["email"].value == "bea@example.com"
    assert data.withheld == []
    sent = changed.backend.disclose(
        bea.subject_id, recipient="mailer", fields=["email"], purpose=NOTIFY
    )
    assert sent.values == {"email": "bea@example.com"}


def test_explicit_consent_extends_old_values_with_a_signed_receipt(
    app: FastAPI, changed: Changed, ada: str
) -> None:
    old_notice = notices.notice(app.state.policies.current(), "registration").notice_id
    before = _values(app, ada)
    answer = _consent(changed, ada)
    receipt = answer.receipt
    assert answer.subject_id == ada
    assert receipt.basis == "consent_to_change"
    assert receipt.extends_notice_ids == [old_notice]
    assert receipt.extends_receipt_ids == sorted({v.receipt_id for v in before.values()})
    assert receipt.notice_id == changed.backend.notice("registration").notice_id
    assert receipt.fields == sorted(ADDED_ONLY)
    assert IMPROVE in receipt.purposes
    assert receipt.recipients == ["mailer"]
    assert receipt.policy_version == changed.app.state.policies.current().version_id

    # The receipt verifies with the published key, as kept and as fetched.
    key = changed.http.get("/v1/receipts/key").json()
    public = signing.load_public_pem(key["public_key_pem"])
    kept = answer.model_dump(mode="json", exclude={"subject_id"})
    assert signing.verify(public, kept["receipt"], kept["signature"])
    fetched = changed.http.get(f"/v1/receipts/{receipt.receipt_id}").json()
    assert fetched == kept
    assert not signing.verify(public, {**fetched["receipt"], "basis": "x"}, fetched["signature"])

    # The values gained the new terms without being re-encrypted.
    after = _values(app, ada)
    for field, value in after.items():
        assert value.ciphertext == before[field].ciphertext
        assert value.collected_at == before[field].collected_at
        assert value.notice_id == receipt.notice_id
        assert value.receipt_id == receipt.receipt_id
        assert value.recipients == ["mailer"]
        assert value.purposes == receipt.field_purposes[field]
    entry = _last(changed.app, action="consent")
    assert (entry.decision, entry.subject_id) == ("allow", ada)

    data = changed.backend.read(ada, purpose=IMPROVE)
    assert data.values["email"].value == "ada@example.com"
    assert data.values["email"].receipt_id == receipt.receipt_id
    assert data.withheld == []
    sent = changed.backend.disclose(ada, recipient="mailer", fields=["email"], purpose=NOTIFY)
    assert sent.values == {"email": "ada@example.com"}
    assert sent.receipt_ids == [receipt.receipt_id]
    # Consent covers only what the new notice says: still nothing for payment processing.
    assert {w.reason for w in changed.backend.read(ada, purpose=PAYMENT).withheld} == {
        "purpose_not_allowed"
    }
    # Nothing is left to consent to.
    with pytest.raises(NothingToConsent) as again:
        _consent(changed, ada)
    assert again.value.status == 409


def test_consent_to_a_stale_notice_is_409(app: FastAPI, changed: Changed, ada: str) -> None:
    old_notice = notices.notice(app.state.policies.current(), "registration").notice_id
    with pytest.raises(StaleNotice) as info:
        changed.backend.consent(ada, "registration", old_notice)
    assert info.value.status == 409
    assert info.value.current_notice_id == changed.backend.notice("registration").notice_id
    assert {v.notice_id for v in _values(app, ada).values()} == {old_notice}


def test_consent_for_an_erased_person_is_410(changed: Changed, ada: str) -> None:
    changed.backend.erase(ada)
    with pytest.raises(SubjectErased) as info:
        _consent(changed, ada)
    assert info.value.status == 410


def test_consent_for_an_unknown_person_or_point_is_404(changed: Changed, ada: str) -> None:
    with pytest.raises(NotFound) as nobody:
        _consent(changed, "00000000-0000-0000-0000-000000000000")
    assert nobody.value.error == "subject_not_found"
    answer = changed.http.post(
        f"/v1/subjects/{ada}/consents",
        json={"point": "newsletter", "notice_id": "0" * 64},
        headers=changed.backend._headers,
    )
    assert answer.status_code == 404
    assert answer.json()["error"] == "unknown_collection_point"


def test_consent_without_values_at_the_point_is_409(changed: Changed, ada: str) -> None:
    purchase = changed.backend.notice("purchase").notice_id
    with pytest.raises(NothingToConsent) as info:
        changed.backend.consent(ada, "purchase", purchase)
    assert info.value.status == 409
    assert info.value.point == "purchase"


def test_consent_by_a_caller_without_the_points_purposes_is_403(
    app: FastAPI, changed: Changed, ada: str
) -> None:
    old_notice = notices.notice(app.state.policies.current(), "registration").notice_id
    with pytest.raises(PurposeNotAllowed) as info:
        changed.as_role("reporting_service").consent(
            ada, "registration", changed.backend.notice("registration").notice_id
        )
    assert info.value.status == 403
    assert info.value.role == "reporting_service"
    assert {v.notice_id for v in _values(app, ada).values()} == {old_notice}
