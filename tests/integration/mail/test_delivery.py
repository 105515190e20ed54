"""Delivery to a real SMTP server on loopback (STARTTLS, implicit TLS, login) and to `.eml` files;
retries with exponential back-off; the final failed state, its review entry and a retry."""

from __future__ import annotations

import datetime as dt
import os
import stat
from email import message_from_bytes
from typing import Any

from fastapi import FastAPI

from avowal.db.engine import transaction
from avowal.mail import service
from avowal.review import service as review
from avowal.settings import Settings
from tests.factories import PURCHASE, REGISTRATION
from tests.integration.mail.conftest import (
    Certificate,
    Frozen,
    free_port,
    run_pass,
    serve,
    smtp_settings,
)
from tests.integration.mail.helpers import CHANGE, SUMMARY, queue_to_ada, row

ADDRESSES = {REGISTRATION["email"], PURCHASE["email"]}


def test_starttls_with_login_delivers_a_text_and_html_message_and_keeps_no_content(
    app: FastAPI, settings: Settings, registered: dict[str, Any], certificate: Certificate
) -> None:
    message_id = queue_to_ada(app, registered["subject_id"])
    with serve("starttls", certificate) as server:
        report = run_pass(app, smtp_settings(settings, server.port, certificate))
    assert report.sent == [message_id] and not report.retrying
    assert server.inbox.logins == [b"mailer"]
    (envelope,) = server.inbox.received
    assert set(envelope.rcpt_tos) <= ADDRESSES and envelope.mail_from == "privacy@example.com"
    (msg,) = server.inbox.messages()
    assert msg["From"] == "privacy@example.com" and msg["To"] in ADDRESSES
    assert msg["Message-ID"] == f"<{message_id}@example.com>"
    assert msg["Date"] and "ContactMonkey" in msg["Subject"]
    assert msg.get_content_type() == "multipart/alternative"
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in msg.walk()
        if not p.is_multipart()
    }
    assert SUMMARY in parts["text/plain"] and CHANGE in parts["text/plain"]
    assert "<li>" + CHANGE + "</li>" in parts["text/html"]
    assert "https://privacy.example.com/privacy/diff?from=old1&to=new2" in parts["text/plain"]
    sent = row(app, message_id)
    assert (sent.status, sent.attempts, sent.envelope, sent.wrapped_key) == ("sent", 1, None, None)
    assert sent.sent_at is not None and sent.kind == "change_notice"
    assert sent.purpose == service.NOTIFICATIONS


def test_implicit_tls_delivers(
    app: FastAPI, settings: Settings, registered: dict[str, Any], certificate: Certificate
) -> None:
    message_id = queue_to_ada(app, registered["subject_id"])
    with serve("tls", certificate) as server:
        report = run_pass(
            app, smtp_settings(settings, server.port, certificate, smtp_security="tls")
        )
    assert report.sent == [message_id]
    assert len(server.inbox.received) == 1 and server.inbox.logins == [b"mailer"]


def test_a_server_certificate_not_trusted_is_refused_and_retried_later(
    app: FastAPI, settings: Settings, registered: dict[str, Any], certificate: Certificate
) -> None:
    message_id = queue_to_ada(app, registered["subject_id"])
    with serve("starttls", certificate) as server:
        # The system's CAs do not know the self-signed certificate: nothing may be sent.
        report = run_pass(app, smtp_settings(settings, server.port, certificate, smtp_ca_file=None))
    assert server.inbox.received == [] and server.inbox.logins == []
    assert report.retrying == [(message_id, "SSLCertVerificationError")]
    assert row(app, message_id).status == "queued"


def test_files_transport_writes_private_eml_files(
    app: FastAPI, settings: Settings, registered: dict[str, Any]
) -> None:
    files = settings.model_copy(update={"mail_transport": "files"})
    subject_id = registered["subject_id"]
    message_id = queue_to_ada(app, subject_id)
    report = run_pass(app, files)
    assert report.sent == [message_id]
    path = files.mail_outbox_path / subject_id / f"{message_id}.eml"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    msg = message_from_bytes(path.read_bytes())
    assert msg["To"] in ADDRESSES and msg["From"] == "avowal@localhost"
    with app.state.sessionmaker() as session:
        (entry,) = service.list_outbox(session, files)
    assert (entry.id, entry.status, entry.eml) == (message_id, "sent", path)


def test_retries_back_off_exponentially_then_fail_for_good_reported_and_retried(
    app: FastAPI,
    settings: Settings,
    registered: dict[str, Any],
    certificate: Certificate,
    frozen: Frozen,
) -> None:
    port = free_port()
    mail = smtp_settings(settings, port, certificate, mail_max_attempts=3, mail_retry_seconds=60)
    message_id = queue_to_ada(app, registered["subject_id"])
    start = frozen.now
    # 1: nothing listens on the port.
    report = run_pass(app, mail)
    assert report.retrying == [(message_id, "ConnectionRefusedError")]
    first = row(app, message_id)
    assert first.attempts == 1 and first.last_error == "ConnectionRefusedError"
    assert first.next_attempt_at.replace(tzinfo=None) == (start + _s(60)).replace(tzinfo=None)
    frozen.advance(seconds=59)
    assert run_pass(app, mail).retrying == []  # not due yet
    frozen.advance(seconds=1)
    with serve("starttls", certificate, port=port) as server:
        server.inbox.refuse = "451 4.3.0 Try again later"
        # 2: the server answers 4xx; the next wait doubles.
        report = run_pass(app, mail)
        assert report.retrying == [(message_id, "SMTPRecipientsRefused 451")]
        second = row(app, message_id)
        assert second.next_attempt_at.replace(tzinfo=None) == (start + _s(60 + 120)).replace(
            tzinfo=None
        )
        frozen.advance(seconds=120)
        # 3: the last attempt fails: the message is failed, its ciphertext kept for a retry.
        report = run_pass(app, mail)
        assert report.failed == [(message_id, "SMTPRecipientsRefused 451")]
        failed = row(app, message_id)
        assert failed.status == "failed" and failed.attempts == 3
        assert failed.failed_at is not None and failed.envelope is not None
        assert "example.com" not in (failed.last_error or "")
        with app.state.sessionmaker() as session:
            built = review.build(session, app.state.policies.current(), mail, public_key=None)
        (entry,) = built.mail.failed
        assert (entry.id, entry.kind, entry.attempts) == (message_id, "change_notice", 3)
        assert entry.last_error == "SMTPRecipientsRefused 451"
        assert built.mail.by_status["failed"] == 1
        assert any("failed for good and need attention" in n for n in built.notes)
        frozen.advance(hours=1)
        assert run_pass(app, mail).failed == []  # a failed message is not tried again
        server.inbox.refuse = None
        with transaction(app.state.sessionmaker) as session:
            service.retry(session, message_id)
        report = run_pass(app, mail)
    assert report.sent == [message_id] and len(server.inbox.received) == 1
    assert row(app, message_id).status == "sent"


def test_with_mail_not_configured_nothing_is_sent_and_nothing_lost(
    app: FastAPI, settings: Settings, registered: dict[str, Any]
) -> None:
    message_id = queue_to_ada(app, registered["subject_id"])
    report = run_pass(app, settings.model_copy(update={"mail_transport": "none"}))
    assert not report.configured and report.sent == []
    queued = row(app, message_id)
    assert queued.status == "queued" and queued.envelope is not None


def _s(seconds: int) -> dt.timedelta:
    return dt.timedelta(seconds=seconds)
