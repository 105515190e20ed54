"""The `avowal policy`, `avowal init` and `avowal db` commands as a person runs them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from avowal.cli import app
from tests.factories import EXAMPLE_POLICY, write_policy

runner = CliRunner()


def test_check_accepts_the_example() -> None:
    result = runner.invoke(app, ["policy", "check", str(EXAMPLE_POLICY)])
    assert result.exit_code == 0, result.output
    assert "valid policy of ContactMonkey" in result.stdout


def test_check_lists_every_problem_with_location_and_promise(tmp_path: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["recipients"]["ad_network"] = {"name": "Ad network", "kind": "partner", "country": "US"}
        d["collection_points"]["purchase"]["recipients"].append("ad_network")
        del d["cookies"][2]["category"]

    path = write_policy(tmp_path, change)
    result = runner.invoke(app, ["policy", "check", str(path)])
    assert result.exit_code == 1
    err = result.stderr
    assert f"{path}:" in err
    assert "recipients.ad_network.kind: a recipient of kind 'partner'" in err
    assert "[breaks the promise: information is never shared, rented or sold" in err
    assert "cookies[2]: cookie 'cm_content' has no category" in err
    # Announced at purchase but declared for none of its data categories or purposes.
    assert "recipient 'ad_network' is announced here but declared for none of the data" in err
    assert err.rstrip().endswith("4 problems")


def test_check_reports_malformed_yaml_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text('organisation:\n  name: "unclosed\n')
    result = runner.invoke(app, ["policy", "check", str(path)])
    assert result.exit_code == 1
    assert f"{path}:3:1: (top level): malformed YAML" in result.stderr
    assert "Traceback" not in result.output


def test_check_reports_a_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["policy", "check", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "cannot read the policy file" in result.stderr


@pytest.mark.parametrize(("fmt", "marker"), [("html", "<!doctype html>"), ("md", "# ")])
def test_render_writes_the_page(tmp_path: Path, fmt: str, marker: str) -> None:
    out = tmp_path / f"privacy.{fmt}"
    result = runner.invoke(
        app, ["policy", "render", str(EXAMPLE_POLICY), "--format", fmt, "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.lower().startswith(marker.lower())
    assert "support@contactmonkey.com" in text
    if fmt == "html":
        assert 'href="privacy.css"' in text
        assert (tmp_path / "privacy.css").read_text().strip()
        # Its icon is written beside it, as its stylesheet is: no link to a server's /favicon.
        assert 'href="favicon.svg"' in text and 'href="/favicon' not in text
        assert (tmp_path / "favicon.svg").read_text().startswith("<svg")


def test_render_refuses_an_invalid_policy(tmp_path: Path) -> None:
    path = write_policy(
        tmp_path, lambda d: d["staff"]["roles"]["billing"]["purposes"].append("sales")
    )
    out = tmp_path / "privacy.html"
    result = runner.invoke(app, ["policy", "render", str(path), "-o", str(out)])
    assert result.exit_code == 1
    assert "staff.roles.billing.purposes[2]" in result.stderr
    assert not out.exists()


def test_init_writes_a_valid_starter_and_will_not_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "site"
    first = runner.invoke(app, ["init", str(target)])
    assert first.exit_code == 0, first.output
    check = runner.invoke(app, ["policy", "check", str(target / "policy.yaml")])
    assert check.exit_code == 0, check.output
    (target / "policy.yaml").write_text("# mine\n")
    again = runner.invoke(app, ["init", str(target)])
    assert again.exit_code == 1
    assert "use --force" in again.stderr
    assert (target / "policy.yaml").read_text() == "# mine\n"


def test_db_upgrade_creates_the_embedded_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AVOWAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("AVOWAL_DATABASE_URL", raising=False)
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "avowal.sqlite3").exists()
    current = runner.invoke(app, ["db", "current"])
    revision = current.stdout.split()[1]
    assert revision != "(none)"
    assert current.stdout.split()[3] == revision  # current == head
