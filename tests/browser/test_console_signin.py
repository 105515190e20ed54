"""The console in a real Chromium against `avowal serve`: enrol with TOTP, sign in, acknowledge the
agreement, find a person by e-mail and see only what the support purpose allows."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pyotp
import pytest

from avowal.client import Client
from tests.factories import PURCHASE, REGISTRATION
from tests.server import avowal, running, serve_env

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "examples" / "contactmonkey-2017" / "policy.yaml"
EMAIL = "grace@example.com"
PASSWORD = "quiet-Lantern-47-orbit"
SUPPORT = "essential.service.operations.support"


def _need_chromium() -> None:
    if CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK):
        return
    reason = f"{CHROMIUM} not found: apt-get install chromium"
    if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
        pytest.fail(f"CI must run the browser tests: {reason}", pytrace=False)
    pytest.skip(reason)


def test_staff_signs_in_with_totp_and_looks_a_person_up(tmp_path: Path) -> None:
    _need_chromium()
    from playwright.sync_api import Page, expect, sync_playwright

    env = serve_env(tmp_path, f"sqlite:///{tmp_path / 'avowal.sqlite3'}", POLICY)
    avowal(env, "db", "upgrade")
    link = avowal(env, "staff", "add", EMAIL, "--kind", "employee", "--role", "support").strip()
    enrol_path = re.search(r"/console/enrol/[A-Za-z0-9_-]+$", link)
    assert enrol_path is not None, link
    token = avowal(env, "token", "create", "web-backend", "--role", "web_backend").strip()

    problems: list[str] = []

    def watch(page: Page) -> None:
        page.on(
            "console",
            lambda m: (
                problems.append(f"{m.text} {m.location.get('url', '')}")
                if m.type == "error" and not str(m.location.get("url", "")).endswith("/favicon.ico")
                else None
            ),
        )
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on(
            "response",
            lambda r: (
                problems.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico")
                else None
            ),
        )

    with running(env, tmp_path / "server.log") as server:
        with Client(server.url, token) as backend:
            ada: dict[str, Any] = backend.collect("registration", REGISTRATION, ref="ada")
            backend.collect("purchase", PURCHASE, subject_id=ada["subject_id"])
        sid = ada["subject_id"]
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                watch(page)
                # Enrol: the secret is written on the page beside the QR code.
                page.goto(server.url + enrol_path.group(0))
                secret = page.locator("code.secret").inner_text().replace(" ", "")
                totp = pyotp.TOTP(secret)
                page.fill("#password", PASSWORD)
                page.fill("#confirm", PASSWORD)
                page.fill("#code", totp.now())
                page.click("button[type=submit]")
                expect(page.locator("h1")).to_have_text("Enrolment complete")

                # Sign in with the next step's code: each code works once.
                page.click("a[href='/console/login']")
                page.fill("#email", EMAIL)
                page.fill("#password", PASSWORD)
                page.fill("#code", totp.at(time.time() + 30))
                page.click("button[type=submit]")
                page.wait_for_url("**/console/acknowledge")
                page.click("text=I have read this agreement and will keep to it")
                page.wait_for_url(re.compile(r".*/console$"))

                # Find Ada by e-mail for customer support, and open her.
                page.click("nav >> text=People")
                page.fill("#q", REGISTRATION["email"])
                page.select_option("#purpose", SUPPORT)
                page.click("button:has-text('Find')")
                expect(page.locator("#results-heading")).to_have_text("1 match")
                page.screenshot(path=str(tmp_path / "people.png"), full_page=True)
                page.click(f"a[href='/console/people/{sid}?purpose={SUPPORT}']")
                values = page.locator("table.values")
                expect(values).to_contain_text("+15550100")
                expect(values).to_contain_text(REGISTRATION["name"])
                expect(values).not_to_contain_text("4242")
                withheld = page.locator("ul.withheld")
                expect(withheld).to_contain_text("Card number")
                expect(withheld).to_contain_text("not collected for this purpose")
                assert PURCHASE["email"] not in page.content()
                # The stylesheet applied (no CSP refusal): the header has its tint.
                tint = page.eval_on_selector(
                    "header.top", "e => getComputedStyle(e).backgroundColor"
                )
                assert tint == "rgb(246, 248, 250)"
                page.screenshot(path=str(tmp_path / "person.png"), full_page=True)

                # A phone-sized window of the same browser: the session cookie comes along.
                phone = context.new_page()
                phone.set_viewport_size({"width": 390, "height": 844})
                watch(phone)
                phone.goto(f"{server.url}/console/people/{sid}?purpose={SUPPORT}")
                expect(phone.locator("table.values")).to_contain_text("+15550100")
                width = phone.evaluate("document.documentElement.scrollWidth")
                assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
                phone.screenshot(path=str(tmp_path / "person-phone.png"), full_page=True)
            finally:
                browser.close()
    assert problems == []
