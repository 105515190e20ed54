"""Where messages go: a real SMTP server, or `.eml` files in the data folder (the default).

A transport either delivers a message or raises; :func:`describe` turns the failure into what
the outbox may keep: the error's class and SMTP code, never an address or a server's words
(which often quote the address).
"""

from __future__ import annotations

import datetime as dt
import email.policy
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Protocol

from avowal.crypto.keyring import write_private
from avowal.mail.keys import Envelope
from avowal.settings import Settings

DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
LONG_LINES = email.policy.default.clone(max_line_length=998)


def build(
    settings: Settings, message_id: str, envelope: Envelope, date: dt.datetime
) -> EmailMessage:
    """Return the message: plain text with an HTML alternative, Date, Message-ID and From."""
    # A List-Unsubscribe URL is one long word: with the default 78-column folding the email
    # package would turn it into an encoded word no mail client reads. RFC 5322 allows 998.
    msg = EmailMessage(policy=LONG_LINES) if envelope.headers else EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = envelope.to
    msg["Subject"] = envelope.subject
    msg["Date"] = format_datetime(date)
    domain = settings.mail_from.rpartition("@")[2].strip().rstrip(">") or "localhost"
    # Stable across retries, so a server that got a message twice can tell.
    msg["Message-ID"] = f"<{message_id}@{domain}>"
    msg["Auto-Submitted"] = "auto-generated"
    for name, value in envelope.headers.items():
        msg[name] = value
    msg.set_content(envelope.text)
    msg.add_alternative(envelope.html, subtype="html")
    return msg


class Transport(Protocol):
    """Delivers one message or raises."""

    def send(self, msg: EmailMessage, owner: str, message_id: str) -> Path | None:
        """Deliver ``msg``; return the file written, if any."""
        ...


class SmtpTransport:
    """SMTP with STARTTLS, implicit TLS or (outside production) none; login when configured."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _tls(self) -> ssl.SSLContext:
        # Verified: the system's CAs, or the operator's bundle (e.g. an internal relay's CA).
        ca = self.settings.smtp_ca_file
        return ssl.create_default_context(cafile=str(ca) if ca is not None else None)

    def send(self, msg: EmailMessage, owner: str, message_id: str) -> Path | None:
        """Deliver ``msg`` in one SMTP conversation."""
        s = self.settings
        host = s.smtp_host or "localhost"
        port = s.smtp_port or DEFAULT_PORTS[s.smtp_security]
        smtp: smtplib.SMTP
        if s.smtp_security == "tls":
            smtp = smtplib.SMTP_SSL(host, port, timeout=s.smtp_timeout_seconds, context=self._tls())
        else:
            smtp = smtplib.SMTP(host, port, timeout=s.smtp_timeout_seconds)
        with smtp:
            if s.smtp_security == "starttls":
                smtp.starttls(context=self._tls())
            if s.smtp_username:
                password = s.smtp_password.get_secret_value() if s.smtp_password else ""
                smtp.login(s.smtp_username, password)
            smtp.send_message(msg)
        return None


class FilesTransport:
    """Writes each message as `<outbox>/<subject id or "staff">/<message id>.eml` (0600)."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox

    def send(self, msg: EmailMessage, owner: str, message_id: str) -> Path | None:
        """Write ``msg`` atomically, readable by its owner only, in a folder only it enters."""
        path = self.outbox / owner / f"{message_id}.eml"
        write_private(path, msg.as_bytes())
        return path


def for_settings(settings: Settings) -> Transport | None:
    """Return the configured transport, or None when mail is not configured."""
    kind = settings.effective_mail_transport
    if kind == "smtp":
        return SmtpTransport(settings)
    if kind == "files":
        return FilesTransport(settings.mail_outbox_path)
    return None


def describe(exc: BaseException) -> str:
    """Return what may be kept of a delivery failure: its class and SMTP code(s), nothing else."""
    name = type(exc).__name__
    codes: list[int] = []
    if isinstance(exc, smtplib.SMTPResponseException):
        codes.append(exc.smtp_code)
    elif isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes.extend(sorted({code for code, _ in exc.recipients.values()}))
    return " ".join([name, *map(str, codes)])[:300]
