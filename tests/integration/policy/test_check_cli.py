"""`avowal policy check` as an editor, CI or a pre-commit hook runs it: text, JSON, --strict."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from typer.testing import CliRunner

from avowal.cli import app
from tests.factories import EXAMPLE_POLICY, ROOT, write_policy

runner = CliRunner()


def dead_recipient(d: dict[str, Any]) -> None:
    d["recipients"]["newsletter_house"] = {
        "name": "Newsletter sending service",
        "kind": "processor",
        "country": "US",
        "purposes": ["marketing.communications.email"],
        "categories": ["user.contact.email"],
    }


def mistyped_category(d: dict[str, Any]) -> None:
    d["collection_points"]["contact"]["fields"]["email"]["category"] = "user.contact.emial"


def test_text_lists_problems_then_warnings_and_a_count(tmp_path: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        dead_recipient(d)
        mistyped_category(d)

    path = write_policy(tmp_path, change)
    result = runner.invoke(app, ["policy", "check", str(path)])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert "collection_points.contact.fields.email.category: unknown data category " in lines[0]
    assert lines[1].startswith(f"{path}:")
    assert (
        ": warning: recipients.newsletter_house: recipient 'newsletter_house' is declared"
        in (lines[1])
    )
    assert lines[2] == f"{path}: 1 problem, 1 warning"
    assert result.stdout == ""


def test_warnings_alone_pass_unless_strict(tmp_path: Path) -> None:
    path = write_policy(tmp_path, dead_recipient)
    relaxed = runner.invoke(app, ["policy", "check", str(path)])
    assert relaxed.exit_code == 0, relaxed.output
    assert "valid policy of ContactMonkey" in relaxed.stdout
    assert relaxed.stderr.splitlines()[-1] == f"{path}: 1 warning"
    strict = runner.invoke(app, ["policy", "check", "--strict", str(path)])
    assert strict.exit_code == 1
    assert strict.stderr.splitlines()[-1] == f"{path}: 1 warning (refused by --strict)"


def test_strict_passes_a_clean_policy() -> None:
    result = runner.invoke(app, ["policy", "check", "--strict", str(EXAMPLE_POLICY)])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_json_reports_problems_with_their_suggestion(tmp_path: Path) -> None:
    path = write_policy(tmp_path, mistyped_category)
    result = runner.invoke(app, ["policy", "check", "--format", "json", str(path)])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    (problem,) = report["problems"]
    assert report["file"] == str(path)
    assert report["valid"] is False
    assert report["warnings"] == []
    assert problem["path"] == "collection_points.contact.fields.email.category"
    assert problem["suggestion"] == "user.contact.email"
    assert problem["message"].startswith(
        "unknown data category 'user.contact.emial' — did you mean 'user.contact.email'?"
    )
    assert isinstance(problem["line"], int)


def test_json_has_the_exit_code_of_text(tmp_path: Path) -> None:
    path = write_policy(tmp_path, dead_recipient)
    relaxed = runner.invoke(app, ["policy", "check", "-f", "json", str(path)])
    assert relaxed.exit_code == 0
    report = json.loads(relaxed.stdout)
    assert report["valid"] is True and report["problems"] == []
    assert [w["path"] for w in report["warnings"]] == ["recipients.newsletter_house"]
    assert report["warnings"][0]["suggestion"] is None
    strict = runner.invoke(app, ["policy", "check", "-f", "json", "--strict", str(path)])
    assert strict.exit_code == 1
    assert json.loads(strict.stdout) == report
    unreadable = runner.invoke(app, ["policy", "check", "-f", "json", str(tmp_path / "no.yaml")])
    assert unreadable.exit_code == 1
    assert json.loads(unreadable.stdout)["problems"][0]["message"].startswith(
        "cannot read the policy file"
    )


def test_a_missing_section_says_the_other_checks_wait(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("avowal: 1\n")
    result = runner.invoke(app, ["policy", "check", str(path)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{path}: (top level): required sections 'organisation', 'policy', 'purposes', 'staff', "
        "'changes' are missing (required sections: organisation, policy, purposes, staff, "
        "changes)",
        f"{path}: the other checks (taxonomy keys, cross-references, promises) run once the "
        "problems above are fixed",
        f"{path}: 1 problem",
    ]


def test_the_pre_commit_hook_runs_policy_check() -> None:
    (hook,) = YAML(typ="safe").load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "avowal-policy-check"
    assert hook["entry"] == "avowal policy check"
    assert hook["language"] == "python"
    files = re.compile(hook["files"])
    for name in ("policy.yaml", "site/policy.yml", "shop.policy.yaml"):
        assert files.search(name), name
    for name in ("docs/mkdocs.yaml", "policy.yaml.bak", ".pre-commit-config.yaml"):
        assert not files.search(name), name
    docs = (ROOT / "docs" / "policy-format.md").read_text()
    assert "avowal policy check --strict" in docs
    assert "avowal-policy-check" in docs
