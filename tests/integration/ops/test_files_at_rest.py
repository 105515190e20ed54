"""Files at rest: the data folder 0700, the database, its journals and the keys 0600 (hole 7)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from avowal.audit import checkpoints
from avowal.cli import app as cli
from avowal.crypto import service as crypto
from avowal.crypto.exceptions import KeyError_
from avowal.crypto.keyring import Keyring
from avowal.db import migrate
from avowal.db.engine import make_engine
from avowal.settings import EXAMPLE_POLICY, Settings

REPO_ROOT = Path(__file__).resolve().parents[3]
runner = CliRunner()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Run with umask 000, the worst an operator can set: modes must not depend on it."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("open_umask")
def test_data_folder_database_journals_keys_and_checkpoints_are_private(
    db_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "fresh" / "data"
    settings = Settings(env="test", data_dir=data, database_url=db_url)
    if db_url.startswith("sqlite"):
        # The embedded database lives in the data folder, as it does by default.
        settings = settings.model_copy(update={"database_url": None})
    engine = make_engine(settings)
    try:
        migrate.upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text("SELECT 1"))
        secrets = crypto.load(settings)
        checkpoints.write(settings.checkpoint_path, secrets.signing_key, 1, "0" * 64)
        private_dirs = [data, data / "keys", settings.checkpoint_path]
        private_files = [
            settings.master_key_path,
            settings.index_key_path,
            settings.signing_key_path,
            *settings.checkpoint_path.iterdir(),
        ]
        if db_url.startswith("sqlite"):
            database = data / "avowal.sqlite3"
            # The WAL and its index exist while a connection is open.
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                private_files += [database, *data.glob("avowal.sqlite3-*")]
                assert {p.name for p in data.glob("avowal.sqlite3-*")} >= {
                    "avowal.sqlite3-wal",
                    "avowal.sqlite3-shm",
                }
                found = {p: mode(p) for p in private_files}
        else:
            assert not list(data.glob("*.sqlite3*"))
            found = {p: mode(p) for p in private_files}
        assert {p: mode(p) for p in private_dirs} == dict.fromkeys(private_dirs, 0o700)
        assert found == dict.fromkeys(private_files, 0o600)
    finally:
        engine.dispose()


@pytest.mark.usefixtures("open_umask")
def test_an_existing_database_and_journals_left_open_are_tightened(tmp_path: Path) -> None:
    database = tmp_path / "avowal.sqlite3"
    settings = Settings(env="test", data_dir=tmp_path)
    engine = make_engine(settings)
    migrate.upgrade(engine)
    engine.dispose()
    # As an earlier version (or a careless copy) left them.
    for file in (database, tmp_path / "avowal.sqlite3-wal", tmp_path / "avowal.sqlite3-shm"):
        file.touch()
        file.chmod(0o644)
    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            files = [database, *tmp_path.glob("avowal.sqlite3-*")]
            assert {p: mode(p) for p in files} == dict.fromkeys(files, 0o600)
    finally:
        engine.dispose()


def production_settings(tmp_path: Path) -> Settings:
    keys = tmp_path / "keys"
    Keyring.create(keys / "master.json", development=False)
    index, signing = keys / "index.key", keys / "signing.pem"
    crypto.load(
        Settings(
            env="development",
            data_dir=tmp_path / "scratch",
            index_key_file=index,
            signing_key_file=signing,
        )
    )
    return Settings(
        env="production",
        data_dir=tmp_path,
        master_key_file=keys / "master.json",
        index_key_file=index,
        signing_key_file=signing,
    )


@pytest.mark.parametrize("which", ["master_key_path", "index_key_path", "signing_key_path"])
@pytest.mark.parametrize("loose", [0o644, 0o640, 0o604], ids=lambda m: f"{m:04o}")
def test_production_refuses_a_key_file_others_can_read(
    tmp_path: Path, which: str, loose: int
) -> None:
    settings = production_settings(tmp_path)
    crypto.load(settings)  # private keys: accepted
    path: Path = getattr(settings, which)
    path.chmod(loose)
    with pytest.raises(KeyError_) as refused:
        crypto.load(settings)
    message = str(refused.value)
    assert str(path) in message
    assert f"chmod 600 {path}" in message
    assert f"{loose:04o}" in message
    # Refused, not repaired: the operator decides whether the key has to be replaced.
    assert mode(path) == loose


def test_serve_names_the_open_key_file_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = production_settings(tmp_path)
    settings.index_key_path.chmod(0o644)
    for name in list(os.environ):
        if name.startswith("AVOWAL_"):
            monkeypatch.delenv(name)
    env = {
        "AVOWAL_ENV": "production",
        "AVOWAL_DATA_DIR": str(tmp_path),
        "AVOWAL_POLICY_FILE": str(REPO_ROOT / EXAMPLE_POLICY),
        "AVOWAL_TRUSTED_PROXIES": '["127.0.0.1"]',
        "AVOWAL_PUBLIC_URL": "https://privacy.example.com",
        "AVOWAL_MASTER_KEY_FILE": str(settings.master_key_path),
        "AVOWAL_INDEX_KEY_FILE": str(settings.index_key_path),
        "AVOWAL_SIGNING_KEY_FILE": str(settings.signing_key_path),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = runner.invoke(cli, ["serve"])
    assert result.exit_code == 1
    assert f"chmod 600 {settings.index_key_path}" in result.output
    assert "Traceback" not in result.output


def test_development_closes_key_files_it_generated(tmp_path: Path) -> None:
    settings = Settings(env="development", data_dir=tmp_path)
    crypto.load(settings)
    settings.signing_key_path.chmod(0o644)
    crypto.load(settings)
    assert mode(settings.signing_key_path) == 0o600
