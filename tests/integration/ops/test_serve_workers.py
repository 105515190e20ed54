"""`avowal serve --workers N` needs PostgreSQL: the embedded SQLite database is served by one
process, which does the background work itself (tests/integration/ops/test_deploy.py serves two
processes on PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from avowal.cli import app as cli
from avowal.db import migrate
from avowal.db.engine import make_engine
from avowal.settings import Settings

runner = CliRunner()


def test_several_processes_on_sqlite_are_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AVOWAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("AVOWAL_DATABASE_URL", raising=False)
    policy = Path(__file__).resolve().parents[3] / "examples" / "contactmonkey-2017" / "policy.yaml"
    monkeypatch.setenv("AVOWAL_POLICY_FILE", str(policy))
    engine = make_engine(Settings())
    migrate.upgrade(engine)
    engine.dispose()
    refused = runner.invoke(cli, ["serve", "--workers", "2", "--port", "1"])
    assert refused.exit_code == 1
    assert "--workers needs PostgreSQL" in refused.output and "Traceback" not in refused.output
    zero = runner.invoke(cli, ["serve", "--workers", "0"])
    assert zero.exit_code == 2  # a usage error, named by the option's range
