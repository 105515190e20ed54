"""Collection: only declared fields under the current notice; every refusal stores nothing."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from avowal.client import Client, InvalidData, NotAuthenticated, NotFound, StaleNotice
from avowal.crypto.signing import canonical
from avowal.vault.models import BlindIndex, PersonalValue, Receipt, Subject
from tests.factories import PURCHASE, REGISTRATION


def counts(app: FastAPI) -> tuple[int, ...]:
    with app.state.sessionmaker() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(t)) or 0
            for t in (Subject, Receipt, PersonalValue, BlindIndex)
        )


def test_notice_is_public_and_its_id_hashes_its_content(client: TestClient) -> None:
    first = client.get("/v1/notices/purchase").json()
    again = client.get("/v1/notices/purchase").json()
    assert first["notice_id"] == again["notice_id"]
    assert [r["key"] for r in first["recipients"]] == ["payment_processor"]
    card = next(f for f in first["fields"] if f["name"] == "card")
    assert card["storage"] == "last4"
    assert "essential.service.payment_processing" in card["purposes"]
    assert first["policy_version"] == client.get("/v1/policy").json()["version_id"]
    registration = client.get("/v1/notices/registration").json()
    assert registration["notice_id"] != first["notice_id"]
    assert registration["recipients"] == []


def test_collect_stores_encrypted_values_and_returns_a_receipt(
    backend: Client, app: FastAPI
) -> None:
    answer = backend.collect("registration", REGISTRATION, ref="user-1")
    receipt = answer["receipt"]
    assert receipt["subject_id"] == answer["subject_id"]
    assert receipt["fields"] == sorted(REGISTRATION)
    assert "marketing.communications.email" in receipt["field_purposes"]["email"]
    assert "marketing.communications.email" not in receipt["field_purposes"]["phone"]
    assert receipt["recipients"] == []
    with app.state.sessionmaker() as s:
        blobs = s.scalars(select(PersonalValue.ciphertext)).all()
    assert len(blobs) == len(REGISTRATION)
    for blob in blobs:
        assert blob is not None
        assert b"example" not in blob.lower() and b"555" not in blob


def test_storage_rules_keep_only_what_the_policy_says(backend: Client) -> None:
    buy = backend.collect("purchase", PURCHASE, ref="user-2")
    data = backend.read(buy["subject_id"], purpose="essential.service.payment_processing")
    assert data["values"]["card"]["value"] == "4242"
    assert data["values"]["email"]["value"] == "ada.billing@example.com"


def test_collecting_a_field_again_supersedes_and_destroys_the_old_value(
    backend: Client, app: FastAPI
) -> None:
    first = backend.collect("registration", REGISTRATION, ref="user-3")
    sid = first["subject_id"]
    backend.collect("registration", {**REGISTRATION, "phone": "+1 555-0199"}, subject_id=sid)
    data = backend.read(sid, purpose="essential.service.authentication", fields=["phone"])
    assert data["values"]["phone"]["value"] == "+15550199"
    with app.state.sessionmaker() as s:
        phones = s.scalars(select(PersonalValue).where(PersonalValue.field == "phone")).all()
        lookups = s.scalars(select(BlindIndex).where(BlindIndex.subject_id == sid)).all()
    assert len(phones) == 1
    assert len(lookups) == 1  # the e-mail's blind index was replaced, not duplicated


def test_the_same_ref_is_the_same_person(backend: Client) -> None:
    a = backend.collect("registration", REGISTRATION, ref="user-4")
    b = backend.collect("purchase", PURCHASE, ref="user-4")
    assert a["subject_id"] == b["subject_id"]


@pytest.mark.parametrize(
    ("values", "error", "detail"),
    [
        ({**REGISTRATION, "shoe_size": "42"}, "unknown_field", {"fields": ["shoe_size"]}),
        (
            {k: v for k, v in REGISTRATION.items() if k != "email"},
            "missing_field",
            {"fields": ["email"]},
        ),
        ({**REGISTRATION, "email": "not-an-email"}, "invalid_value", {"field": "email"}),
        ({**REGISTRATION, "phone": "call me"}, "invalid_value", {"field": "phone"}),
        ({**REGISTRATION, "birth_date": "1990-02-30"}, "invalid_value", {"field": "birth_date"}),
        ({**REGISTRATION, "birth_date": "2999-01-01"}, "invalid_value", {"field": "birth_date"}),
        ({**REGISTRATION, "name": 42}, "invalid_value", {"field": "name"}),
    ],
)
def test_bad_values_are_refused_and_nothing_is_stored(
    client: TestClient,
    backend: Client,
    app: FastAPI,
    values: dict[str, Any],
    error: str,
    detail: dict[str, Any],
) -> None:
    before = counts(app)
    with pytest.raises(InvalidData) as info:
        backend.collect("registration", values, ref="user-5")
    assert info.value.status == 422
    assert info.value.error == error
    for key, expected in detail.items():
        assert info.value.body[key] == expected
    assert counts(app) == before


def test_a_card_number_failing_luhn_is_refused(backend: Client, app: FastAPI) -> None:
    before = counts(app)
    with pytest.raises(InvalidData, match="Luhn"):
        backend.collect("purchase", {**PURCHASE, "card": "4242 4242 4242 4241"}, ref="user-6")
    assert counts(app) == before


def test_unknown_point_is_404(backend: Client) -> None:
    with pytest.raises(NotFound) as info:
        backend.collect("newsletter", {"email": "a@example.com"}, ref="u", notice_id="0" * 64)
    assert info.value.error == "unknown_collection_point"
    assert "registration" in info.value.body["known"]


def test_a_stale_notice_is_409_with_the_current_one(backend: Client, app: FastAPI) -> None:
    current = backend.notice("registration")["notice_id"]
    before = counts(app)
    with pytest.raises(StaleNotice) as info:
        backend.collect("registration", REGISTRATION, ref="user-7", notice_id="f" * 64)
    assert info.value.status == 409
    assert info.value.current_notice_id == current
    assert counts(app) == before


def test_an_oversized_body_is_413(client: TestClient, tokens: dict[str, str], app: FastAPI) -> None:
    before = counts(app)
    notice = client.get("/v1/notices/contact").json()["notice_id"]
    body = {
        "notice_id": notice,
        "subject": {"ref": "user-8"},
        "values": {"email": "a@example.com", "message": "x" * 70_000},
    }
    r = client.post(
        "/v1/collect/contact",
        json=body,
        headers={"Authorization": f"Bearer {tokens['web_backend']}"},
    )
    assert r.status_code == 413
    assert r.json()["error"] == "body_too_large"
    assert counts(app) == before


def test_collection_needs_a_valid_token(client: TestClient, app: FastAPI) -> None:
    notice = client.get("/v1/notices/registration").json()["notice_id"]
    body = {"notice_id": notice, "subject": {"ref": "u"}, "values": REGISTRATION}
    assert client.post("/v1/collect/registration", json=body).status_code == 401
    bad = Client("http://testserver", "avw_forged", http=client)  # type: ignore[arg-type]
    with pytest.raises(NotAuthenticated):
        bad.collect("registration", REGISTRATION, ref="u")
    assert counts(app) == (0, 0, 0, 0)


def test_subject_must_be_ref_or_existing_id(client: TestClient, backend: Client) -> None:
    with pytest.raises(InvalidData):
        backend.collect(
            "registration", REGISTRATION, subject_id="00000000-0000-0000-0000-00000000000"
        )
    with pytest.raises(NotFound):
        backend.collect(
            "registration", REGISTRATION, subject_id="00000000-0000-0000-0000-000000000000"
        )


def test_a_published_notice_hashes_to_its_own_id(client: TestClient) -> None:
    """Anyone can check a notice id: the SHA-256 of the notice as served, minus id and version."""
    for point in ("registration", "purchase", "contact"):
        shown = client.get(f"/v1/notices/{point}").json()
        notice_id = shown.pop("notice_id")
        shown.pop("policy_version")
        assert hashlib.sha256(canonical(shown)).hexdigest() == notice_id, point
