"""`avowal keys`: create and rotate the master key."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from avowal.cli_support import database, fail, load_secrets
from avowal.crypto.keyring import Keyring
from avowal.settings import Settings
from avowal.vault.rotation import rotate

app = typer.Typer(help="Manage the master key.", no_args_is_help=True)


@app.command("init")
def init(output: Annotated[Path, typer.Option(help="Where to write the new keyring.")]) -> None:
    """Create a production master keyring (then set AVOWAL_MASTER_KEY_FILE to it)."""
    if output.exists():
        raise fail(f"{output} exists; a master key is never overwritten")
    ring = Keyring.create(output, development=False)
    if ring.development:
        raise fail(f"{output} appeared meanwhile and holds a development key")
    typer.echo(f"wrote master key {ring.current} to {output}")


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
