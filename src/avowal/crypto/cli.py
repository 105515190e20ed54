"""`avowal keys`: make and check the server's keys, and rotate the master key."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from avowal.backup import keys as keys_backup
from avowal.cli_support import database, fail, load_secrets
from avowal.crypto import setup
from avowal.crypto.exceptions import KeyError_
from avowal.crypto.setup import Finding
from avowal.settings import Settings
from avowal.vault.rotation import rotate

app = typer.Typer(
    help="Make, check and rotate the server's keys (master keyring, blind-index key, signing key).",
    no_args_is_help=True,
)


@app.command("init")
def init(
    folder: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Folder for the three key files (master.json, index.key, signing.pem); "
            "default: where the settings read them (AVOWAL_*_KEY_FILE, or DATA_DIR/keys/).",
        ),
    ] = None,
) -> None:
    """Make every key production needs that is missing (none is ever overwritten), readable by
    its owner only; print where each is and what to back up."""
    settings = Settings()
    try:
        made = setup.init(settings, folder)
    except KeyError_ as exc:
        raise fail(str(exc)) from None
    for m in made:
        state = "made" if m.created else "kept"
        typer.echo(f"{state} {m.key.name:<16} {m.key.path}  ({m.fingerprint})")
    if folder is not None:
        typer.echo("\nSet in the server's and the worker's environment:")
        for m in made:
            typer.echo(f"  {m.key.setting}={m.key.path.resolve()}")
    typer.echo(
        "\nBack these files up now, and apart from the database's backups (a key kept beside "
        "the data it protects protects nothing):"
    )
    for m in made:
        typer.echo(f"  {m.key.name}: lost, {m.key.loss}")
    typer.echo("`avowal keys check` checks them as production loads them; docs/keys.md.")


@app.command("check")
def check_cmd() -> None:
    """Check the keys as production loads them, and that the master keyring opens the data keys
    the database holds; exit 1 naming every problem."""
    settings = Settings()
    try:
        with database(settings, read_only=True) as sessions:
            found = setup.check(settings, sessions)
    except typer.Exit:  # the schema is not current, as stderr says: a new deployment's keys
        found = [
            *setup.check(settings, None),
            Finding("data keys: not checked, the database is not migrated (`avowal db upgrade`)"),
        ]
    except SQLAlchemyError as exc:
        reason = type(exc).__name__
        found = [
            *setup.check(settings, None),
            Finding("data keys", f"database unreachable ({reason})"),
        ]
    problems = [f for f in found if f.problem is not None]
    for f in found:
        if f.problem is None:
            typer.echo(f"ok       {f.what}")
        else:
            typer.echo(f"PROBLEM  {f.what}: {f.problem}")
    if problems:
        raise fail(f"{len(problems)} key problem{'s' if len(problems) != 1 else ''}")
    typer.echo("the keys are ready for production")


PassphraseFile = Annotated[
    Path | None,
    typer.Option(
        help="A file whose first line is the passphrase; default: AVOWAL_BACKUP_PASSPHRASE, "
        "else asked for."
    ),
]


def _passphrase(given: Path | None, *, confirm: bool) -> str:
    if given is not None:
        try:
            return given.read_text(encoding="utf-8").splitlines()[0] if given.stat().st_size else ""
        except OSError as exc:
            raise fail(f"{given} cannot be read: {exc.strerror}") from None
    found = os.environ.get("AVOWAL_BACKUP_PASSPHRASE")
    if found:
        return found
    return str(typer.prompt("passphrase", hide_input=True, confirmation_prompt=confirm))


@app.command("backup")
def backup_cmd(
    output: Annotated[Path, typer.Argument(help="The new file of the encrypted backup.")],
    passphrase_file: PassphraseFile = None,
) -> None:
    """Write the three keys and the erasure journal to OUTPUT, encrypted under a passphrase;
    keep it apart from the database's backups, and the passphrase apart from both."""
    settings = Settings()
    try:
        held = keys_backup.seal(settings, _passphrase(passphrase_file, confirm=True), output)
    except keys_backup.KeysBackupError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"wrote {output}: {', '.join(held)}, encrypted (scrypt, AES-256-GCM)")


@app.command("restore")
def restore_cmd(
    sealed: Annotated[Path, typer.Argument(help="A file `avowal keys backup` wrote.")],
    passphrase_file: PassphraseFile = None,
) -> None:
    """Put the keys of a keys backup where the settings read them (an existing key is kept only
    when it is the same) and merge its erasure journal into the one in place."""
    settings = Settings()
    try:
        done = keys_backup.unseal(settings, _passphrase(passphrase_file, confirm=False), sealed)
    except keys_backup.KeysBackupError as exc:
        raise fail(str(exc)) from None
    for name, how in done.files.items():
        typer.echo(f"{how:<8} {name}")
    typer.echo("`avowal keys check` next, then `avowal restore` for the database")


@app.command("rotate")
def rotate_cmd(
    batch: Annotated[int, typer.Option(min=1, max=10000, help="Data keys per transaction.")] = 500,
) -> None:
    """Rewrap every data key under a new master key; the old one is dropped afterwards."""
    settings = Settings()
    secrets = load_secrets(settings)
    with database(settings) as sessions:
        result = rotate(sessions, secrets.keyring, actor=f"cli:{getpass.getuser()}", batch=batch)
    typer.echo(
        f"{result.rewrapped} data keys rewrapped under {result.new_key_id}; "
        f"dropped {', '.join(result.dropped) or 'no old keys'}"
    )
