"""Purpose-bound reads, lookups, disclosures to announced recipients only, and erasure."""

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
    AvowalError,
    Client,
    NotFound,
    PurposeNotAllowed,
    RecipientNotAnnounced,
    SubjectErased,
)
from avowal.crypto import cipher
from avowal.settings import Settings
from avowal.vault.models import BlindIndex, Disclosure, Subject
from avowal.vault.schemas import Withheld
from tests import stored
from tests.factories import PURCHASE, REGISTRATION
from tests.integration.conftest import StaffDesk


def test_read_returns_only_values_collected_for_the_purpose(
    backend: Client, registered: dict[str, Any]
) -> None:
    sid = registered["subject_id"]
    data = backend.read(sid, purpose="essential.service.payment_processing")
    # Purchase values were collected for payment processing; registration values were not.
    assert data["values"]["card"]["value"] == "4242"
    assert data["values"]["email"]["value"] == "ada.billing@example.com"
    assert data["values"]["email"]["point"] == "purchase"
    # When it was collected, as UTC on both databases (SQLite hands back naive times).
    collected = dt.datetime.fromisoformat(data["values"]["email"]["collected_at"])
    assert collected.utcoffset() == dt.timedelta(0)
    assert abs(dt.datetime.now(dt.UTC) - collected) < dt.timedelta(minutes=5)
    withheld = {w["field"]: w for w in data["withheld"]}
    assert set(withheld) == {"phone", "birth_date"}
    assert withheld["phone"]["reason"] == "purpose_not_allowed"
    assert "essential.service" in withheld["phone"]["detail"]


def test_a_parent_purpose_in_the_receipt_covers_its_children(
    as_staff: Callable[[str], StaffDesk], registered: dict[str, Any]
) -> None:
    support = as_staff("support")
    # The role grants essential.service.operations.support; registration was collected for it.
    data = support.read(registered["subject_id"], purpose="essential.service.operations.support")
    assert data["values"]["phone"]["value"] == "+15550100"
    assert "card" in {w["field"] for w in data["withheld"]}


def test_read_of_selected_fields_lists_uncollected_ones(
    backend: Client, registered: dict[str, Any]
) -> None:
    data = backend.read(
        registered["subject_id"], purpose="essential.service.authentication", fields=["name", "fax"]
    )
    assert set(data["values"]) == {"name"}
    assert data.withheld == [
        Withheld(field="fax", point=None, reason="not_collected", detail="no value")
    ]


def test_marketing_reads_only_what_was_collected_for_marketing(
    as_role: Callable[[str], Client], registered: dict[str, Any]
) -> None:
    data = as_role("newsletter_service").read(
        registered["subject_id"], purpose="marketing.communications.email"
    )
    assert set(data["values"]) == {"email"}
    assert data["values"]["email"]["value"] == "ada@example.com"


def test_a_purpose_the_role_does_not_grant_is_403_and_audited(
    as_role: Callable[[str], Client], registered: dict[str, Any], app: FastAPI
) -> None:
    with pytest.raises(PurposeNotAllowed) as info:
        as_role("newsletter_service").read(
            registered["subject_id"], purpose="essential.service.payment_processing"
        )
    assert info.value.status == 403
    assert info.value.purpose == "essential.service.payment_processing"
    assert info.value.role == "newsletter_service"
    with app.state.sessionmaker() as s:
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert entry is not None
    assert (entry.action, entry.decision, entry.role) == ("read", "deny", "newsletter_service")


def test_a_purpose_outside_the_taxonomy_is_400(backend: Client, registered: dict[str, Any]) -> None:
    with pytest.raises(AvowalError) as info:
        backend.read(registered["subject_id"], purpose="curiosity")
    assert info.value.status == 400
    assert info.value.error == "unknown_purpose"


def test_reads_need_a_token(client: TestClient, registered: dict[str, Any]) -> None:
    r = client.get(
        f"/v1/subjects/{registered['subject_id']}/data", params={"purpose": "essential.service"}
    )
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


def test_lookup_finds_a_person_by_email_without_decrypting(
    as_staff: Callable[[str], StaffDesk], registered: dict[str, Any]
) -> None:
    support = as_staff("support")
    found = support.lookup(
        "email", "ADA@example.com", purpose="essential.service.operations.support"
    )
    assert found == [registered["subject_id"]]
    assert (
        support.lookup(
            "email", "nobody@example.com", purpose="essential.service.operations.support"
        )
        == []
    )
    with pytest.raises(AvowalError) as info:
        support.lookup("phone", "+15550100", purpose="essential.service.operations.support")
    assert info.value.error == "lookup_not_allowed"
    with pytest.raises(PurposeNotAllowed):
        support.lookup("email", "ada@example.com", purpose="marketing.communications.email")


def test_disclosure_to_the_announced_processor_is_allowed_and_registered(
    as_staff: Callable[[str], StaffDesk], registered: dict[str, Any]
) -> None:
    billing = as_staff("billing")
    sid = registered["subject_id"]
    out = billing.disclose(
        sid,
        recipient="payment_processor",
        fields=["card", "name"],
        purpose="essential.service.payment_processing",
    )
    assert out["values"] == {"card": "4242", "name": "Ada Example"}
    assert out["receipt_ids"] == [registered["purchase"]["receipt"]["receipt_id"]]
    register = billing.disclosures(sid, purpose="essential.service.payment_processing")
    assert [(d["recipient"], d["fields"]) for d in register] == [
        ("payment_processor", ["card", "name"])
    ]


def test_disclosure_of_values_whose_notice_did_not_announce_the_recipient_is_403(
    as_staff: Callable[[str], StaffDesk], registered: dict[str, Any], app: FastAPI
) -> None:
    billing = as_staff("billing")
    sid = registered["subject_id"]
    with pytest.raises(RecipientNotAnnounced) as info:
        billing.disclose(
            sid,
            recipient="payment_processor",
            fields=["card", "phone"],
            purpose="essential.service.payment_processing",
        )
    assert info.value.status == 403
    assert info.value.fields == ["phone"]
    assert info.value.notices == [registered["registration"]["receipt"]["notice_id"]]
    with app.state.sessionmaker() as s:
        assert s.scalar(select(func.count()).select_from(Disclosure)) == 0
        last = s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert last is not None and (last.action, last.decision) == ("disclose", "deny")


def test_disclosure_to_an_undeclared_recipient_is_refused(
    as_staff: Callable[[str], StaffDesk], registered: dict[str, Any]
) -> None:
    with pytest.raises(AvowalError) as info:
        as_staff("billing").disclose(
            registered["subject_id"],
            recipient="data_broker",
            fields=["card"],
            purpose="essential.service.payment_processing",
        )
    assert info.value.error == "unknown_recipient"


def test_erasure_shreds_the_key_and_the_index_and_later_reads_are_410(
    as_staff: Callable[[str], StaffDesk], backend: Client, registered: dict[str, Any], app: FastAPI
) -> None:
    sid = registered["subject_id"]
    backend.erase(sid)
    with pytest.raises(SubjectErased) as info:
        backend.read(sid, purpose="essential.service")
    assert info.value.status == 410
    with pytest.raises(SubjectErased):
        backend.erase(sid)
    assert (
        as_staff("support").lookup(
            "email", "ada@example.com", purpose="essential.service.operations.support"
        )
        == []
    )
    with app.state.sessionmaker() as s:
        subj = s.get(Subject, sid)
        assert subj is not None
        assert subj.erased_at is not None
        assert (subj.wrapped_key, subj.key_id, subj.ref) == (None, None, None)
        assert s.scalar(select(func.count()).select_from(BlindIndex)) == 0
    with pytest.raises(NotFound):
        backend.read("00000000-0000-0000-0000-000000000000", purpose="essential.service")


def test_collecting_for_an_erased_person_is_410(
    backend: Client, registered: dict[str, Any]
) -> None:
    backend.erase(registered["subject_id"])
    with pytest.raises(SubjectErased):
        backend.collect(
            "registration",
            {"name": "A", "email": "a@example.com", "birth_date": "1990-01-01"},
            subject_id=registered["subject_id"],
        )


def test_after_erasure_the_database_holds_no_plaintext_and_no_usable_key(
    backend: Client, registered: dict[str, Any], app: FastAPI, settings: Settings
) -> None:
    sid = registered["subject_id"]
    with app.state.sessionmaker() as s:
        subj = s.get(Subject, sid)
        assert subj is not None and subj.wrapped_key is not None
        wrapped = subj.wrapped_key
    digests = [
        cipher.blind_index(app.state.secrets.index_key, "email", e)
        for e in (REGISTRATION["email"], PURCHASE["email"])
    ]
    before = stored.every_row(app)
    assert wrapped in before and all(d in before for d in digests)  # the scan sees them
    backend.erase(sid)
    # Every column of every table, on both databases: the rows as the database returns them.
    # On SQLite, the embedded database's files themselves too, free pages and the WAL included.
    raw = stored.everything(app, settings)
    assert wrapped not in raw
    assert wrapped[12:28] not in raw  # not even a fragment of the wrapped key
    for digest in digests:
        assert digest not in raw  # no blind-index row left to find the person by
    # (The last four digits alone, "4242", would match random bytes of hashes and ciphertext.)
    for value in [*REGISTRATION.values(), *PURCHASE.values(), "4242424242424242", "user-1"]:
        assert value.encode() not in raw, value


def test_only_the_back_end_or_a_privacy_officer_may_erase(
    as_staff: Callable[[str], StaffDesk],
    as_role: Callable[[str], Client],
    registered: dict[str, Any],
    app: FastAPI,
) -> None:
    with pytest.raises(AvowalError) as info:
        as_role("newsletter_service").erase(registered["subject_id"])
    assert (info.value.status, info.value.error) == (403, "erasure_not_allowed")
    with app.state.sessionmaker() as s:
        last = s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        assert last is not None and (last.action, last.decision) == ("erase", "deny")
        assert s.get(Subject, registered["subject_id"]).erased_at is None  # type: ignore[union-attr]
    as_staff("privacy_officer").erase(registered["subject_id"])
