"""A person's erasure request handled end to end in a real Chromium against `avowal serve`, with
the mail going through a real SMTP server on loopback.

Ada (registered through the API) sends an erasure request from /privacy/contact; a privacy
officer enrols with TOTP, signs in, opens the queue and the case, and sends the identity check;
Ada's own browser opens the link read from the SMTP server and confirms; the officer erases the
account and answers. The case is closed, Ada's account is erased, her answer is delivered. The
mail worker's passes run here, on the server's database and keys. No console error, no failed
response on any page.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pyotp
import pytest
from sqlalchemy import select

from avowal.client import Client
from avowal.crypto import service as crypto
from avowal.db import migrate
from avowal.db.engine import make_engine, make_sessionmaker
from avowal.mail import worker
from avowal.policy.loader import load_file
from avowal.rights.models import Case
from avowal.settings import Settings
from avowal.vault.models import Subject
from tests import server
from tests.browser.test_tracker import ARGS, CHROMIUM, chromium_or_skip
from tests.conftest import REPO_ROOT
from tests.factories import REGISTRATION
from tests.integration.mail.conftest import Certificate, serve

pytestmark = pytest.mark.browser

POLICY = REPO_ROOT / "examples" / "contactmonkey-2017" / "policy.yaml"
OFFICER = "olivia@example.com"
PASSWORD = "quiet-Lantern-47-orbit"
ADA = REGISTRATION["email"]
REQUEST = "Please erase my account and everything you hold about me."
ANSWER = "Your account and everything it held are erased."


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", "from avowal.cli import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _text(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    raise AssertionError("no text part")


def _watch(page: Any, problems: list[str]) -> None:
    page.on(
        "console",
        lambda m: (
            problems.append(f"console: {m.text} {m.location.get('url', '')}")
            if m.type == "error" and not str(m.location.get("url", "")).endswith("/favicon.ico")
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )


def test_an_erasure_request_is_checked_carried_out_and_answered(tmp_path: Path) -> None:
    chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    database_url = f"sqlite:///{tmp_path / 'avowal.sqlite3'}"
    engine = make_engine(Settings(database_url=database_url, data_dir=tmp_path))
    migrate.upgrade(engine)
    port = server.free_port()  # the mail's links name the public URL: this server's own
    # Plain SMTP on loopback: no TLS to set up, the server is the test's own.
    with serve("none", Certificate(tmp_path, tmp_path), auth=False) as smtp:
        env = server.serve_env(tmp_path, database_url, POLICY)
        env.update(
            AVOWAL_PUBLIC_URL=f"http://127.0.0.1:{port}",
            AVOWAL_MAIL_TRANSPORT="smtp",
            AVOWAL_SMTP_HOST="127.0.0.1",
            AVOWAL_SMTP_PORT=str(smtp.port),
            AVOWAL_SMTP_SECURITY="none",
            AVOWAL_MAIL_FROM="privacy@example.com",
        )
        settings = Settings(
            env="test",
            data_dir=tmp_path,
            database_url=database_url,
            policy_file=POLICY,
            public_url=env["AVOWAL_PUBLIC_URL"],
            mail_transport="smtp",
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_security="none",
            mail_from="privacy@example.com",
        )
        link = _cli(env, "staff", "add", OFFICER, "--kind", "employee", "--role", "privacy_officer")
        enrol_path = re.search(r"/console/enrol/[A-Za-z0-9_-]+$", link)
        assert enrol_path is not None, link
        token = _cli(env, "token", "create", "web-backend", "--role", "web_backend")
        factory = make_sessionmaker(engine)
        secrets = crypto.load(settings)
        loaded = load_file(POLICY)

        def deliver() -> list[tuple[str, str, str]]:
            """Run one worker pass; return (to, subject, text) of what it delivered."""
            before = len(smtp.inbox.received)
            worker.run_pass(factory, settings, secrets, loaded)
            out = []
            for env_ in smtp.inbox.received[before:]:
                raw = env_.content if isinstance(env_.content, bytes) else b""
                msg = message_from_bytes(raw)
                out.append((str(msg["To"]), str(msg["Subject"]), _text(msg)))
            return out

        problems: list[str] = []
        with (
            server.running(env, tmp_path / "serve.log", port) as avowal,
            sync_playwright() as pw,
        ):
            with Client(avowal.url, token) as backend:
                ada = str(backend.collect("registration", REGISTRATION, ref="ada")["subject_id"])
            # The officer's enrolment message, sent since mail is configured.
            assert [to for to, _, _ in deliver()] == [OFFICER]
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                # Ada writes from the contact form.
                person = browser.new_context().new_page()
                _watch(person, problems)
                person.goto(avowal.url + "/privacy/contact")
                expect(person.locator("h1")).to_contain_text("Write to us")
                person.select_option("#kind", "erasure")
                person.fill("#email", ADA)
                person.fill("#message", REQUEST)
                person.click("button:has-text('Send')")
                expect(person.locator("[role=status]")).to_contain_text("reference")
                ((to, subject, _),) = deliver()
                assert (to, subject) == (ADA, "We received your request (reference 1)")

                # The privacy officer enrols, signs in and opens the case.
                officer = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                _watch(officer, problems)
                officer.goto(avowal.url + enrol_path.group(0))
                totp = pyotp.TOTP(officer.locator("code.secret").inner_text().replace(" ", ""))
                officer.fill("#password", PASSWORD)
                officer.fill("#confirm", PASSWORD)
                officer.fill("#code", totp.now())
                officer.click("button[type=submit]")
                expect(officer.locator("h1")).to_have_text("Enrolment complete")
                officer.click("a[href='/console/login']")
                officer.fill("#email", OFFICER)
                officer.fill("#password", PASSWORD)
                officer.fill("#code", totp.at(time.time() + 30))
                officer.click("button[type=submit]")
                officer.wait_for_url("**/console/acknowledge")
                officer.click("text=I have read this agreement and will keep to it")
                officer.wait_for_url(re.compile(r".*/console$"))
                officer.click("nav >> text=Requests")
                expect(officer.locator("table")).to_contain_text("not checked")
                officer.click("table >> a:text-is('1')")
                expect(officer.locator("#message")).to_have_text(REQUEST)
                expect(officer.locator("#address")).to_have_text(ADA)
                officer.click("button:has-text('Send identity check')")
                expect(officer.locator("p.ok")).to_contain_text("identity check was sent")

                # Ada confirms from her own browser, with the link the SMTP server received.
                ((to, subject, text),) = deliver()
                assert (to, subject) == (ADA, "Please confirm your request (reference 1)")
                found = re.search(r"https?://\S+(/privacy/cases/confirm/\S+)", text)
                assert found is not None, text
                person.goto(avowal.url + found.group(1))
                person.click("button:has-text('Confirm my request')")
                expect(person.locator("[role=status]")).to_contain_text("You confirmed request 1")

                # The officer erases the account and answers.
                # Opened again (a reload would send the identity check's form again).
                officer.goto(officer.url.removesuffix("/identity"))
                expect(officer.locator("#identity")).to_contain_text("controls the address")
                expect(officer.locator("#accounts")).to_contain_text(ada)
                officer.click("button:has-text('Carry out: erase my account')")
                expect(officer.locator("p.ok")).to_contain_text("1 account(s) erased")
                officer.fill("#text", ANSWER)
                officer.select_option("#outcome", "carried out")
                officer.click("button:has-text('Answer and close')")
                expect(officer.locator("p.ok")).to_contain_text("request closed")
                expect(officer.locator("dl.facts")).to_contain_text("carried out")
                officer.click("nav >> text=Requests")
                expect(officer.locator("main")).to_contain_text("No open request.")
            finally:
                browser.close()
        delivered = {subject: (to, text) for to, subject, text in deliver()}
    to, text = delivered["Our answer (reference 1)"]
    assert to == ADA and ANSWER in text
    assert "Your account has been erased" in delivered
    with factory() as session:
        (case,) = session.scalars(select(Case)).all()
        assert (case.status, case.outcome, case.closed_by) == ("closed", "carried out", OFFICER)
        account = session.get(Subject, ada)
        assert account is not None and account.erased_at is not None
        contact = session.get(Subject, case.subject_id)
        assert contact is not None and contact.erased_at is None  # until the case is archived
    engine.dispose()
    assert problems == [], "\n".join(problems)
