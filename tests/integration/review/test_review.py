"""The internal review's figures on a known data set, as JSON, as a printable page and by CLI."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from typer.testing import CliRunner

from avowal.audit import checkpoints
from avowal.audit import service as audit
from avowal.audit.models import AuditEntry
from avowal.children import lock as parental
from avowal.children.models import ParentalConsent
from avowal.cli import app as cli
from avowal.client import Client, PurposeNotAllowed
from avowal.consent import scan_store
from avowal.consent.scan import Finding, FindingKind, Pass, ScanReport, Store
from avowal.legal import break_glass as bg
from avowal.legal import export as legal_export
from avowal.legal import service as legal
from avowal.legal.exceptions import FourEyesRequired
from avowal.legal.schemas import LegalRequestCreate
from avowal.policy.schemas import CookieCategory
from avowal.review import render
from avowal.review import service as review
from avowal.review.schemas import Review
from avowal.settings import Settings
from avowal.vault import access
from tests.factories import PURCHASE, REGISTRATION
from tests.integration.legal.helpers import NOW, add_account, edge, run

runner = CliRunner()
WHY = "Payments stuck <since 09:00>; checking ticket OPS-118 for the billing team"
SUPPORT_READS = 12


@dataclass(frozen=True)
class Known:
    """What the data set holds, to compare the review against."""

    people: list[str]
    grant_id: str
    exported_id: str
    overdue_id: str
    checkpoint_seq: int
    entries: int


def request(subject_id: str, **changes: Any) -> LegalRequestCreate:
    data: dict[str, Any] = {
        "authority": "Springfield Police Department",
        "reference": "SPD-1",
        "legal_basis": "Production order",
        "recipient": "authorities",
        "subject_ids": [subject_id],
        "fields": ["email"],
        "deadline": NOW.date() + dt.timedelta(days=14),
        "may_notify": True,
    }
    data.update(changes)
    return LegalRequestCreate(**data)


@pytest.fixture
def known(
    app: FastAPI, settings: Settings, backend: Client, as_staff: Callable[[str], Any]
) -> Known:
    """Three people (one erased), known reads, a refusal, break-glass, two legal requests."""
    loaded, secrets = app.state.policies.current(), app.state.secrets
    people = [
        backend.collect("registration", REGISTRATION, ref=f"user-{i}")["subject_id"]
        for i in (1, 2, 3)
    ]
    backend.collect("purchase", PURCHASE, subject_id=people[0])
    backend.erase(people[2])
    support = as_staff("support")
    for _ in range(SUPPORT_READS):
        support.read(people[0], purpose="essential.service.operations.support")
    as_staff("billing").read(people[0], purpose="essential.service.payment_processing")
    marketing = as_staff("marketing")
    marketing.read(people[1], purpose="marketing.communications.email")
    with pytest.raises(PurposeNotAllowed):
        marketing.read(people[1], purpose="essential.service.payment_processing")

    with edge(app) as s:
        recent = NOW - dt.timedelta(days=1)
        olivia = add_account(s, "olivia@example.com", "privacy_officer", last_login=recent)
        oscar = add_account(s, "oscar@example.com", "privacy_officer", last_login=recent)
        erin = add_account(
            s, "erin@example.com", "engineering", last_login=NOW - dt.timedelta(days=100)
        )
        add_account(
            s,
            "cora@example.com",
            "support",
            kind="contractor",
            last_login=recent,
            expires_at=NOW - dt.timedelta(days=1),
        )
        add_account(
            s, "dan@example.com", "support", last_login=recent, disabled_at=NOW - dt.timedelta(3)
        )
        add_account(s, "nina@example.com", "support", enrolled=False, ack=None)
        add_account(s, "ava@example.com", "marketing", kind="agent", last_login=recent, ack="2016")

    grant = run(app, lambda s: bg.start(s, loaded, erin, WHY, 30, NOW))
    for purpose in ("essential.service.payment_processing", "essential.service.authentication"):
        run(
            app,
            lambda s, p=purpose: access.read(
                s,
                loaded,
                secrets,
                bg.caller_for_break_glass(s, loaded, erin, grant, NOW + dt.timedelta(minutes=1)),
                people[0],
                p,
            ),
        )
    run(app, lambda s: bg.end(s, loaded, erin, grant.id, NOW + dt.timedelta(minutes=2)))

    exported = run(app, lambda s: legal.create_request(s, loaded, olivia, request(people[0])))
    with pytest.raises(FourEyesRequired):
        run(app, lambda s: legal.approve(s, loaded, olivia, exported.id))
    run(app, lambda s: legal.approve(s, loaded, oscar, exported.id))
    run(app, lambda s: legal_export.export(s, loaded, secrets, olivia, exported.id))
    past = NOW - dt.timedelta(days=10)
    late = request(people[1], reference="SPD-2", deadline=(past + dt.timedelta(days=5)).date())
    overdue = run(app, lambda s: legal.create_request(s, loaded, olivia, late, past))

    with app.state.sessionmaker() as s:
        seq, digest = audit.head(s)
        entries = s.scalar(select(func.count()).select_from(AuditEntry))
    checkpoints.write(settings.checkpoint_path, secrets.signing_key, seq, digest)
    return Known(people, grant.id, exported.id, overdue.id, seq, int(entries or 0))


def build(app: FastAPI, settings: Settings, since: dt.date | None = None) -> Review:
    with app.state.sessionmaker() as session:
        return review.build(
            session,
            app.state.policies.current(),
            settings,
            public_key=app.state.secrets.signing_key.public_key(),
            since=since,
        )


def emails(accounts: list[dict[str, Any]]) -> list[str]:
    return [a["email"] for a in accounts]


def test_the_review_reports_the_known_figures(
    app: FastAPI, settings: Settings, known: Known
) -> None:
    data = json.loads(render.render_json(build(app, settings)))
    assert list(data) == [
        "organisation",
        "policy_version",
        "generated_at",
        "since",
        "internal_review_days",
        "inventory",
        "accesses",
        "refused",
        "break_glass",
        "legal_disclosures",
        "accounts",
        "overdue",
        "audit",
        "analytics_quarantine",
        "mail",
        "children",
        "cases",
        "retention",
        "promises",
        "last_cookie_scan",
        "notes",
    ]
    assert (data["organisation"], data["since"], data["internal_review_days"]) == (
        "ContactMonkey",
        None,
        90,
    )

    inv = data["inventory"]
    assert (inv["people"], inv["erased"]) == (2, 1)
    points = {p["point"]: p for p in inv["points"]}
    assert {k: p["people"] for k, p in points.items()} == {
        "registration": 2,
        "purchase": 1,
        "contact": 0,
    }
    card = next(f for f in points["purchase"]["fields"] if f["name"] == "card")
    assert (card["category"], card["storage"]) == ("user.financial.credit_card", "last4")
    assert {(r["category"], r["purpose"]) for r in points["purchase"]["retention"]} == {
        ("user.financial.credit_card", None),
        (None, "essential.service"),
    }
    assert {(r["category"], r["purpose"]) for r in points["registration"]["retention"]} == {
        (None, "essential.service"),
        (None, "marketing.communications.email"),
    }

    acc = data["accesses"]
    glass = f"erin@example.com [break-glass {known.grant_id}]"
    actors = {
        a["actor"]: (a["reads"], a["total"], a["outlier"], a["break_glass"]) for a in acc["actors"]
    }
    assert actors == {
        "billing": (1, 1, False, False),
        glass: (2, 2, False, True),
        "marketing": (1, 1, False, False),
        "olivia@example.com": (0, 1, False, False),
        "support": (SUPPORT_READS, SUPPORT_READS, True, False),
    }
    assert acc["total"] == SUPPORT_READS + 5
    assert acc["median_reads"] == 1.5
    assert acc["outliers"] == ["support"]
    assert {(r["actor"], r["purpose"]): r["count"] for r in acc["by_purpose"]} == {
        ("billing", "essential.service.payment_processing"): 1,
        (glass, "essential.service.authentication"): 1,
        (glass, "essential.service.payment_processing"): 1,
        ("marketing", "marketing.communications.email"): 1,
        ("olivia@example.com", "essential.legal_obligation"): 1,
        ("support", "essential.service.operations.support"): SUPPORT_READS,
    }

    assert [(r["actor"], r["action"], r["purpose"]) for r in data["refused"]] == [
        ("marketing", "read", "essential.service.payment_processing"),
        ("olivia@example.com", "legal_approve", "essential.legal_obligation"),
    ]

    [use] = data["break_glass"]
    assert (use["id"], use["account"], use["justification"], use["state"]) == (
        known.grant_id,
        "erin@example.com",
        WHY,
        "ended",
    )
    assert (use["accesses"], use["entries"]) == (2, 4)
    assert use["by_action"] == {"break_glass_end": 1, "break_glass_start": 1, "read": 2}

    legal_rows = {d["id"]: d for d in data["legal_disclosures"]}
    assert list(legal_rows) == [known.exported_id, known.overdue_id]  # newest first
    done, late = legal_rows[known.exported_id], legal_rows[known.overdue_id]
    assert (done["status"], done["decided_by"], done["self_approved"], done["overdue"]) == (
        "exported",
        "oscar@example.com",
        False,
        False,
    )
    assert (done["notices_scheduled"], done["notices_sent"], done["people"]) == (1, 0, 1)
    assert done["export_sha256"] and done["exported_at"]
    assert (late["status"], late["overdue"], late["decided_by"]) == ("pending", True, None)

    accounts = data["accounts"]
    assert (accounts["total"], accounts["active"]) == (7, 5)
    assert emails(accounts["expired"]) == ["cora@example.com"]
    assert emails(accounts["disabled"]) == ["dan@example.com"]
    assert emails(accounts["never_enrolled"]) == ["nina@example.com"]
    assert emails(accounts["stale"]) == ["erin@example.com"]
    assert emails(accounts["missing_acknowledgement"]) == ["ava@example.com", "nina@example.com"]
    assert emails(accounts["contractors_without_expiry"]) == ["ava@example.com"]

    # The data set is dated from NOW (when the tests started); a run crossing midnight adds a day.
    crossed = (dt.datetime.fromisoformat(data["generated_at"]).date() - NOW.date()).days
    assert [(o["id"], o["days_late"]) for o in data["overdue"]["legal_requests"]] == [
        (known.overdue_id, 5 + crossed)
    ]
    assert [n["subject_id"] for n in data["overdue"]["notices"]] == [known.people[0]]

    assert data["audit"] == {
        "ok": True,
        "entries": known.entries,
        "head_seq": known.entries,
        "first_bad": None,
        "problem": None,
        "checkpoints_checked": True,
        "checkpoints": 1,
        "latest_checkpoint": known.checkpoint_seq,
        "checkpoint_problems": [],
    }
    assert data["last_cookie_scan"] is None
    assert review.NO_COOKIE_SCAN in data["notes"]


def test_the_last_cookie_scan_appears_and_a_failed_one_is_flagged(
    app: FastAPI, settings: Settings
) -> None:
    before = Finding(
        kind=FindingKind.before_consent,
        name="cm_usage",
        store=Store.cookie,
        category=CookieCategory.analytics,
        pass_=Pass.before,
        page="https://shop.example.com/",
    )
    undeclared = before.model_copy(
        update={"kind": FindingKind.undeclared, "name": "tracker_x", "category": None}
    )
    pages = ["https://shop.example.com/", "https://shop.example.com/pricing"]
    clean = ScanReport(urls=pages[:1], banner={}, findings=[])
    failed = ScanReport(urls=pages, banner={}, findings=[before, undeclared, undeclared])
    run(app, lambda s: scan_store.record(s, clean, NOW - dt.timedelta(days=2)))
    run(app, lambda s: scan_store.record(s, failed, NOW - dt.timedelta(days=1)))

    result = build(app, settings)
    scan = result.last_cookie_scan
    assert scan is not None
    assert (scan.at, scan.pages, scan.findings, scan.ok) == (
        NOW - dt.timedelta(days=1),
        pages,
        3,
        False,
    )
    assert scan.by_kind == {"before_consent": 1, "undeclared": 2}
    assert review.NO_COOKIE_SCAN not in result.notes
    [note] = [n for n in result.notes if "cookie scan" in n]
    assert "failed with 3 finding(s): 1 before_consent, 2 undeclared" in note
    page = render.render_html(result)
    assert "2 page(s)" in page and "<code>https://shop.example.com/pricing</code>" in page
    assert (
        '<strong class="alert">failed</strong>, 3 finding(s) (1 before consent, 2 undeclared)'
        in page
    )
    assert "No cookie scan recorded yet" not in page

    run(app, lambda s: scan_store.record(s, clean, NOW))
    passed = build(app, settings)
    assert passed.last_cookie_scan is not None and passed.last_cookie_scan.ok
    assert passed.last_cookie_scan.pages == pages[:1]
    assert not [n for n in passed.notes if "cookie scan" in n]
    assert "passed, no finding." in render.render_html(passed)


def test_since_limits_the_period_but_keeps_open_requests(
    app: FastAPI, settings: Settings, known: Known
) -> None:
    later = build(app, settings, since=NOW.date() + dt.timedelta(days=2))
    assert later.accesses.total == 0 and later.accesses.actors == []
    assert later.refused == [] and later.break_glass == []
    assert [d.id for d in later.legal_disclosures] == [known.overdue_id]
    # Accounts, inventory and the chain are the state now, whatever the period.
    assert later.inventory.people == 2 and later.accounts.total == 7 and later.audit.ok


def test_a_broken_chain_shows_in_the_review(app: FastAPI, settings: Settings, known: Known) -> None:
    with app.state.engine.begin() as conn:
        conn.execute(
            AuditEntry.__table__.update().where(AuditEntry.seq == 3).values(actor="someone")
        )
    result = build(app, settings).audit
    assert (result.ok, result.first_bad) == (False, 3)
    assert "changed after it was written" in (result.problem or "")


def test_the_printable_page_has_every_section(
    app: FastAPI, settings: Settings, known: Known
) -> None:
    page = render.render_html(build(app, settings))
    for section in (
        "summary",
        "inventory",
        "accesses",
        "refused",
        "break-glass",
        "legal",
        "accounts",
        "overdue",
        "audit",
        "children",
        "cookies",
    ):
        assert f'<section id="{section}"' in page
    for caption in (
        "<caption>Fields collected at Registration</caption>",
        "<caption>Accesses by caller</caption>",
        "<caption>Refused accesses (2)</caption>",
        "<caption>Break-glass grants (1)</caption>",
        "<caption>Legal requests (2)</caption>",
        "<caption>Stale accounts</caption>",
        "<caption>Legal requests past their deadline</caption>",
    ):
        assert caption in page
    assert "Payments stuck &lt;since 09:00&gt;" in page  # autoescaped
    assert '<strong class="alert">outlier</strong>' in page
    assert "No cookie scan recorded yet: run <code>avowal cookies scan</code>" in page
    assert "The audit chain is intact" in page
    assert "style=" not in page and "<style" not in page and "<script" not in page
    assert '<link rel="stylesheet" href="/assets/review.css?v=' in page
    assert b"@media print" in render.STYLESHEET.content


def assert_self_contained(page: str) -> None:
    """Check that a review page carries its whole stylesheet and links no file of its own."""
    head = page[: page.index("</head>")]
    (css,) = re.findall(r"<style>\n(.*?)</style>", head, flags=re.DOTALL)
    assert css.encode() == render.STYLESHEET.content  # verbatim, not escaped
    assert "@media print" in css
    assert "<link" not in page
    assert not re.search(r'(?:href|src)="(?!https?:|mailto:|#)', page)


def test_the_standalone_page_inlines_its_stylesheet(
    app: FastAPI, settings: Settings, known: Known
) -> None:
    page = render.render_standalone_html(build(app, settings))
    assert_self_contained(page)
    assert '<section id="audit"' in page
    assert "Payments stuck &lt;since 09:00&gt;" in page  # the rest still autoescaped


def test_the_cli_prints_a_self_contained_page(known: Known, cli_env: None) -> None:
    result = runner.invoke(cli, ["review"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("<!doctype html>")
    assert_self_contained(result.stdout)


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AVOWAL_ENV", "test")
    monkeypatch.setenv("AVOWAL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("AVOWAL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AVOWAL_POLICY_FILE", str(settings.policy_file))


def test_the_cli_writes_both_formats(known: Known, cli_env: None, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = runner.invoke(cli, ["review", "--format", "json", "-o", str(out / "review.json")])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "review.json").read_text())
    assert data["accesses"]["total"] == SUPPORT_READS + 5
    assert data["audit"]["checkpoints"] == 1

    result = runner.invoke(cli, ["review", "-o", str(out / "review.html")])
    assert result.exit_code == 0, result.output
    # One self-contained file: its styles inline, no stylesheet to find beside it.
    page = (out / "review.html").read_text()
    assert_self_contained(page)
    assert "Internal review" in page
    assert sorted(p.name for p in out.iterdir()) == ["review.html", "review.json"]

    result = runner.invoke(cli, ["review", "--format", "json", "--since", NOW.date().isoformat()])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["since"] == NOW.date().isoformat()


@pytest.mark.parametrize(
    ("since", "message"),
    [("2026-13-01", "must be a date as YYYY-MM-DD"), ("yesterday", "must be a date")],
)
def test_the_cli_refuses_a_bad_date(since: str, message: str) -> None:
    # Refused before any setting, key or database is read.
    result = runner.invoke(cli, ["review", "--since", since])
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output


def add_parental_request(
    app: FastAPI, subject_id: str, status: str, requested_at: dt.datetime
) -> str:
    """Insert a parental consent request as the children service leaves it; return its id."""
    row = ParentalConsent(
        id=str(uuid.uuid4()),
        subject_id=subject_id,
        point="registration",
        status=status,
        parent_address=b"sealed under the child's key",
        parent_notice_id="n" * 64,
        refused_purposes=[],
        requested_at=requested_at,
        expires_at=requested_at + dt.timedelta(days=14),
    )
    with app.state.sessionmaker() as session, session.begin():
        session.add(row)
    return row.id


def test_the_children_section_counts_every_status_and_flags_a_pending_request_past_expiry(
    app: FastAPI, settings: Settings, backend: Client
) -> None:
    people = [
        backend.collect("registration", REGISTRATION, ref=f"user-{i}")["subject_id"]
        for i in range(4)
    ]
    fresh = add_parental_request(app, people[0], "pending", NOW - dt.timedelta(days=2))
    late = add_parental_request(app, people[1], "pending", NOW - dt.timedelta(days=15))
    add_parental_request(app, people[2], "consented", NOW - dt.timedelta(days=30))
    add_parental_request(app, people[3], "refused", NOW - dt.timedelta(days=20))
    add_parental_request(app, people[3], "expired", NOW - dt.timedelta(days=60))

    result = build(app, settings)
    kids = result.children
    assert kids is not None and (kids.under, kids.wait_days) == (18, 14)
    # Every status, in the lock's order, zeros shown.
    assert list(kids.by_status.items()) == [
        ("pending", 2),
        ("confirming", 0),
        ("consented", 1),
        ("refused", 1),
        ("expired", 1),
        ("revoked", 0),
    ]
    assert list(kids.by_status) == list(parental.STATUSES)
    # Pending only, soonest expiry first: the one the worker should have erased leads.
    assert [(p.request, p.point, p.overdue) for p in kids.pending] == [
        (late[:8], "registration", True),
        (fresh[:8], "registration", False),
    ]
    assert kids.pending[0].requested_at == NOW - dt.timedelta(days=15)
    assert kids.pending[0].expires_at == NOW - dt.timedelta(days=1)
    [note] = [n for n in result.notes if "parental consent" in n]
    assert "1 parental consent request(s) are past their expiry and still pending" in note
    assert late[:8] in note and fresh[:8] not in note and "avowal mail send" in note

    # No personal data: never the child's values, their subject id or a full request id.
    section = json.dumps(json.loads(render.render_json(result))["children"])
    page = render.render_html(result)
    html = page.split('<section id="children"', 1)[1].split("</section>", 1)[0]
    for shown in (section, html):
        for secret in (*REGISTRATION.values(), *people, fresh, late, "sealed"):
            assert secret not in shown
    assert "pending 2, confirming 0, consented 1, refused 1, expired 1, revoked 0" in html
    assert "<caption>Requests waiting for the parent (2)</caption>" in html
    flagged = html.split("<tr", 3)[2]  # the header row, then the late request's row
    assert 'class="flagged"' in flagged and f"<code>{late[:8]}</code>" in flagged
    assert '<strong class="alert">past, not erased</strong>' in flagged
    expires = (NOW - dt.timedelta(days=1)).date().isoformat()
    assert f'<time datetime="{expires}">{expires}</time>' in flagged
    assert '<dt>Parental consents pending</dt><dd><strong class="alert">2</strong>' in page


def test_the_children_section_is_absent_without_a_children_policy(
    app: FastAPI, settings: Settings
) -> None:
    loaded = app.state.policies.current()
    adults_only = dataclasses.replace(
        loaded, policy=loaded.policy.model_copy(update={"children": None})
    )
    with app.state.sessionmaker() as session:
        result = review.build(
            session,
            adults_only,
            settings,
            public_key=app.state.secrets.signing_key.public_key(),
        )
    assert result.children is None
    page = render.render_html(result)
    assert '<section id="children"' not in page and "Parental consents" not in page
    # With the policy's section and no request: the figures are zeros, nothing is flagged.
    kids = build(app, settings).children
    assert kids is not None and kids.pending == []
    assert set(kids.by_status.values()) == {0}
