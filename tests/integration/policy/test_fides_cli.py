"""`avowal policy export --format fides` and `avowal policy import-fides` as a person runs them."""

from __future__ import annotations

import json
from pathlib import Path

from fideslang.models import Dataset, System
from ruamel.yaml import YAML
from typer.testing import CliRunner

from avowal.cli import app
from tests.factories import EXAMPLE_POLICY
from tests.unit.test_policy_fides import EXPECTED_GAPS

runner = CliRunner()


def export(tmp_path: Path) -> Path:
    out = tmp_path / "fides.yaml"
    result = runner.invoke(
        app, ["policy", "export", "--format", "fides", str(EXAMPLE_POLICY), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.stdout
    return out


def test_export_writes_a_manifest_fideslang_accepts(tmp_path: Path) -> None:
    out = export(tmp_path)
    manifest = YAML(typ="safe").load(out.read_text())
    assert len(manifest["system"]) == 3  # the organisation's and its two recipients'
    for entry in manifest["system"]:
        System.model_validate(entry)
    for entry in manifest["dataset"]:
        Dataset.model_validate(entry)
    # Without -o, the same manifest on standard output.
    shown = runner.invoke(app, ["policy", "export", "-f", "fides", str(EXAMPLE_POLICY)])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout == out.read_text()


def test_export_refuses_an_unknown_format_or_an_invalid_policy(tmp_path: Path) -> None:
    result = runner.invoke(app, ["policy", "export", "--format", "onetrust", str(EXAMPLE_POLICY)])
    assert result.exit_code == 1
    assert "unknown format 'onetrust': the formats are fides" in result.stderr
    bad = tmp_path / "policy.yaml"
    bad.write_text("avowal: 1\n")
    refused = runner.invoke(app, ["policy", "export", "--format", "fides", str(bad)])
    assert refused.exit_code == 1
    assert "organisation" in refused.stderr
    assert refused.stdout == ""


def test_import_writes_a_starter_whose_check_lists_the_gaps(tmp_path: Path) -> None:
    manifest = export(tmp_path)
    policy = tmp_path / "site" / "policy.yaml"
    result = runner.invoke(app, ["policy", "import-fides", str(manifest), "-o", str(policy)])
    assert result.exit_code == 0, result.output
    assert (
        f"wrote {policy}: a starter policy of ContactMonkey from the Fides system "
        f"'contactmonkey' (3 collection points, 2 recipients); {len(EXPECTED_GAPS)} gaps"
    ) in result.stdout
    assert "# FILL IN: the day it takes effect" in policy.read_text()

    check = runner.invoke(app, ["policy", "check", str(policy)])
    assert check.exit_code == 1
    for location in EXPECTED_GAPS:
        assert f": {location}: " in check.stderr, location
    assert check.stderr.rstrip().endswith(f"{len(EXPECTED_GAPS)} problems")
    as_json = runner.invoke(app, ["policy", "check", "--format", "json", str(policy)])
    found = json.loads(as_json.stdout)["problems"]
    assert sorted(p["path"] for p in found) == sorted(EXPECTED_GAPS)


def test_import_will_not_overwrite_without_force(tmp_path: Path) -> None:
    manifest = export(tmp_path)
    policy = tmp_path / "policy.yaml"
    policy.write_text("# mine\n")
    again = runner.invoke(app, ["policy", "import-fides", str(manifest), "-o", str(policy)])
    assert again.exit_code == 1
    assert "use --force" in again.stderr
    assert policy.read_text() == "# mine\n"
    forced = runner.invoke(
        app, ["policy", "import-fides", str(manifest), "-o", str(policy), "--force"]
    )
    assert forced.exit_code == 0, forced.output
    assert policy.read_text().startswith("# A starter avowal policy")


def test_import_names_what_makes_a_file_no_manifest(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    refused = runner.invoke(app, ["policy", "import-fides", str(EXAMPLE_POLICY), "-o", str(policy)])
    assert refused.exit_code == 1
    assert "a Fides system manifest lists its systems under `system:`" in refused.stderr
    assert "nothing written" in refused.stderr
    assert not policy.exists()

    broken = tmp_path / "fides.yaml"
    broken.write_text("system:\n  - fides_key: shop\n    privacy_declarations: []\n")
    result = runner.invoke(app, ["policy", "import-fides", str(broken), "-o", str(policy)])
    assert result.exit_code == 1
    assert f"{broken}:2:5: system[0].system_type: Field required" in result.stderr
    assert not policy.exists()

    missing = runner.invoke(
        app, ["policy", "import-fides", str(tmp_path / "nope.yaml"), "-o", str(policy)]
    )
    assert missing.exit_code == 1
    assert "cannot read the manifest" in missing.stderr
