"""The outbox is no second, unencrypted copy of personal data: sealed rows, audited without
address or body, shredded with the person, `.eml` copies deleted; legal notices go out by mail."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from avowal.audit.models import AuditEntry
from avowal.client import Client
from avowal.db.engine import transaction
from avowal.legal.models import SubjectNotice
from avowal.mail import content, service
from avowal.mail.models import OutboxMessage
from avowal.settings import Settings
from avowal.vault.exceptions import SubjectErased
from avowal.vault.rotation import rotate
from tests.factories import PURCHASE, REGISTRATION
from tests.integration.conftest import StaffDesk
from tests.integration.mail.conftest import run_pass
from tests.integration.mail.helpers import CHANGE, SUMMARY, queue_to_ada, raw_rows, row

PLAINTEXT = [
    REGISTRATION["email"].encode(),
    PURCHASE["email"].encode(),
    b"example.com",
    SUMMARY.encode(),
    CHANGE.encode(),
    b"ContactMonkey",
]


def _files(settings: Settings) -> Settings:
    return settings.model_copy(update={"mail_transport": "files"})


def test_rows_hold_no_plaintext_and_the_audit_no_address_or_body(
    app: FastAPI, settings: Settings, registered: dict[str, Any]
) -> None:
    subject_id = registered["subject_id"]
    queued = queue_to_ada(app, subject_id)
    sent = queue_to_ada(app, subject_id)
    with transaction(app.state.sessionmaker) as session:
        session.get(OutboxMessage, queued).next_attempt_at += dt.timedelta(days=1)  # type: ignore[union-attr]
    assert run_pass(app, _files(settings)).sent == [sent]
    stored = raw_rows(app)
    assert len(stored) == 2
    for raw in stored:
        for text in PLAINTEXT:
            assert text not in raw
    assert row(app, queued).envelope is not None and row(app, sent).envelope is None
    with app.state.sessionmaker() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "mail")).all()
    assert [(e.actor, e.subject_id, e.purpose) for e in entries] == [
        ("avowal", subject_id, service.NOTIFICATIONS)
    ] * 2
    for e in entries:
        logged = " ".join(str(getattr(e, c)) for c in ("reason", "fields", "actor", "role"))
        assert "change_notice" in logged
        assert "@" not in logged and SUMMARY not in logged and CHANGE not in logged


def test_erasure_shreds_queued_mail_and_deletes_the_eml_copies(
    app: FastAPI, settings: Settings, registered: dict[str, Any], backend: Client
) -> None:
    subject_id = registered["subject_id"]
    delivered = queue_to_ada(app, subject_id)
    files = _files(settings)
    assert run_pass(app, files).sent == [delivered]
    folder = files.mail_outbox_path / subject_id
    assert (folder / f"{delivered}.eml").exists()
    waiting = queue_to_ada(app, subject_id)
    backend.erase(subject_id)
    shredded = row(app, waiting)
    assert (shredded.status, shredded.envelope) == ("shredded", None)
    assert row(app, delivered).status == "sent"
    assert not folder.exists()
    # Nothing is queued for someone erased (the living rule), and the pass has nothing to send.
    with pytest.raises(SubjectErased), transaction(app.state.sessionmaker) as session:
        service.queue_to_person(
            session,
            app.state.secrets,
            app.state.policies.current(),
            subject_id,
            purpose=service.NOTIFICATIONS,
            to="ada@example.com",
            content=content.LegalNotice(message="x"),
        )
    assert run_pass(app, files).sent == []


def test_the_worker_removes_eml_folders_an_erasure_left_behind(
    app: FastAPI,
    settings: Settings,
    registered: dict[str, Any],
    as_staff: Callable[[str], StaffDesk],
) -> None:
    subject_id = registered["subject_id"]
    files = _files(settings)
    assert len(run_pass(app, files).sent) == 0
    queue_to_ada(app, subject_id)
    run_pass(app, files)
    folder = files.mail_outbox_path / subject_id
    assert folder.exists()
    # An erasure that did not know the outbox folder (the service called directly).
    as_staff("privacy_officer").erase(subject_id)
    assert folder.exists()
    assert run_pass(app, files).folders_removed == 1
    assert not folder.exists()


def test_due_legal_notices_are_sent_by_the_delivery_pass(
    app: FastAPI, settings: Settings, registered: dict[str, Any]
) -> None:
    subject_id = registered["subject_id"]
    notice_id = str(uuid.uuid4())
    text = "On 2026-11-29, ContactMonkey answered a legal request from the Example Court."
    with transaction(app.state.sessionmaker) as session:
        session.add(
            SubjectNotice(
                id=notice_id,
                subject_id=subject_id,
                kind="legal_disclosure",
                message=text,
                due_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
            )
        )
    files = _files(settings)
    report = run_pass(app, files)
    assert report.notices == [notice_id] and len(report.sent) == 1
    (message_id,) = report.sent
    sent = row(app, message_id)
    assert (sent.kind, sent.status, sent.subject_id) == ("legal_notice", "sent", subject_id)
    with app.state.sessionmaker() as session:
        notice = session.get(SubjectNotice, notice_id)
        assert notice is not None and notice.sent_at is not None
    eml = files.mail_outbox_path / subject_id / f"{message_id}.eml"
    msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert isinstance(msg, EmailMessage)
    body = msg.get_body(("plain",))
    assert body is not None and text in body.get_content()
    # Told once: the next pass finds nothing due.
    assert run_pass(app, files).notices == []


def test_key_rotation_rewraps_the_own_keys_of_staff_mail(app: FastAPI, settings: Settings) -> None:
    state = app.state
    with transaction(state.sessionmaker) as session:
        message_id = service.queue_to_staff(
            session,
            state.secrets,
            state.policies.current(),
            to="grace@example.com",
            content=content.StaffEnrolment(link="https://p.example.com/e/x", hours=72, role="s"),
        )
    before = row(app, message_id).key_id
    result = rotate(state.sessionmaker, state.secrets.keyring, "test")
    assert result.rewrapped == 1 and result.dropped == [before]
    assert row(app, message_id).key_id == result.new_key_id
    files = _files(settings)
    assert run_pass(app, files).sent == [message_id]
    eml = files.mail_outbox_path / "staff" / f"{message_id}.eml"
    assert "https://p.example.com/e/x" in eml.read_text()
