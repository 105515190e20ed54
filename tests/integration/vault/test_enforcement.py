"""Holes an outside review found: lookups, recipients, the register, tokens, text, purpose rule."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from avowal.app import create_app
from avowal.audit.models import AuditEntry
from avowal.callers import service as callers
from avowal.callers.exceptions import NotAServiceRole
from avowal.callers.models import ServiceToken
from avowal.cli import app as cli
from avowal.client import AvowalError, Client, PurposeNotAllowed, RecipientNotDeclared
from avowal.settings import Settings
from avowal.vault.models import BlindIndex, PersonalValue, Receipt, Subject
from tests.factories import PURCHASE, REGISTRATION, write_policy
from tests.integration.conftest import StaffDesk

PAYMENT = "essential.service.payment_processing"
MARKETING = "marketing.communications.email"
SUPPORT = "essential.service.operations.support"


def _counts(app: FastAPI) -> tuple[int, ...]:
    with app.state.sessionmaker() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(t)) or 0
            for t in (Subject, Receipt, PersonalValue, BlindIndex)
        )


def _last_entry(app: FastAPI) -> AuditEntry:
    with app.state.sessionmaker() as s:
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert entry is not None
    return entry


# -- Hole 4: lookup is purpose-bound -----------------------------------------------------------


def test_lookup_finds_only_people_whose_value_was_collected_for_the_purpose(
    client: TestClient, tokens: dict[str, str], backend: Client, app: FastAPI
) -> None:
    reg = backend.collect("registration", REGISTRATION, ref="user-1")
    backend.collect("purchase", PURCHASE, subject_id=reg.subject_id)
    auth = {"Authorization": f"Bearer {tokens['newsletter_service']}"}

    def lookup(email: str) -> Any:
        answer = client.get(
            "/v1/subjects/lookup",
            params={"field": "email", "value": email, "purpose": MARKETING},
            headers=auth,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    # The registration e-mail was collected for marketing too: found.
    assert lookup(REGISTRATION["email"])["subject_ids"] == [reg.subject_id]
    # The invoice e-mail was collected for payment and notifications only: answered exactly as
    # for someone unknown, so the answer tells nothing about whether the person exists.
    withheld = lookup(PURCHASE["email"])
    unknown = lookup("nobody@example.com")
    assert withheld["subject_ids"] == []
    assert {**withheld, "value": None} == {**unknown, "value": None}
    with app.state.sessionmaker() as s:
        denied = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "lookup", AuditEntry.decision == "deny")
        ).all()
    assert [(e.subject_id, e.purpose) for e in denied] == [(reg.subject_id, MARKETING)]
    assert "answered as unknown" in (denied[0].reason or "")


def test_lookup_for_a_purpose_the_value_was_collected_for_finds_the_person(
    backend: Client, registered: dict[str, Any]
) -> None:
    sid = registered["subject_id"]
    assert backend.lookup("email", PURCHASE["email"], purpose=PAYMENT) == [sid]
    # Collected at registration for support, not at purchase.
    assert backend.lookup("email", PURCHASE["email"], purpose=SUPPORT) == []
    assert backend.lookup("email", REGISTRATION["email"], purpose=SUPPORT) == [sid]


# -- Hole 5: recipients get only what they were declared for -----------------------------------


@pytest.fixture
def bought(backend: Client) -> str:
    """A person who gave a telephone number at purchase (announced to the payment processor)."""
    answer = backend.collect("purchase", {**PURCHASE, "phone": "+1 555-0101"}, ref="buyer-1")
    return answer.subject_id


def test_a_category_the_recipient_is_not_declared_for_is_403_naming_it(
    backend: Client, bought: str, app: FastAPI
) -> None:
    # Announced at purchase, collected for payment: but the processor is not declared for phones.
    with pytest.raises(RecipientNotDeclared) as info:
        backend.disclose(
            bought, recipient="payment_processor", fields=["card", "phone"], purpose=PAYMENT
        )
    assert info.value.status == 403
    assert info.value.mismatch == "category"
    assert info.value.fields == ["phone"]
    assert info.value.categories == ["user.contact.phone_number"]
    assert "user.contact.phone_number" in info.value.message
    entry = _last_entry(app)
    assert (entry.action, entry.decision) == ("disclose", "deny")
    sent = backend.disclose(bought, recipient="payment_processor", fields=["card"], purpose=PAYMENT)
    assert sent.values == {"card": "4242"}


def test_a_purpose_the_recipient_is_not_declared_for_is_403_naming_it(
    backend: Client, bought: str, app: FastAPI
) -> None:
    # The invoice e-mail was collected for notifications, and the processor announced at purchase:
    # but the policy declares the processor for payment only.
    purpose = "essential.service.notifications.email"
    with pytest.raises(RecipientNotDeclared) as info:
        backend.disclose(bought, recipient="payment_processor", fields=["email"], purpose=purpose)
    assert (info.value.status, info.value.mismatch, info.value.purpose) == (403, "purpose", purpose)
    assert info.value.declared_purposes == [PAYMENT]
    with app.state.sessionmaker() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "disclose", AuditEntry.decision == "allow")
            )
            == 0
        )


def test_the_disclosure_register_needs_a_purpose_that_covers_it(
    client: TestClient,
    tokens: dict[str, str],
    backend: Client,
    bought: str,
    as_role: Callable[[str], Client],
    app: FastAPI,
) -> None:
    backend.disclose(bought, recipient="payment_processor", fields=["card"], purpose=PAYMENT)
    url = f"/v1/subjects/{bought}/disclosures"
    # Not any valid token: a purpose is required, granted by the role ...
    assert (
        client.get(url, headers={"Authorization": f"Bearer {tokens['web_backend']}"}).status_code
        == 422
    )
    with pytest.raises(PurposeNotAllowed):
        as_role("newsletter_service").disclosures(bought, purpose=PAYMENT)
    entry = _last_entry(app)
    assert (entry.action, entry.decision, entry.purpose) == ("register", "deny", PAYMENT)
    # ... and covering the disclosures shown.
    assert as_role("newsletter_service").disclosures(bought, purpose=MARKETING) == []
    register = backend.disclosures(bought, purpose=PAYMENT)
    assert [(d.recipient, d.fields) for d in register] == [("payment_processor", ["card"])]
    assert backend.disclosures(bought, purpose="essential.service.authentication") == []


# -- Hole 6: service tokens only for service roles ---------------------------------------------


def test_no_token_for_a_role_of_people(app: FastAPI) -> None:
    with (
        app.state.sessionmaker() as session,
        session.begin(),
        pytest.raises(NotAServiceRole) as info,
    ):
        callers.create(session, app.state.policies.current(), "desk", "support")
    assert "console" in info.value.message
    assert info.value.details["service_roles"] == [
        "newsletter_service",
        "reporting_service",
        "web_backend",
    ]


def test_the_cli_refuses_a_token_for_a_role_of_people(settings: Settings, engine: Engine) -> None:
    env = {k: None for k in os.environ if k.startswith("AVOWAL_")}
    env.update(
        AVOWAL_ENV="test",
        AVOWAL_DATA_DIR=str(settings.data_dir),
        AVOWAL_DATABASE_URL=settings.effective_database_url,
        AVOWAL_POLICY_FILE=str(settings.policy_file),
    )
    refused = CliRunner().invoke(cli, ["token", "create", "desk", "--role", "billing"], env=env)
    assert refused.exit_code == 1
    assert "role 'billing' is a role for people" in refused.stderr
    made = CliRunner().invoke(cli, ["token", "create", "site", "--role", "web_backend"], env=env)
    assert made.exit_code == 0, made.output
    assert made.stdout.strip().startswith("avw_")


def test_a_token_whose_role_is_not_a_service_role_is_refused(
    client: TestClient, app: FastAPI, settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    # A token of a people's role, however it got into the database, is no credential.
    with app.state.sessionmaker() as session, session.begin():
        session.add(
            ServiceToken(
                name="old",
                role="privacy_officer",
                token_hash=callers._digest("avw_old-officer-token"),
                created_at=app.state.policies.current().policy.policy.effective,
            )
        )
        token = callers.create(session, app.state.policies.current(), "site", "web_backend")
    url = "/v1/subjects/00000000-0000-0000-0000-000000000000/data?purpose=essential.service"
    old = client.get(url, headers={"Authorization": "Bearer avw_old-officer-token"})
    assert old.status_code == 401
    assert "not a service role" in old.json()["message"]
    assert client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 404

    # A role that stops being a service role takes its tokens' access with it.
    def demote(data: dict[str, Any]) -> None:
        data["staff"]["roles"]["web_backend"]["service"] = False

    changed = settings.model_copy(update={"policy_file": write_policy(tmp_path, demote)})
    with TestClient(create_app(changed, engine=engine)) as other:
        answer = other.get(url, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401


# -- Collection values: storable text only -----------------------------------------------------


@pytest.mark.parametrize(
    ("raw_values", "error", "field"),
    [
        ('{"name": "Ada\\u0000Example"}', "invalid_text", "values.name"),
        ('{"name": "Ada \\ud800"}', "invalid_text", "values.name"),
        ('{"name": ' + "[" * 40 + '"x"' + "]" * 40 + "}", "too_deeply_nested", None),
    ],
    ids=["nul", "lone-surrogate", "deep"],
)
def test_unstorable_or_deep_values_are_refused_naming_the_field_and_nothing_is_stored(
    client: TestClient,
    tokens: dict[str, str],
    app: FastAPI,
    raw_values: str,
    error: str,
    field: str | None,
) -> None:
    notice = client.get("/v1/notices/registration").json()["notice_id"]
    others = ", ".join(f'"{k}": "{v}"' for k, v in REGISTRATION.items() if k != "name")
    body = (
        f'{{"notice_id": "{notice}", "subject": {{"ref": "user-text"}}, '
        f'"values": {{{others}, {raw_values[1:-1]}}}}}'
    )
    before = _counts(app)
    answer = client.post(
        "/v1/collect/registration",
        content=body.encode(),
        headers={
            "Authorization": f"Bearer {tokens['web_backend']}",
            "Content-Type": "application/json",
        },
    )
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["error"] == error
    assert "values.name" in answer.json()["message"]
    if field is not None:
        assert answer.json()["field"] == field
    assert _counts(app) == before


@pytest.mark.parametrize("ref", ["user\\u0000one", "user\\ud800"], ids=["nul", "lone-surrogate"])
def test_an_unstorable_ref_is_refused_and_nothing_is_stored(
    client: TestClient, tokens: dict[str, str], app: FastAPI, ref: str
) -> None:
    notice = client.get("/v1/notices/contact").json()["notice_id"]
    body = (
        f'{{"notice_id": "{notice}", "subject": {{"ref": "{ref}"}}, '
        '"values": {"email": "carol@example.com", "message": "A question."}}'
    )
    before = _counts(app)
    answer = client.post(
        "/v1/collect/contact",
        content=body.encode(),
        headers={
            "Authorization": f"Bearer {tokens['web_backend']}",
            "Content-Type": "application/json",
        },
    )
    assert answer.status_code == 422, answer.text
    assert "subject" in answer.text and "ref" in answer.text
    assert _counts(app) == before


# -- Mutants: the purpose rule's direction, and notice ids that hash the point -----------------


def test_a_value_collected_for_a_child_purpose_is_withheld_for_its_parent(
    backend: Client, registered: dict[str, Any]
) -> None:
    # Registration values were collected for essential.service.authentication (and siblings);
    # the back end's role grants essential.service, but the values were never collected for it.
    data = backend.read(registered["subject_id"], purpose="essential.service")
    assert "birth_date" not in data.values
    assert "phone" in {w.field for w in data.withheld}
    assert all(w.reason == "purpose_not_allowed" for w in data.withheld)


@pytest.fixture
def parent_app(settings: Settings, engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    """The example policy with the contact form collected for essential.service as a whole."""

    def broaden(data: dict[str, Any]) -> None:
        data["collection_points"]["contact"]["purposes"] = ["essential.service"]

    changed = settings.model_copy(update={"policy_file": write_policy(tmp_path, broaden)})
    with TestClient(create_app(changed, engine=engine)) as client:
        yield client


def test_a_value_collected_for_a_parent_purpose_is_readable_for_a_child(
    parent_app: TestClient, as_staff: Callable[[str], StaffDesk]
) -> None:
    app: FastAPI = parent_app.app  # type: ignore[assignment]
    with app.state.sessionmaker() as session, session.begin():
        token = callers.create(session, app.state.policies.current(), "site", "web_backend")
    backend = Client("http://testserver", token, http=parent_app)  # type: ignore[arg-type]
    sid = backend.collect(
        "contact", {"email": "carol@example.com", "message": "A question."}, ref="carol"
    ).subject_id
    data = backend.read(sid, purpose=SUPPORT)
    assert data.values["message"].value == "A question."
    assert data.withheld == []


def test_changing_a_collection_point_makes_its_old_notice_stale(
    settings: Settings, engine: Engine, tmp_path: Path, backend: Client
) -> None:
    old = backend.notice("registration").notice_id

    def add_field(data: dict[str, Any]) -> None:
        data["collection_points"]["registration"]["fields"]["company"] = {
            "label": "Company",
            "category": "user.workplace",
        }

    def add_purpose(data: dict[str, Any]) -> None:
        data["collection_points"]["registration"]["purposes"].append(
            "essential.service.operations.improve"
        )

    for n, change in enumerate((add_field, add_purpose)):
        folder = tmp_path / f"policy-{n}"
        folder.mkdir()
        changed = settings.model_copy(update={"policy_file": write_policy(folder, change)})
        app = create_app(changed, engine=engine)
        with TestClient(app) as client:
            with app.state.sessionmaker() as session, session.begin():
                token = callers.create(
                    session, app.state.policies.current(), f"site-{n}", "web_backend"
                )
            other = Client("http://testserver", token, http=client)  # type: ignore[arg-type]
            assert other.notice("registration").notice_id != old
            with pytest.raises(AvowalError) as info:
                other.collect("registration", REGISTRATION, ref=f"user-{n}", notice_id=old)
            assert (info.value.status, info.value.error) == (409, "notice_not_current")
            # An unrelated point keeps its notice.
            assert other.notice("contact").notice_id == backend.notice("contact").notice_id
