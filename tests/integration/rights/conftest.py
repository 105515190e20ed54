"""Rights tests: the mail tests' SMTP server on loopback, its certificate and the frozen clock,
and what a person's mail (a sign-in link, a confirmation) looks like once delivered."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message

import pytest
from fastapi import FastAPI

from avowal.settings import Settings
from tests.integration.mail.conftest import (
    Certificate,
    SmtpServer,
    certificate,
    frozen,
    run_pass,
    serve,
    smtp_settings,
)

__all__ = ["certificate", "frozen"]


@pytest.fixture
def smtp(certificate: Certificate) -> Iterator[SmtpServer]:
    """Run a real SMTP server (STARTTLS, login) on loopback for the test."""
    with serve("starttls", certificate) as server:
        yield server


@dataclass(frozen=True)
class Mail:
    """A delivered message, as its person reads it."""

    to: str
    subject: str
    text: str

    def link(self, path: str) -> str:
        """Return the path (under the public URL) of the one link to ``path`` in the text."""
        found = re.findall(r"https?://[^/\s]+(" + re.escape(path) + r"[^\s]*)", self.text)
        assert len(found) == 1, self.text
        return str(found[0])


def _text(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    raise AssertionError("no text part")


@pytest.fixture
def deliver(
    app: FastAPI, settings: Settings, smtp: SmtpServer, certificate: Certificate
) -> Callable[[], list[Mail]]:
    """Return a function running one mail worker pass to the SMTP server; it returns the
    messages this pass delivered."""

    def run() -> list[Mail]:
        before = len(smtp.inbox.received)
        run_pass(app, smtp_settings(settings, smtp.port, certificate))
        return [
            Mail(str(m["To"]), str(m["Subject"]), _text(m)) for m in smtp.inbox.messages()[before:]
        ]

    return run
