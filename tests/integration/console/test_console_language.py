"""A console that speaks people's language (issue 12, point 6): names before keys, search results
that say who matched and why, a navigation showing a role only the pages it may use, error
pages inside the console's layout, and the internal review inside it too."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from avowal.review import render
from avowal.staff.models import StaffSession
from tests.integration.console.conftest import Browser, audit_entries
from tests.integration.staff.conftest import Clock

SUPPORT = "essential.service.operations.support"
MARKETING = "marketing.communications.email"
SUPPORT_SAYS = "to answer your questions and help you use the product"
MARKETING_SAYS = (
    "to inform you of service updates, new projects and other important and relevant information"
)
AUTHENTICATION_SAYS = "to sign you in to your account"


def shown_text(html: str) -> str:
    """Return what a reader sees first: the page without its <code> keys, tags and attributes."""
    html = re.sub(r"<code\b[^>]*>.*?</code>", " ", html, flags=re.S)
    html = re.sub(r"<title>.*?</title>", " ", html, flags=re.S)
    return re.sub(r"<[^>]*>", " ", html)


def nav_of(html: str) -> list[str]:
    """Return the labels of the console's navigation, in order ([] when there is none)."""
    found = re.search(r'<nav aria-label="Console">(.*?)</nav>', html, re.S)
    if found is None:
        return []
    return re.findall(r"<a [^>]*>([^<]*)</a>", found.group(1))


def section(html: str, heading_id: str) -> str:
    """Return the section whose heading has ``heading_id``."""
    return html.split(f'id="{heading_id}"', 1)[1].split("</section>", 1)[0]


def test_home_and_person_pages_name_purposes_and_roles_and_keep_keys_secondary(
    registered: dict[str, Any], staff_browser: Callable[..., Browser]
) -> None:
    grace = staff_browser("grace@example.com", "support")
    home = grace.get("/console").text
    purposes = home.split("What your role may use personal data for", 1)[1]
    assert SUPPORT_SAYS in purposes and AUTHENTICATION_SAYS in purposes
    assert "Customer support" in home  # the role's title, in the facts and in the header
    assert '<span class="who">grace@example.com (<span title="role support">Customer support' in (
        home
    )
    # The raw keys are still there for staff who need them, but only as secondary <code>.
    assert f"<code>{SUPPORT}</code>" in purposes
    for key in (SUPPORT, "essential.service.authentication", "(support)"):
        assert key not in shown_text(home), key

    page = grace.get(f"/console/people/{registered['subject_id']}", params={"purpose": SUPPORT})
    assert page.status_code == 200, page.text
    values = section(page.text, "values-heading")
    assert f"Values collected for this purpose: <em>{SUPPORT_SAYS}</em>" in values
    # Fields by label, points by title, categories by fideslang's names.
    assert "Full name" in values and "E-mail address" in values and "Registration" in values
    assert "Birth Date" in values and "User Contact Email" in values
    assert 'title="user.contact.email"' in values
    # The purpose select shows descriptions, its values stay the keys.
    select_ = page.text.split('<select id="purpose"', 1)[1].split("</select>", 1)[0]
    assert f'value="{SUPPORT}" selected title="{SUPPORT}">{SUPPORT_SAYS}</option>' in select_
    assert "Only the purposes your role (Customer support) grants." in page.text
    shown = shown_text(page.text)
    for key in (SUPPORT, "essential.service.authentication", "user.contact.email", "registration"):
        assert key not in shown, key


def test_a_search_says_who_matched_by_which_field_where_and_why(
    app: FastAPI, registered: dict[str, Any], staff_browser: Callable[..., Browser]
) -> None:
    sid = registered["subject_id"]
    grace = staff_browser("grace@example.com", "support")
    found = grace.get("/console/people", params={"q": "ada@example.com", "purpose": SUPPORT})
    assert found.status_code == 200, found.text
    results = section(found.text, "results-heading")
    assert "1 match" in found.text
    assert '<strong class="person-name">Ada Example</strong>' in results
    assert "Matched by <strong>E-mail address</strong>" in results
    assert "given at <strong>Registration</strong>" in results
    assert f"found because it was collected for this purpose: <em>{SUPPORT_SAYS}</em>" in results
    assert sid in results and "not available" not in results
    # The name was read through the vault, for this purpose, and audited.
    [read] = audit_entries(app, action="read", actor="grace@example.com")
    assert (read.subject_id, read.purpose, read.fields) == (sid, SUPPORT, '["email", "name"]')

    # Marketing finds Ada by the address she gave for news, but may not read her name.
    mia = staff_browser("mia@example.com", "marketing")
    news = mia.get("/console/people", params={"q": "ada@example.com", "purpose": MARKETING})
    assert news.status_code == 200, news.text
    results = section(news.text, "results-heading")
    assert "Name not available for this purpose" in results
    assert "Ada Example" not in news.text and "1990-04-01" not in news.text
    assert "given at <strong>Registration</strong>" in results
    assert f"found because it was collected for this purpose: <em>{MARKETING_SAYS}</em>" in results
    [read] = audit_entries(app, action="read", actor="mia@example.com")
    assert (read.purpose, read.fields, read.reason) == (MARKETING, '["email"]', "withheld: name")


def test_nothing_matched_reads_the_same_for_someone_unknown_and_someone_withheld(
    app: FastAPI, registered: dict[str, Any], staff_browser: Callable[..., Browser]
) -> None:
    grace = staff_browser("grace@example.com", "support")
    # Ada's invoice address exists, collected for payment only: support is told nothing of it.
    withheld = grace.get("/console/people", params={"q": "ada.billing@example.com"})
    unknown = grace.get("/console/people", params={"q": "zed.nobody@example.com"})
    assert withheld.status_code == unknown.status_code == 200
    said = section(withheld.text, "results-heading")
    assert said == section(unknown.text, "results-heading")
    assert "0 matches" in said and "No one was found with this E-mail address" in said
    assert f"for this purpose: <em>{SUPPORT_SAYS}</em>" in said
    assert "answered exactly like someone unknown" in said
    assert "Ada" not in withheld.text
    assert audit_entries(app, action="read", actor="grace@example.com") == []


def test_the_navigation_shows_each_role_only_the_pages_its_routes_let_it_use(
    staff_browser: Callable[..., Browser],
) -> None:
    grace = staff_browser("grace@example.com", "support")
    support = nav_of(grace.get("/console").text)
    assert support == ["Home", "People", "Requests", "Break-glass"]
    for label in ("Review", "Legal requests", "News", "Analytics"):
        assert label not in support
    # The very rules of the pages: what the navigation hides, the route refuses.
    for url in ("/console/review", "/console/legal", "/console/analytics"):
        assert grace.get(url).status_code == 403, url
    for url in ("/console/people", "/console/break-glass"):
        assert grace.get(url).status_code == 200, url

    olivia = staff_browser("olivia@example.com", "privacy_officer")
    officer = nav_of(olivia.get("/console").text)
    assert officer == [
        "Home",
        "People",
        "Requests",
        "Analytics",
        "Legal requests",
        "Break-glass",
        "Review",
    ]
    for url in ("/console/review", "/console/legal", "/console/analytics"):
        assert olivia.get(url).status_code == 200, url

    mia = staff_browser("mia@example.com", "marketing")
    marketing = nav_of(mia.get("/console/people").text)
    assert marketing == ["Home", "People", "News", "Analytics", "Break-glass"]
    assert "Requests" not in marketing and "Review" not in marketing

    # Billing grants notifications, but no declared kind of message is for them: no News.
    bill = staff_browser("bill@example.com", "billing")
    assert nav_of(bill.get("/console").text) == ["Home", "People", "Break-glass"]
    assert bill.get("/console/news").status_code == 403

    # Not yet bound by the confidentiality agreement: no access to personal data, Home only.
    nina = staff_browser("nina@example.com", "privacy_officer", acknowledge=False)
    assert nav_of(nina.get("/console").text) == ["Home"]
    assert nav_of(nina.get("/console/acknowledge").text) == ["Home"]


def test_an_unknown_console_page_is_a_404_page_in_the_layout_and_changes_nothing(
    app: FastAPI, client: TestClient, staff_browser: Callable[..., Browser]
) -> None:
    grace = staff_browser("grace@example.com", "support")
    before = len(audit_entries(app))
    page = grace.get("/console/nope")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert "<h1>Page not found</h1>" in page.text
    assert nav_of(page.text) == ["Home", "People", "Requests", "Break-glass"]
    assert 'action="/console/logout"' in page.text
    assert grace.get("/console/people/00000000/more/nope").status_code == 404
    assert len(audit_entries(app)) == before

    # Signed out: the same page without any navigation. Elsewhere, the JSON 404 as before.
    anonymous = TestClient(app)
    signed_out = anonymous.get("/console/nope", follow_redirects=False)
    assert signed_out.status_code == 404 and "<h1>Page not found</h1>" in signed_out.text
    assert nav_of(signed_out.text) == [] and "/console/logout" not in signed_out.text
    elsewhere = anonymous.get("/v1/nope")
    assert elsewhere.status_code == 404 and elsewhere.json()["error"] == "not_found"
    anonymous.close()


def test_a_refused_page_carries_the_navigation_without_any_side_effect(
    app: FastAPI, clock: Clock, staff_browser: Callable[..., Browser]
) -> None:
    grace = staff_browser("grace@example.com", "support")
    before = len(audit_entries(app))
    refused = grace.get("/console/review")
    assert refused.status_code == 403
    assert "privacy officers&#39; work" in refused.text
    assert nav_of(refused.text) == ["Home", "People", "Requests", "Break-glass"]
    assert len(audit_entries(app)) == before

    # The page only reads: a session that idled out is neither shown nor ended by it.
    clock.advance(hours=12)
    refused = grace.get("/console/nope")
    assert refused.status_code == 404 and nav_of(refused.text) == []
    with app.state.sessionmaker() as session:
        rows = list(session.scalars(select(StaffSession)))
    assert [row.ended_at for row in rows] == [None]
    assert len(audit_entries(app)) == before


def test_the_review_page_is_inside_the_console_with_its_print_stylesheet(
    staff_browser: Callable[..., Browser],
) -> None:
    olivia = staff_browser("olivia@example.com", "privacy_officer")
    page = olivia.get("/console/review")
    assert page.status_code == 200, page.text
    text = page.text
    assert nav_of(text)[-1] == "Review"
    assert '<a href="/console/review" aria-current="page">Review</a>' in text
    assert "<title>Internal review · avowal console</title>" in text
    assert '<link rel="stylesheet" href="/console/static/console.css">' in text
    assert f'<link rel="stylesheet" href="{render.STYLESHEET.href}">' in text
    assert '<a href="/console/review.json">As JSON</a>' in text
    # The review's own content, once, inside the console's one <main> and <h1>.
    assert text.count("<main") == 1 and text.count("<h1>") == 1
    for heading in ("Summary", "Data inventory", "Last cookie scan"):
        assert f">{heading}</h2>" in text, heading
    assert "Generated by avowal" in text and "<!doctype html>" in text
    assert text.count("<!doctype html>") == 1
