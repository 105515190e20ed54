"""`avowal keys backup` seals the keys and the erasure journal under a passphrase;
`avowal keys restore` puts them back, never replacing another key nor losing an erasure."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from avowal.cli import app as cli
from avowal.settings import Settings
from avowal.vault import journal

runner = CliRunner()
PASSPHRASE = "correct horse battery staple"


def _line(letter: str, day: int) -> str:
    subject = f"00000000-0000-4000-8000-00000000000{letter}"
    return json.dumps({"subject_id": subject, "erased_at": f"2026-11-{day:02d}T12:00:00+00:00"})


ERASED, LATER = _line("a", 1), _line("b", 2)


def _use(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AVOWAL_DATA_DIR", str(folder))
    return folder / "keys"


@pytest.fixture
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder with production keys and a journal of one erasure; its keys folder."""
    monkeypatch.chdir(tmp_path)
    for name in ("MASTER", "INDEX", "SIGNING"):
        monkeypatch.delenv(f"AVOWAL_{name}_KEY_FILE", raising=False)
    monkeypatch.delenv("AVOWAL_BACKUP_PASSPHRASE", raising=False)
    folder = _use(tmp_path / "data", monkeypatch)
    assert runner.invoke(cli, ["keys", "init"]).exit_code == 0
    (folder / journal.NAME).write_text(ERASED + "\n")
    (tmp_path / "pass").write_text(PASSPHRASE + "\n")
    return folder


def test_keys_are_sealed_and_restored_into_a_new_folder(
    keys: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sealed = tmp_path / "keys.sealed"
    made = runner.invoke(
        cli, ["keys", "backup", str(sealed), "--passphrase-file", str(tmp_path / "pass")]
    )
    assert made.exit_code == 0, made.output
    assert stat.S_IMODE(sealed.stat().st_mode) == 0o600
    blob = sealed.read_bytes()
    master = json.loads((keys / "master.json").read_text())
    for secret in [
        *(base64.b64decode(v) for v in master["keys"].values()),
        *master["keys"].values(),
        (keys / "index.key").read_text().strip().encode(),
        (keys / "signing.pem").read_bytes()[30:60],
        b"00000000-0000-4000-8000-00000000000a",
    ]:
        assert (secret.encode() if isinstance(secret, str) else secret) not in blob
    again = runner.invoke(
        cli, ["keys", "backup", str(sealed)], env={"AVOWAL_BACKUP_PASSPHRASE": PASSPHRASE}
    )
    assert again.exit_code == 1 and "never overwritten" in again.output

    # A new machine: nothing yet.
    fresh = _use(tmp_path / "new", monkeypatch)
    wrong = runner.invoke(
        cli, ["keys", "restore", str(sealed)], env={"AVOWAL_BACKUP_PASSPHRASE": "not the right one"}
    )
    assert wrong.exit_code == 1 and "does not open" in wrong.output
    assert not fresh.exists()
    done = runner.invoke(
        cli, ["keys", "restore", str(sealed), "--passphrase-file", str(tmp_path / "pass")]
    )
    assert done.exit_code == 0, done.output
    assert done.stdout.count("written") == 4
    for name in ("master.json", "index.key", "signing.pem", journal.NAME):
        assert (fresh / name).read_bytes() == (keys / name).read_bytes()
        assert stat.S_IMODE((fresh / name).stat().st_mode) == 0o600
    assert runner.invoke(cli, ["keys", "check"]).exit_code == 0

    # Restored over itself: the same keys are kept, the journal merged, no erasure lost or
    # noted twice.
    (fresh / journal.NAME).write_text(ERASED + "\n" + LATER + "\n")
    same = runner.invoke(
        cli, ["keys", "restore", str(sealed)], env={"AVOWAL_BACKUP_PASSPHRASE": PASSPHRASE}
    )
    assert same.exit_code == 0, same.output
    assert same.stdout.count("same") == 3 and "merged" in same.stdout
    assert [e.subject_id[-1] for e in journal.entries(fresh / journal.NAME)] == ["a", "b"]


def test_another_key_in_place_or_an_altered_backup_is_refused(
    keys: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sealed = tmp_path / "keys.sealed"
    env = {"AVOWAL_BACKUP_PASSPHRASE": PASSPHRASE}
    assert runner.invoke(cli, ["keys", "backup", str(sealed)], env=env).exit_code == 0
    short = runner.invoke(
        cli, ["keys", "backup", str(tmp_path / "x")], env={"AVOWAL_BACKUP_PASSPHRASE": "short"}
    )
    assert short.exit_code == 1 and "at least 12" in short.output
    assert not (tmp_path / "x").exists()
    other = _use(tmp_path / "other", monkeypatch)
    assert runner.invoke(cli, ["keys", "init"]).exit_code == 0
    before = (other / "master.json").read_bytes()
    refused = runner.invoke(cli, ["keys", "restore", str(sealed)], env=env)
    assert refused.exit_code == 1 and "is another key" in refused.output
    assert (other / "master.json").read_bytes() == before
    body = bytearray(sealed.read_bytes())
    body[-5] ^= 1
    (tmp_path / "altered").write_bytes(bytes(body))
    altered = runner.invoke(cli, ["keys", "restore", str(tmp_path / "altered")], env=env)
    assert altered.exit_code == 1 and "altered" in altered.output
    foreign = runner.invoke(cli, ["keys", "restore", str(tmp_path / "pass")], env=env)
    assert foreign.exit_code == 1 and "not a keys backup" in foreign.output
    assert "Traceback" not in refused.output + altered.output + foreign.output


def test_the_settings_journal_sits_beside_the_master_keyring(settings: Settings) -> None:
    assert journal.path_of(settings) == settings.master_key_path.parent / journal.NAME
