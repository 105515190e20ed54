"""The scanner's judgement without a browser: what the passes saw, against the declaration."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from avowal.cli import app as cli
from avowal.consent.scan import (
    Finding,
    FindingKind,
    Item,
    Observation,
    Pass,
    Store,
    judge,
    refusable,
)
from avowal.consent.scan_cli import table
from avowal.policy.loader import parse_text
from avowal.policy.schemas import CookieCategory as C
from avowal.policy.schemas import Policy
from tests.factories import policy_text

HOME = "https://shop.example.com/"
PRICING = "https://shop.example.com/pricing"


def example(change: Any = None) -> Policy:
    return parse_text(policy_text(change)).policy


def cookie(name: str, page: str = HOME, store: Store = Store.cookie) -> Item:
    return Item(name, store, page)


def kinds(findings: list[Finding]) -> list[tuple[str, str, str, str]]:
    return [(f.kind.value, f.name, f.pass_.value, f.page) for f in findings]


def test_a_clean_site_has_no_finding() -> None:
    observations = [
        Observation(Pass.before, [cookie("cm_consent")]),
        Observation(Pass.rejected, [cookie("cm_consent")], banner=True),
        Observation(
            Pass.accepted,
            [cookie("cm_consent"), cookie("cm_usage"), cookie("cm_perf", PRICING)],
            banner=True,
        ),
    ]
    report = judge(example(), [HOME, PRICING], observations)
    assert report.ok and report.findings == []
    assert report.banner == {Pass.rejected: True, Pass.accepted: True}
    assert table(report).startswith("clean: 2 pages scanned")


def test_each_problem_is_reported_once_where_first_seen() -> None:
    observations = [
        Observation(
            Pass.before,
            [
                cookie("cm_consent"),
                cookie("tracker_x"),
                cookie("cm_usage", PRICING),
                cookie("ls_undeclared", PRICING, Store.local_storage),
                cookie("cm_consent", PRICING, Store.session_storage),  # declared by name
            ],
        ),
        Observation(
            Pass.rejected,
            [cookie("tracker_x"), cookie("cm_content"), cookie("cm_consent")],
            banner=True,
        ),
        Observation(
            Pass.accepted,
            [cookie("cm_content"), cookie("ls_undeclared", HOME, Store.session_storage)],
            banner=True,
        ),
    ]
    report = judge(example(), [HOME, PRICING], observations)
    assert kinds(report.findings) == [
        ("undeclared", "tracker_x", "before", HOME),
        ("before_consent", "cm_usage", "before", PRICING),
        ("undeclared", "ls_undeclared", "before", PRICING),
        ("after_rejection", "cm_content", "rejected", HOME),
        # Another store is another key: sessionStorage is reported apart from localStorage.
        ("undeclared", "ls_undeclared", "accepted", HOME),
    ]
    by_name = {(f.name, f.kind): f for f in report.findings}
    assert by_name["cm_usage", FindingKind.before_consent].category is C.analytics
    assert by_name["cm_content", FindingKind.after_rejection].category is C.advertising
    assert by_name["tracker_x", FindingKind.undeclared].category is None
    assert not report.ok
    dumped = report.findings[1].model_dump(mode="json", by_alias=True)
    assert dumped == {
        "kind": "before_consent",
        "name": "cm_usage",
        "store": "cookie",
        "category": "analytics",
        "pass": "before",
        "page": PRICING,
    }


def test_patterns_declare_cookies_and_storage_keys() -> None:
    def add_pattern(data: dict[str, Any]) -> None:
        data["cookies"].append(
            {
                "name": "cm_ab_*",
                "provider": "ContactMonkey",
                "category": "strictly_necessary",
                "lifetime": "session",
                "purpose": "functional.storage.privacy_preferences",
            }
        )

    observations = [
        Observation(
            Pass.before,
            [cookie("cm_ab_42"), cookie("cm_ab_x", HOME, Store.local_storage), cookie("cm_abc")],
        )
    ]
    report = judge(example(add_pattern), [HOME], observations)
    assert kinds(report.findings) == [("undeclared", "cm_abc", "before", HOME)]


def test_no_banner_is_a_finding_only_when_cookies_can_be_refused() -> None:
    observations = [
        Observation(Pass.before, [cookie("cm_consent")]),
        Observation(Pass.rejected, banner=False),
        Observation(Pass.accepted, banner=False),
    ]
    policy = example()
    assert refusable(policy)
    report = judge(policy, [HOME, PRICING], observations)
    assert [(f.kind, f.pass_, f.page) for f in report.findings] == [
        (FindingKind.no_banner, Pass.rejected, HOME),
        (FindingKind.no_banner, Pass.accepted, HOME),
    ]
    assert report.findings[0].name == '[data-avowal-consent="reject-all"]'

    def necessary_only(data: dict[str, Any]) -> None:
        data["cookies"] = [c for c in data["cookies"] if c["name"] == "cm_consent"]

    quiet = example(necessary_only)
    assert not refusable(quiet)
    report = judge(quiet, [HOME], observations)
    assert report.ok
    assert "the rejected and accepted passes were skipped" in table(report)


def test_the_table_lists_every_finding_and_explains_its_kind() -> None:
    observations = [Observation(Pass.before, [cookie("tracker_x"), cookie("cm_usage")])]
    text = table(judge(example(), [HOME], observations))
    lines = text.splitlines()
    assert lines[0].split() == ["kind", "store", "name", "category", "pass", "page"]
    assert lines[1].split() == ["undeclared", "cookie", "tracker_x", "-", "before", HOME]
    assert lines[2].split() == ["before_consent", "cookie", "cm_usage", "analytics", "before", HOME]
    assert "before_consent: not strictly necessary, yet stored before any choice" in text
    assert lines[-1] == "2 findings on 1 page"


def test_without_playwright_the_cli_says_to_install_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # None in sys.modules makes the lazy import fail as if Playwright were not installed.
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)
    env = {"AVOWAL_DATA_DIR": str(tmp_path), "AVOWAL_DATABASE_URL": ""}
    args = ["cookies", "scan", "--chromium", sys.executable, HOME]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 2, result.output
    assert "install avowal[scan]" in result.stderr
    assert CliRunner().invoke(cli, ["cookies", "scan", "--json"], env=env).exit_code == 2
