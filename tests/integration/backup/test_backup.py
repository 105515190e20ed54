"""Backups restore, and a restore never brings back a person erased after the backup was made:
the erasure journal is re-applied (on SQLite and PostgreSQL; checked in the rows and, on SQLite,
in the database's files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select, text
from typer.testing import CliRunner

from avowal.audit.models import AuditEntry
from avowal.backup import service
from avowal.cli import app as cli
from avowal.client import Client
from avowal.db import migrate
from avowal.settings import Settings
from avowal.vault import journal
from avowal.vault.models import BlindIndex, Subject
from tests import stored
from tests.factories import REGISTRATION

runner = CliRunner()


def _engine(app: FastAPI) -> Engine:
    engine = app.state.sessionmaker.kw["bind"]
    assert isinstance(engine, Engine)
    return engine


def _secrets_of(app: FastAPI, subject_id: str) -> list[bytes]:
    """The bytes that would make a person readable or findable: their wrapped key and their
    blind-index digests."""
    with app.state.sessionmaker() as session:
        subject = session.get(Subject, subject_id)
        assert subject is not None and subject.wrapped_key is not None
        digests = session.scalars(
            select(BlindIndex.digest).where(BlindIndex.subject_id == subject_id)
        ).all()
    assert digests
    return [subject.wrapped_key, *digests]


def _table_files(app: FastAPI, tables: tuple[str, ...]) -> bytes:
    """Return the bytes of these PostgreSQL tables' files as they are on disk, dead row versions
    included (after a checkpoint writes out what the buffers hold)."""
    with _engine(app).connect() as conn:
        conn.execute(text("CHECKPOINT"))
        return b"".join(
            bytes(
                conn.execute(
                    text("SELECT pg_read_binary_file(pg_relation_filepath(CAST(:t AS regclass)))"),
                    {"t": table},
                ).scalar_one()
            )
            for table in tables
        )


def test_a_restore_erases_again_everyone_erased_after_the_backup(
    app: FastAPI,
    backend: Client,
    registered: dict[str, Any],
    settings: Settings,
    tmp_path: Path,
) -> None:
    ada = registered["subject_id"]
    eve = backend.collect("registration", {**REGISTRATION, "email": "eve@example.com"}, ref="eve")[
        "subject_id"
    ]
    earlier = backend.collect(
        "registration", {**REGISTRATION, "email": "bo@example.com"}, ref="bo"
    )["subject_id"]
    backend.erase(earlier)  # erased before the backup: in the journal, and erased in the backup
    eves = _secrets_of(app, eve)
    engine = _engine(app)
    made = service.backup(engine, tmp_path / "backup")
    assert made.schema == migrate.head(engine)
    assert (tmp_path / "backup" / made.file).stat().st_mode & 0o077 == 0
    backup_bytes = (tmp_path / "backup" / made.file).read_bytes()
    if made.database == "sqlite":  # the backup holds Eve's key: that is what the journal is for
        assert eves[0] in backup_bytes
    backend.erase(eve)
    later = backend.collect("registration", {**REGISTRATION, "email": "cy@example.com"}, ref="cy")[
        "subject_id"
    ]
    noted = [e.subject_id for e in journal.entries(journal.path_of(settings))]
    assert noted == [earlier, eve]

    with pytest.raises(service.BackupError, match="not empty"):
        service.restore(engine, settings, tmp_path / "backup", replace=False)
    done = service.restore(engine, settings, tmp_path / "backup", replace=True)
    assert (done.erased_again, done.journaled) == (1, 2)

    # Eve stays erased; Ada is back as she was; Cy, collected after the backup, is not there.
    with app.state.sessionmaker() as session:
        rows = {s.id: s for s in session.scalars(select(Subject))}
    assert rows[eve].erased_at is not None and rows[eve].wrapped_key is None
    assert rows[earlier].wrapped_key is None
    assert later not in rows
    assert (
        backend.read(ada, purpose="essential.service.authentication", fields=["name"])["values"][
            "name"
        ]["value"]
        == "Ada Example"
    )
    # The erasure made again is audited, by the restore, saying why.
    with app.state.sessionmaker() as session:
        redone = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "erase", AuditEntry.subject_id == eve)
        ).all()
    assert [(e.actor, e.role) for e in redone] == [(service.ACTOR, "operator")]
    assert redone[0].reason is not None and redone[0].reason.endswith(", after the backup")
    raw = stored.everything(app, settings)
    for secret in eves:
        assert secret not in raw
    if made.database == "postgresql":  # nor in the files of the tables that held them
        files = _table_files(app, ("subjects", "blind_index"))
        for secret in eves:
            assert secret not in files
    # Restored again (the same backup, the same journal): nobody is erased twice.
    again = service.restore(engine, settings, tmp_path / "backup", replace=True)
    assert (again.erased_again, again.journaled) == (1, 2)
    assert [e.subject_id for e in journal.entries(journal.path_of(settings))] == noted


def test_a_damaged_or_foreign_backup_is_refused_and_nothing_is_touched(
    app: FastAPI, registered: dict[str, Any], settings: Settings, tmp_path: Path
) -> None:
    engine = _engine(app)
    made = service.backup(engine, tmp_path / "b")
    with pytest.raises(service.BackupError, match="new folder"):
        service.backup(engine, tmp_path / "b")
    data = tmp_path / "b" / made.file
    body = bytearray(data.read_bytes())
    body[len(body) // 2] ^= 0xFF
    data.write_bytes(bytes(body))
    with pytest.raises(service.BackupError, match="damaged"):
        service.restore(engine, settings, tmp_path / "b", replace=True)
    manifest = json.loads((tmp_path / "b" / service.MANIFEST).read_text())
    other = "postgresql" if manifest["database"] == "sqlite" else "sqlite"
    manifest.update(database=other, file=service.FILES[other])
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / service.FILES[other]).write_bytes(b"x")
    manifest["sha256"] = service._digest(tmp_path / "c" / service.FILES[other])
    (tmp_path / "c" / service.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(service.BackupError, match=f"backup is of a {other} database"):
        service.restore(engine, settings, tmp_path / "c", replace=True)
    with pytest.raises(service.BackupError, match="not a backup"):
        service.restore(engine, settings, tmp_path, replace=True)
    with app.state.sessionmaker() as session:  # the database was never touched
        assert session.get(Subject, registered["subject_id"]) is not None


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_commands_back_up_and_restore_into_a_new_data_folder(
    app: FastAPI,
    registered: dict[str, Any],
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AVOWAL_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("AVOWAL_DATABASE_URL", raising=False)
    made = runner.invoke(cli, ["backup", str(tmp_path / "nightly")])
    assert made.exit_code == 0, made.output
    assert "backed up the sqlite database" in made.stdout
    assert str(journal.path_of(settings)) in made.stdout
    fresh = tmp_path / "fresh"
    monkeypatch.setenv("AVOWAL_DATA_DIR", str(fresh))
    # The keys and the journal come from their own backup (here: copied).
    keys = settings.master_key_path.parent
    (fresh / "keys").mkdir(parents=True, mode=0o700)
    for key in keys.iterdir():
        (fresh / "keys" / key.name).write_bytes(key.read_bytes())
        (fresh / "keys" / key.name).chmod(0o600)
    done = runner.invoke(cli, ["restore", str(tmp_path / "nightly")])
    assert done.exit_code == 0, done.output
    assert "restored the sqlite database" in done.stdout
    refused = runner.invoke(cli, ["restore", str(tmp_path / "nightly")])
    assert refused.exit_code == 1 and "--replace" in refused.output
    missing = runner.invoke(cli, ["restore", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "not a backup" in missing.output
    assert "Traceback" not in refused.output + missing.output
