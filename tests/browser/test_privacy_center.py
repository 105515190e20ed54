"""The privacy center (issue 12) in a real Chromium against `avowal serve`, mail over real SMTP.

Ada, registered and a customer, asks for a link on a phone-width page; `avowal mail send`
delivers it to an SMTP server on loopback (STARTTLS, login), where the test reads it. She opens
it, continues, sees what is held, downloads the export (a real download, parsed), corrects her
telephone number, objects to the newsletter, withdraws it, and erases her account through the
confirmation step; the confirmation e-mail arrives over SMTP. The page has no horizontal scroll
at 390 px, the skip link comes first, and no page logs an error or breaks the CSP.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from avowal.db import migrate
from avowal.db.engine import make_engine
from avowal.settings import Settings
from tests import server
from tests.browser.test_tracker import ARGS, CHROMIUM, chromium_or_skip
from tests.certs import self_signed
from tests.conftest import REPO_ROOT
from tests.factories import PURCHASE, REGISTRATION
from tests.integration.mail.conftest import PASSWORD, USER, Certificate, SmtpServer, serve

pytestmark = pytest.mark.browser

POLICY = REPO_ROOT / "examples" / "contactmonkey-2017" / "policy.yaml"
PHONE = {"width": 390, "height": 844}
NEWSLETTER = "to inform you of service updates, new projects and other important and relevant"
WATCH_CSP = """
document.addEventListener('securitypolicyviolation', e => {
  window.avowalCspViolation(`${e.violatedDirective} ${e.blockedURI} ${e.documentURI}`);
});
"""
FITS_390 = "document.documentElement.scrollWidth <= 390"


@dataclass
class World:
    url: str
    env: dict[str, str]
    smtp: SmtpServer
    token: str
    browser: Any

    def api(self) -> httpx.Client:
        auth = {"Authorization": f"Bearer {self.token}"}
        return httpx.Client(base_url=self.url, headers=auth, timeout=10.0)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One avowal serve sending mail to a loopback SMTP server, a back-end token, one Chromium."""
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    tmp = tmp_path_factory.mktemp("center")
    certificate = Certificate(*self_signed(tmp_path_factory.mktemp("smtp-tls")))
    database_url = f"sqlite:///{tmp / 'avowal.sqlite3'}"
    engine = make_engine(Settings(database_url=database_url, data_dir=tmp))
    migrate.upgrade(engine)
    engine.dispose()
    port = server.free_port()  # the mail's links name the public URL: this server's own
    with serve("starttls", certificate) as smtp:
        env = server.serve_env(tmp, database_url, POLICY)
        env.update(
            AVOWAL_PUBLIC_URL=f"http://127.0.0.1:{port}",
            AVOWAL_MAIL_TRANSPORT="smtp",
            AVOWAL_MAIL_FROM="privacy@example.com",
            AVOWAL_SMTP_HOST="127.0.0.1",
            AVOWAL_SMTP_PORT=str(smtp.port),
            AVOWAL_SMTP_SECURITY="starttls",
            AVOWAL_SMTP_USERNAME=USER,
            AVOWAL_SMTP_PASSWORD=PASSWORD,
            AVOWAL_SMTP_CA_FILE=str(certificate.cert),
        )
        token = _cli(env, "token", "create", "web-backend", "--role", "web_backend")
        with server.running(env, tmp / "serve.log", port) as avowal, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                yield World(avowal.url, env, smtp, token, browser)
            finally:
                browser.close()


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


def _collect(world: World, point: str, values: dict[str, str], ref: str) -> str:
    with world.api() as api:
        notice = api.get(f"/v1/notices/{point}").json()["notice_id"]
        answer = api.post(
            f"/v1/collect/{point}",
            json={"notice_id": notice, "subject": {"ref": ref}, "values": values},
        )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["subject_id"])


def _delivered(world: World) -> list[EmailMessage]:
    """Deliver the queued mail with `avowal mail send`; return what the SMTP server got so far."""
    sent = _cli(world.env, "mail", "send")
    assert re.search(r"^[1-9]\d* sent,", sent, re.MULTILINE), sent
    out = []
    for envelope in world.smtp.inbox.received:
        raw = envelope.content if isinstance(envelope.content, bytes) else b""
        msg = message_from_bytes(raw, policy=email_policy.default)
        assert isinstance(msg, EmailMessage)
        out.append(msg)
    return out


def _text(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


# -- The person's browser ----------------------------------------------------------------------


@dataclass
class Browsing:
    page: Any
    problems: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)


def _browse(world: World) -> Browsing:
    context = world.browser.new_context(viewport=PHONE, locale="en-GB", accept_downloads=True)
    violations: list[str] = []
    context.expose_function("avowalCspViolation", lambda text: violations.append(text))
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    seen = Browsing(page, violations=violations)

    def console(message: Any) -> None:
        url = str(message.location.get("url", ""))
        if message.type != "error" or url.endswith("/favicon.ico"):
            return
        # The refusal page asked for on purpose (a 422) is logged by Chromium as a failed load.
        if "status of 422" in message.text:
            return
        seen.problems.append(f"{message.text} {url}")

    page.on("console", console)
    page.on("pageerror", lambda e: seen.problems.append(str(e)))
    return seen


def _fits(page: Any) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert page.evaluate(FITS_390), width


def _status(page: Any) -> str:
    return str(page.get_by_role("status").inner_text())


def test_a_person_signs_in_by_mail_sees_downloads_changes_and_erases_their_data(
    world: World, tmp_path: Path
) -> None:
    sid = _collect(world, "registration", REGISTRATION, "ada")
    assert _collect(world, "purchase", PURCHASE, "ada") == sid
    seen = _browse(world)
    page = seen.page
    try:
        page.goto(f"{world.url}/privacy/me")
        _fits(page)
        page.keyboard.press("Tab")  # the skip link is the first stop
        assert page.evaluate("document.activeElement.textContent") == "Skip to the content"
        page.get_by_label("Your e-mail address").fill(REGISTRATION["email"])
        page.get_by_role("button", name="Send me a sign-in link").click()
        assert "we sent a link to it" in _status(page)

        (signin,) = _delivered(world)
        assert signin["To"] == REGISTRATION["email"]
        links = re.findall(
            re.escape(world.url) + r"/privacy/me/signin/[A-Za-z0-9_-]+", _text(signin)
        )
        assert len(links) == 1
        answer = page.goto(links[0])
        assert answer.status == 200 and answer.headers["cache-control"] == "no-store"
        page.get_by_role("button", name="Continue to your privacy center").click()
        assert page.locator("h1").inner_text() == "Your privacy center"
        main = page.get_by_role("main")
        for shown in ("Ada Example", "+15550100", "ending in 4242", "Card payment processor"):
            assert shown in main.inner_text()
        _fits(page)

        with page.expect_download() as info:
            page.get_by_role("link", name="as data (JSON)").click()
        download = info.value
        assert re.fullmatch(
            r"ContactMonkey-data-\d{4}-\d{2}-\d{2}\.json", download.suggested_filename
        )
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        exported = json.loads(saved.read_text())
        assert exported["schema"] == "avowal-export/1" and exported["subject_id"] == sid
        values = {(p["point"], v["field"]): v for p in exported["points"] for v in p["values"]}
        assert values[("registration", "name")]["value"] == "Ada Example"
        assert values[("purchase", "card")]["value"] == "4242"

        page.get_by_text("Correct “Telephone number”").click()
        page.get_by_label("The correct telephone number").fill("+1 555-0199")
        page.get_by_role("button", name="Save the correction").click()
        assert "Your correction is saved" in _status(page)
        assert "+15550199" in main.inner_text() and "+15550100" not in main.inner_text()

        page.get_by_role("button", name=f"Object to messages: {NEWSLETTER}").click()
        assert "Your objection is recorded" in _status(page)
        page.get_by_role("button", name=f"Withdraw: {NEWSLETTER}").click()
        assert "Your withdrawal is recorded" in _status(page)
        assert page.get_by_role("button", name=re.compile("^Withdraw:")).count() == 0
        _fits(page)

        page.get_by_role("link", name="Erase this account…").click()
        assert page.locator("h1").inner_text() == "Erase your account"
        _fits(page)
        page.get_by_label("To confirm, type the word “erase”").fill("yes")
        page.get_by_role("button", name="Erase my account").click()
        assert "nothing was erased" in page.get_by_role("alert").inner_text()
        page.get_by_label("To confirm, type the word “erase”").fill("erase")
        page.get_by_role("button", name="Erase my account").click()
        assert page.locator("h1").inner_text() == "Your account is erased"
        assert page.context.cookies() == []  # the session's cookie is gone with the account

        mails = _delivered(world)
        erased = [m for m in mails if m["Subject"] == "Your account has been erased"]
        assert len(erased) == 1 and erased[0]["To"] == PURCHASE["email"]  # the last address given
        page.goto(f"{world.url}/privacy/me")
        assert page.get_by_label("Your e-mail address").is_visible()  # signed out
        assert seen.problems == [] and seen.violations == []
    finally:
        page.context.close()
