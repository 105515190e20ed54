"""Mail tests: a real SMTP server on loopback (aiosmtpd), its certificate, a frozen clock."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
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
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI
from pydantic import SecretStr

from avowal.lib import clock as avowal_clock
from avowal.mail import worker
from avowal.settings import Settings

USER, PASSWORD = "mailer", "s3cret-for-tests"


def free_port() -> int:
    """Return a loopback port nothing listens on (just now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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
    folder = tmp_path_factory.mktemp("smtp-tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "avowal test SMTP")])
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_path, key_path)


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
