"""Mail tests: a real SMTP server on loopback (aiosmtpd), its certificate, a frozen clock."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from fastapi import FastAPI
from pydantic import SecretStr

from avowal.lib import clock as avowal_clock
from avowal.mail import worker
from avowal.settings import Settings
from tests.certs import self_signed
from tests.server import free_port

USER, PASSWORD = "mailer", "s3cret-for-tests"


@dataclass
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """Generate a self-signed certificate for 127.0.0.1 (trusted only through smtp_ca_file)."""
    return Certificate(*self_signed(tmp_path_factory.mktemp("smtp-tls")))


@dataclass
class Inbox:
    """What the test SMTP server received; ``refuse`` makes it answer RCPT with that reply."""

    received: list[Envelope] = field(default_factory=list)
    refuse: str | None = None
    logins: list[bytes] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.refuse is not None:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[Message]:
        out = []
        for env in self.received:
            raw = env.content if isinstance(env.content, bytes) else str(env.content).encode()
            out.append(message_from_bytes(raw))
        return out

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        if ok:
            self.logins.append(data.login)
        return AuthResult(success=ok)


@dataclass
class SmtpServer:
    inbox: Inbox
    port: int


@contextmanager
def serve(
    mode: str, certificate: Certificate, *, auth: bool = True, port: int | None = None
) -> Iterator[SmtpServer]:
    """Run an SMTP server on loopback: ``starttls``, ``tls`` (implicit) or ``none``."""
    inbox = Inbox()
    port = port or free_port()
    kwargs: dict[str, Any] = {}
    if auth:
        # Required where aiosmtpd can see the TLS (STARTTLS); offered and used everywhere.
        kwargs.update(authenticator=inbox.authenticate, auth_required=mode == "starttls")
    if mode == "starttls":
        kwargs.update(tls_context=certificate.server_context(), require_starttls=True)
    elif mode == "tls":
        # aiosmtpd sees STARTTLS only as TLS; this connection is TLS from its first byte.
        kwargs.update(ssl_context=certificate.server_context(), auth_require_tls=False)
    else:
        kwargs.update(auth_require_tls=False)
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield SmtpServer(inbox, port)
    finally:
        controller.stop()


def smtp_settings(settings: Settings, port: int, certificate: Certificate, **more: Any) -> Settings:
    """Return settings sending to the loopback server, trusting only the test certificate."""
    values: dict[str, Any] = {
        "mail_transport": "smtp",
        "mail_from": "privacy@example.com",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": "starttls",
        "smtp_username": USER,
        "smtp_password": SecretStr(PASSWORD),
        "smtp_ca_file": certificate.cert,
        "smtp_timeout_seconds": 5.0,
        **more,
    }
    return settings.model_copy(update=values)


class Frozen:
    """A clock the tests move by hand."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> Frozen:
    """Freeze avowal's clock; tests advance it."""
    clock = Frozen()
    monkeypatch.setattr(avowal_clock, "now", lambda: clock.now)
    return clock


def run_pass(app: FastAPI, settings: Settings) -> worker.PassReport:
    """Run one delivery pass as the in-process worker would, with ``settings``."""
    state = app.state
    return worker.run_pass(state.sessionmaker, settings, state.secrets, state.policies.current())
