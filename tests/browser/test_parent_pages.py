"""A parent's pages (issue 11) in a real Chromium against `avowal serve`, links read from the mail.

A minor collected at the example's registration point is locked and their parent e-mailed; on a
phone-width page the parent refuses the newsletter and consents with the keyboard only; the link
then shows the "used" page and a second answer is refused. The confirmation is sent by a mail
worker pass run here with its clock a day ahead (`worker.run_pass(now=...)` works on the server's
database and data folder), and its link withdraws the permission, erasing the child. A refusal
erases at once; a forged link is a 404. No console error and no CSP violation on any page.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import pytest

from avowal.crypto import service as crypto
from avowal.db import migrate
from avowal.db.engine import make_engine, make_sessionmaker
from avowal.lib import clock
from avowal.mail import worker
from avowal.policy.loader import load_file
from avowal.settings import Settings
from tests import server
from tests.browser.test_tracker import ARGS, CHROMIUM, chromium_or_skip
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.browser

POLICY = REPO_ROOT / "examples" / "contactmonkey-2017" / "policy.yaml"
PHONE = {"width": 390, "height": 844}
AUTHENTICATION = "essential.service.authentication"
NEWSLETTER = "marketing.communications.email"
NEWSLETTER_LABEL = (
    "Refuse: to inform you of service updates, new projects and other important and relevant "
    "information"
)
REQUEST_SUBJECT = "asks your permission"
CONFIRMATION_SUBJECT = "confirms your permission"
# Every page reports its CSP violations to the test, across navigations and form posts.
WATCH_CSP = """
document.addEventListener('securitypolicyviolation', e => {
  window.avowalCspViolation(`${e.violatedDirective} ${e.blockedURI} ${e.documentURI}`);
});
"""
NO_HORIZONTAL_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


@dataclass
class World:
    url: str
    env: dict[str, str]
    settings: Settings
    token: str
    newsletter_token: str
    browser: Any

    @property
    def outbox(self) -> Path:
        return self.settings.mail_outbox_path

    def api(self, token: str | None = None) -> httpx.Client:
        bearer = token or self.token
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {bearer}"}, timeout=10.0
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One avowal serve writing mail to files, tokens of two service roles, one Chromium."""
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    tmp = tmp_path_factory.mktemp("parent")
    database_url = f"sqlite:///{tmp / 'avowal.sqlite3'}"
    engine = make_engine(Settings(database_url=database_url, data_dir=tmp))
    migrate.upgrade(engine)
    engine.dispose()
    port = server.free_port()  # the mail's links name the public URL: this server's own
    env = server.serve_env(tmp, database_url, POLICY)
    env.update(
        AVOWAL_PUBLIC_URL=f"http://127.0.0.1:{port}",
        AVOWAL_MAIL_TRANSPORT="files",
    )
    token = _cli(env, "token", "create", "web-backend", "--role", "web_backend")
    newsletter = _cli(env, "token", "create", "newsletter", "--role", "newsletter_service")
    settings = Settings(
        env="test",
        data_dir=tmp,
        database_url=database_url,
        policy_file=POLICY,
        public_url=env["AVOWAL_PUBLIC_URL"],
        mail_transport="files",
    )
    with server.running(env, tmp / "serve.log", port) as avowal, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield World(avowal.url, env, settings, token, newsletter, browser)
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


# -- The site's back end ---------------------------------------------------------------------


def _collect_minor(world: World, ref: str, name: str, email: str) -> dict[str, Any]:
    """Collect a ten-year-old at registration, with their parent's address; return the answer."""
    born = clock.now().date() - dt.timedelta(days=10 * 365 + 3)
    with world.api() as api:
        notice = api.get("/v1/notices/registration")
        parent_notice = api.get("/v1/notices/registration/parent")
        assert notice.status_code == parent_notice.status_code == 200, parent_notice.text
        answer = api.post(
            "/v1/collect/registration",
            json={
                "notice_id": notice.json()["notice_id"],
                "subject": {"ref": ref},
                "values": {"name": name, "email": email, "birth_date": born.isoformat()},
                "parent": {
                    "email": "parent@example.com",
                    "notice_id": parent_notice.json()["notice_id"],
                },
            },
        )
    assert answer.status_code == 201, answer.text
    collected: dict[str, Any] = answer.json()
    return collected


def _read(
    world: World, subject_id: str, purpose: str = AUTHENTICATION, token: str | None = None
) -> httpx.Response:
    with world.api(token) as api:
        return api.get(f"/v1/subjects/{subject_id}/data", params={"purpose": purpose})


def _send_mail(world: World) -> None:
    """Deliver the queued mail with `avowal mail send` (a test server runs no mail worker)."""
    sent = _cli(world.env, "mail", "send")
    assert re.search(r"^[1-9]\d* sent,", sent, re.MULTILINE), sent


def _mail_text(world: World, subject_id: str, subject_has: str) -> str:
    """Return the text part (as a mail client shows it) of the one mail to the person's parent
    whose subject says ``subject_has``."""
    folder = world.outbox / subject_id
    found = []
    for eml in sorted(folder.glob("*.eml")) if folder.is_dir() else []:
        msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
        if subject_has in str(msg["Subject"]):
            found.append(msg)
    assert len(found) == 1, f"{len(found)} mails '{subject_has}' in {folder}"
    (msg,) = found
    assert msg["To"] == "parent@example.com"
    body = msg.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def _mail_link(world: World, subject_id: str, subject_has: str) -> str:
    """Return the parent's page the mail links to."""
    text = _mail_text(world, subject_id, subject_has)
    links = re.findall(re.escape(world.url) + r"/privacy/parent/[A-Za-z0-9._-]+", text)
    assert len(links) == 1, text
    return str(links[0])


def _confirm_a_day_later(world: World) -> None:
    """Run the mail worker's pass as if a day had passed (the confirmation is due after 24 h).

    avowal has no clock override across processes; the pass takes ``now`` and works on the
    server's own database and data folder, so it runs here.
    """
    loaded = load_file(world.settings.policy_file)
    secrets = crypto.load(world.settings)
    engine = make_engine(world.settings)
    try:
        later = clock.now() + dt.timedelta(hours=25)
        report = worker.run_pass(make_sessionmaker(engine), world.settings, secrets, loaded, later)
    finally:
        engine.dispose()
    assert report.configured
    assert report.parental_confirmed == 1, report
    assert report.sent, report


# -- The parent's browser ----------------------------------------------------------------------


@dataclass
class Browsing:
    """A phone-width page whose console errors and CSP violations are kept."""

    page: Any
    problems: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    expected: set[str] = field(default_factory=set)

    def expect_status(self, url: str) -> None:
        """Allow the one console line Chromium writes for a page answered with an error status."""
        self.expected.add(url)

    def close(self) -> None:
        self.page.context.close()


def _browse(world: World) -> Browsing:
    context = world.browser.new_context(viewport=PHONE, locale="en-GB")
    violations: list[str] = []
    context.expose_function("avowalCspViolation", lambda text: violations.append(text))
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    seen = Browsing(page, violations=violations)

    def console(message: Any) -> None:
        url = str(message.location.get("url", ""))
        if message.type != "error" or url.endswith("/favicon.ico"):
            return
        if url in seen.expected and message.text.startswith("Failed to load resource"):
            return
        seen.problems.append(f"{message.text} {url}")

    page.on("console", console)
    page.on("pageerror", lambda e: seen.problems.append(str(e)))
    return seen


def _fits_and_is_clean(seen: Browsing) -> None:
    page = seen.page
    assert page.evaluate(NO_HORIZONTAL_SCROLL), page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert seen.problems == []
    assert seen.violations == []


def _tab_to(page: Any, selector: str, limit: int = 12) -> None:
    """Press Tab until the element ``selector`` has the focus (and shows it)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement?.matches(s) ?? false", selector):
            outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", f"{selector} has the focus but shows no focus ring"
            return
    pytest.fail(f"{selector} is not reached with Tab in {limit} presses")


def _forged(link: str) -> str:
    """Change one character of the token's signature (its last part)."""
    head, _, mac = link.rpartition(".")
    return f"{head}.{('0' if mac[0] != '0' else '1')}{mac[1:]}"


# -- Tests -------------------------------------------------------------------------------------


def test_parent_consents_with_the_keyboard_then_withdraws_after_the_confirmation(
    world: World,
) -> None:
    kim = _collect_minor(world, "kid-1", "Kim Example", "kim@example.com")
    assert kim["parental_consent"]["status"] == "pending"
    sid = kim["subject_id"]
    read = _read(world, sid)
    assert read.status_code == 200, read.text
    assert read.json()["values"] == {}
    assert {w["reason"] for w in read.json()["withheld"]} == {"parental_consent_pending"}
    _send_mail(world)
    link = _mail_link(world, sid, REQUEST_SUBJECT)

    seen = _browse(world)
    page = seen.page
    try:
        response = page.goto(link)
        assert response.status == 200
        assert response.headers["cache-control"] == "no-store"  # the link is a secret
        assert page.locator("h1").inner_text() == "Your permission is asked"
        main = page.locator("main").inner_text()
        assert "“Registration”" in main  # the form, by its title
        for label in ("Full name", "E-mail address", "Date of birth"):
            assert label in main
        assert "Telephone number" not in main  # only what was given
        for why in (
            "to sign you in to your account",
            "to answer your questions and help you use the product",
            "to inform you of service updates",
        ):
            assert why in main
        assert "How long it is kept" in main
        assert "after the account is closed" in main
        assert page.locator("input[name=refuse]").count() == 1  # the essential uses are not
        box = page.get_by_label(NEWSLETTER_LABEL)
        assert box.get_attribute("value") == NEWSLETTER
        assert not box.is_checked()
        _fits_and_is_clean(seen)

        # Keyboard only: tick "Refuse: the newsletter", then Tab to "I agree" and press Enter.
        _tab_to(page, f"input[name=refuse][value='{NEWSLETTER}']")
        page.keyboard.press("Space")
        assert box.is_checked()
        _tab_to(page, "button[name=decision][value=consent]")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.locator("h1").inner_text() == "Your answer is recorded"
        assert (
            "We will write to you once more to confirm"
            in page.locator("[role=status]").inner_text()
        )
        _fits_and_is_clean(seen)

        # Still locked until the confirmation is sent.
        read = _read(world, sid)
        assert read.status_code == 200, read.text
        assert read.json()["values"] == {}

        # The link is single-use: opening it again shows the "used" page, a second answer fails.
        seen.expect_status(link)
        again = page.goto(link)
        assert again.status == 410
        assert page.locator("h1").inner_text() == "This link cannot be used"
        assert "used already" in page.locator("main").inner_text()
        assert page.locator("form").count() == 0
        _fits_and_is_clean(seen)
        second = httpx.post(link, data={"decision": "refuse"}, timeout=10.0)
        assert second.status_code == 410, second.text
        assert "used already" in second.text
        assert _read(world, sid).status_code == 200  # the second answer erased nothing

        # A day later the worker confirms: the values are usable, the newsletter never.
        _confirm_a_day_later(world)
        read = _read(world, sid)
        assert read.status_code == 200, read.text
        values = read.json()["values"]
        assert values["name"]["value"] == "Kim Example"
        assert values["email"]["value"] == "kim@example.com"
        newsletter = _read(world, sid, NEWSLETTER, world.newsletter_token)
        assert newsletter.status_code == 200, newsletter.text
        assert newsletter.json()["values"] == {}
        reasons = {w["field"]: w["reason"] for w in newsletter.json()["withheld"]}
        assert reasons["email"] == "refused_by_parent"

        # The confirmation's link withdraws the permission.
        revoke = _mail_link(world, sid, CONFIRMATION_SUBJECT)
        assert revoke != link
        response = page.goto(revoke)
        assert response.status == 200
        assert page.locator("h1").inner_text() == "Withdraw your permission"
        assert "“Registration”" in page.locator("main").inner_text()
        _fits_and_is_clean(seen)
        with page.expect_navigation():
            page.get_by_role("button", name="Withdraw my permission").click()
        assert page.locator("h1").inner_text() == "Your answer is recorded"
        assert "everything your child gave has been erased" in page.locator("main").inner_text()
        _fits_and_is_clean(seen)
    finally:
        seen.close()
    erased = _read(world, sid)
    assert erased.status_code == 410, erased.text


def test_a_refusal_on_the_page_erases_the_child(world: World) -> None:
    sam = _collect_minor(world, "kid-2", "Sam Example", "sam@example.com")
    assert sam["parental_consent"]["status"] == "pending"
    sid = sam["subject_id"]
    _send_mail(world)
    link = _mail_link(world, sid, REQUEST_SUBJECT)
    seen = _browse(world)
    page = seen.page
    try:
        assert page.goto(link).status == 200
        _fits_and_is_clean(seen)
        with page.expect_navigation():
            page.get_by_role("button", name="I refuse").click()
        assert page.locator("h1").inner_text() == "Your answer is recorded"
        assert "erased, and your address too" in page.locator("main").inner_text()
        _fits_and_is_clean(seen)
    finally:
        seen.close()
    erased = _read(world, sid)
    assert erased.status_code == 410, erased.text


def test_a_forged_link_is_not_found(world: World) -> None:
    lee = _collect_minor(world, "kid-3", "Lee Example", "lee@example.com")
    sid = lee["subject_id"]
    _send_mail(world)
    forged = _forged(_mail_link(world, sid, REQUEST_SUBJECT))
    seen = _browse(world)
    page = seen.page
    try:
        seen.expect_status(forged)
        response = page.goto(forged)
        assert response.status == 404
        assert page.locator("h1").inner_text() == "This link cannot be used"
        assert "not valid" in page.locator("main").inner_text()
        assert page.locator("form").count() == 0
        _fits_and_is_clean(seen)
        posted = httpx.post(forged, data={"decision": "refuse"}, timeout=10.0)
        assert posted.status_code == 404
        # The watcher works: an image from another origin is a violation it reports.
        page.evaluate(
            "() => { const i = new Image(); i.src = 'https://tracker.example.com/p.gif';"
            " document.body.append(i); }"
        )
        deadline = time.monotonic() + 5
        while not seen.violations and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        assert [v.split()[0] for v in seen.violations] == ["img-src"]
    finally:
        seen.close()
    # Nothing was answered: the child is still locked, not erased.
    read = _read(world, sid)
    assert read.status_code == 200, read.text
    assert read.json()["values"] == {}


# A parent reads words, not the policy's machine names (fixed in 36e366f: retention and the
# mail's refusable uses used to show keys such as "marketing.communications.email").
def test_the_request_names_no_purpose_by_its_key(world: World) -> None:
    ray = _collect_minor(world, "kid-4", "Ray Example", "ray@example.com")
    sid = ray["subject_id"]
    _send_mail(world)
    link = _mail_link(world, sid, REQUEST_SUBJECT)
    seen = _browse(world)
    try:
        assert seen.page.goto(link).status == 200
        main = seen.page.locator("main").inner_text()
    finally:
        seen.close()
    keys = re.compile(r"\b(?:essential|marketing|analytics|functional)\.[a-z_.]+\b")
    assert keys.findall(main) == [], main
    assert keys.findall(_mail_text(world, sid, REQUEST_SUBJECT)) == []
