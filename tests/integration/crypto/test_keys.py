"""Master-key rotation without downtime, and the refusal of development keys in production."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from typer.testing import CliRunner

from avowal.cli import app as cli
from avowal.client import Client
from avowal.crypto import service as crypto
from avowal.crypto.exceptions import KeyError_
from avowal.crypto.keyring import Keyring
from avowal.settings import Settings
from avowal.vault.models import Subject
from avowal.vault.rotation import rotate
from tests.factories import REGISTRATION

runner = CliRunner()


def test_rotation_rewraps_every_key_and_the_old_master_key_is_no_longer_needed(
    app: FastAPI, backend: Client, registered: dict[str, Any], settings: Settings
) -> None:
    others = [
        backend.collect(
            "registration", {**REGISTRATION, "email": f"p{i}@example.com"}, ref=f"person-{i}"
        )["subject_id"]
        for i in range(5)
    ]
    ring: Keyring = app.state.secrets.keyring
    old = ring.current
    # Rotate with a second handle on the keyring file, as `avowal keys rotate` would.
    result = rotate(
        app.state.sessionmaker, Keyring.load(settings.master_key_path), actor="test", batch=2
    )
    assert result.rewrapped == 6
    assert result.dropped == [old]
    on_disk = json.loads(settings.master_key_path.read_text())
    assert list(on_disk["keys"]) == [result.new_key_id]
    with app.state.sessionmaker() as s:
        assert set(s.scalars(select(Subject.key_id))) == {result.new_key_id}
    # The running server never restarted: it reloads the keyring and reads everyone.
    for sid in [registered["subject_id"], *others]:
        data = backend.read(sid, purpose="essential.service.authentication", fields=["name"])
        assert data["values"]["name"]["value"] == "Ada Example"
    new = backend.collect("registration", REGISTRATION, ref="after-rotation")
    with app.state.sessionmaker() as s:
        row = s.get(Subject, new["subject_id"])
        assert row is not None and row.key_id == result.new_key_id


def test_keys_rotate_command(
    app: FastAPI, registered: dict[str, Any], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AVOWAL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AVOWAL_DATABASE_URL", settings.effective_database_url)
    out = runner.invoke(cli, ["keys", "rotate"])
    assert out.exit_code == 0, out.output
    assert "1 data keys rewrapped" in out.stdout


def test_production_refuses_the_development_master_key(settings: Settings) -> None:
    crypto.load(settings)  # generates development keys
    production = settings.model_copy(update={"env": "production"})
    with pytest.raises(KeyError_, match="development master key"):
        crypto.load(production)


def test_production_needs_key_files_and_never_generates_them(
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
    as_role: Callable[[str], Client],
) -> None:
    empty = tmp_path_factory.mktemp("prod")
    production = settings.model_copy(update={"env": "production", "data_dir": empty})
    with pytest.raises(KeyError_, match="does not exist"):
        crypto.load(production)
    assert not any(empty.iterdir())
    ring = Keyring.create(empty / "master.json", development=False)
    with pytest.raises(KeyError_, match="index key file"):
        crypto.load(production.model_copy(update={"master_key_file": ring.path}))


def test_servers_starting_together_agree_on_one_set_of_development_keys(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    folder = tmp_path_factory.mktemp("shared")
    shared = settings.model_copy(update={"data_dir": folder})
    with ThreadPoolExecutor(8) as pool:
        loaded = list(pool.map(lambda _: crypto.load(shared), range(8)))
    assert len({s.keyring.current for s in loaded}) == 1
    assert len({s.index_key for s in loaded}) == 1
    assert len({s.signing_key_id for s in loaded}) == 1
    assert sorted(p.name for p in (folder / "keys").iterdir()) == [
        "index.key",
        "master.json",
        "signing.pem",
    ]
