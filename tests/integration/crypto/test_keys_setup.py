"""`avowal keys init` makes every key production needs, and `avowal keys check` checks them."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from avowal.cli import app as cli
from avowal.crypto import service as crypto
from avowal.crypto import setup
from avowal.crypto.keyring import Keyring
from avowal.settings import Settings

runner = CliRunner()
NAMES = ["index.key", "master.json", "signing.pem"]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder holding nothing yet, which the command line uses."""
    data = tmp_path / "data"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AVOWAL_DATA_DIR", str(data))
    for name in ("MASTER", "INDEX", "SIGNING"):
        monkeypatch.delenv(f"AVOWAL_{name}_KEY_FILE", raising=False)
    return data


def test_init_makes_every_production_key_private_and_never_overwrites_one(
    fresh: Path, settings: Settings
) -> None:
    made = runner.invoke(cli, ["keys", "init"])
    assert made.exit_code == 0, made.output
    keys = fresh / "keys"
    assert sorted(p.name for p in keys.iterdir()) == NAMES
    assert _mode(keys) == 0o700
    assert all(_mode(p) == 0o600 for p in keys.iterdir())
    for line in ("made master keyring", "made blind-index key", "made signing key"):
        assert line in made.stdout
    assert "every person's data is lost with it" in made.stdout  # what to back up, and why
    # Production loads them as they are.
    production = settings.model_copy(update={"env": "production", "data_dir": fresh})
    loaded = crypto.load(production)
    assert not loaded.keyring.development
    assert f"({loaded.keyring.current})" in made.stdout
    assert f"({loaded.signing_key_id})" in made.stdout
    before = {p.name: p.read_bytes() for p in keys.iterdir()}
    again = runner.invoke(cli, ["keys", "init"])
    assert again.exit_code == 0, again.output
    states = [line.split()[0] for line in again.stdout.splitlines()[:3]]
    assert states == ["kept"] * 3 and "made " not in again.stdout
    assert {p.name: p.read_bytes() for p in keys.iterdir()} == before
    checked = runner.invoke(cli, ["keys", "check"])
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.count("ok ") >= 3 and "ready for production" in checked.stdout


def test_init_refuses_a_development_keyring_and_makes_nothing(
    fresh: Path, settings: Settings
) -> None:
    keys = fresh / "keys"
    Keyring.create(keys / "master.json", development=True)
    refused = runner.invoke(cli, ["keys", "init"])
    assert refused.exit_code == 1
    assert "development master keyring" in refused.output and "Traceback" not in refused.output
    assert sorted(p.name for p in keys.iterdir()) == ["master.json"]


def test_init_in_a_folder_prints_the_settings_that_name_it(fresh: Path, tmp_path: Path) -> None:
    folder = tmp_path / "etc" / "avowal"
    made = runner.invoke(cli, ["keys", "init", "--dir", str(folder)])
    assert made.exit_code == 0, made.output
    assert sorted(p.name for p in folder.iterdir()) == NAMES
    for setting, name in (
        ("AVOWAL_MASTER_KEY_FILE", "master.json"),
        ("AVOWAL_INDEX_KEY_FILE", "index.key"),
        ("AVOWAL_SIGNING_KEY_FILE", "signing.pem"),
    ):
        assert f"{setting}={folder / name}" in made.stdout
    assert not (fresh / "keys").exists()  # the data folder's keys are not made


def test_check_names_every_problem_at_once(fresh: Path) -> None:
    assert runner.invoke(cli, ["keys", "init"]).exit_code == 0
    keys = fresh / "keys"
    (keys / "master.json").chmod(0o644)
    (keys / "index.key").write_text("not a key\n")
    (keys / "signing.pem").unlink()
    checked = runner.invoke(cli, ["keys", "check"])
    assert checked.exit_code == 1
    out = checked.output
    assert "Traceback" not in out
    assert f"chmod 600 {keys / 'master.json'}" in out
    assert "index key file" in out and "not base64" in out
    assert "signing key file" in out and "does not exist" in out
    assert "3 key problems" in out
    # init would not make the missing one beside a damaged one.
    assert runner.invoke(cli, ["keys", "init"]).exit_code == 1
    assert not (keys / "signing.pem").exists()


def test_check_opens_the_data_keys_the_database_holds(
    app: FastAPI, registered: dict[str, Any], settings: Settings, tmp_path: Path
) -> None:
    sessions = app.state.sessionmaker
    # The app's own keyring (a development one, which production refuses) opens its people's keys.
    found = {f.what.split(" (")[0]: f.problem for f in setup.check(settings, sessions)}
    assert "development master keyring" in str(found[f"master keyring {settings.master_key_path}"])
    ring = app.state.secrets.keyring
    assert found[f"data keys of 1 people wrapped by {ring.current}"] is None
    # Another keyring does not: the people wrapped by a key it lacks are named, with the cost.
    other = Keyring.create(tmp_path / "other.json", development=False)
    elsewhere = settings.model_copy(update={"master_key_file": other.path})
    problems = [f for f in setup.check(elsewhere, sessions) if f.problem is not None]
    assert [f.problem for f in problems] == [
        f"{ring.current} is not in the keyring: their data cannot be read"
    ]
    # A keyring file whose key is not the one its id names is refused as damaged.
    forged = Keyring(tmp_path / "forged.json", ring.current, {ring.current: b"\0" * 32})
    forged.save()
    damaged = settings.model_copy(update={"master_key_file": forged.path})
    assert [f.problem for f in setup.check(damaged, sessions) if f.problem] == [
        f"master key file {forged.path}: key {ring.current} is damaged"
    ]
