"""The internal review in the console: printable HTML with its stylesheet, the same as JSON,
break-glass reads flagged; privacy officers only."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from avowal.review import render
from tests.integration.console.conftest import Browser

WHY = "Login outage; checking the account data of ticket OPS-204 now"


def test_the_review_page_prints_with_its_stylesheet_and_links_its_json(
    client: TestClient,
    registered: dict[str, Any],
    staff_browser: Callable[..., Browser],
) -> None:
    olivia = staff_browser("olivia@example.com", "privacy_officer")
    erin = staff_browser("erin@example.com", "engineering")
    erin.post("/console/break-glass/start", {"justification": WHY, "minutes": "10"})
    erin.get(f"/console/people/{registered['subject_id']}", params={"purpose": "essential.service"})

    page = olivia.get("/console/review")
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert "<h1>Internal review</h1>" in page.text
    css = re.search(
        r'<link rel="stylesheet" href="(/assets/review\.css\?v=[0-9a-f]{12})">', page.text
    )
    assert css is not None
    assert '<a href="/console/review.json">As JSON</a>' in page.text
    # The break-glass read is in the review, flagged, with its justification.
    assert WHY in page.text and 'class="flagged"' in page.text

    sheet = client.get(css.group(1))
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/css")
    assert sheet.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "@media print" in sheet.text and ".screen-links" in sheet.text
    assert sheet.content == render.STYLESHEET.content

    data = olivia.get("/console/review.json").json()
    assert data["organisation"] == "ContactMonkey"
    assert [b["justification"] for b in data["break_glass"]] == [WHY]
    assert data["inventory"]["people"] == 1


def test_the_review_takes_a_start_day_and_refuses_a_bad_one(
    staff_browser: Callable[..., Browser],
) -> None:
    olivia = staff_browser("olivia@example.com", "privacy_officer")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    page = olivia.get("/console/review", params={"since": today})
    assert page.status_code == 200
    assert f'<a href="/console/review.json?since={today}">' in page.text
    assert olivia.get("/console/review.json", params={"since": today}).json()["since"] == today
    bad = olivia.get("/console/review", params={"since": "yesterday"})
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.text
    future = olivia.get("/console/review.json", params={"since": "2999-01-01"})
    assert future.status_code == 422 and "in the future" in future.text


def test_only_privacy_officers_see_the_review(
    client: TestClient, staff_browser: Callable[..., Browser]
) -> None:
    grace = staff_browser("grace@example.com", "support")
    for url in ("/console/review", "/console/review.json"):
        page = grace.get(url)
        assert page.status_code == 403 and "privacy officers&#39; work" in page.text
    client.cookies.clear()
    anonymous = client.get("/console/review", follow_redirects=False)
    assert anonymous.headers["location"] == "/console/login"
