"""`avowal backup` and `avowal restore`: the database, and every erasure kept across a restore."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from avowal.backup import service
from avowal.cli_support import fail
from avowal.db.engine import make_engine
from avowal.settings import Settings
from avowal.vault import journal


def backup(
    folder: Annotated[Path, typer.Argument(help="A new (or empty) folder for the backup.")],
) -> None:
    """Back the database up into FOLDER (the keys are backed up apart: docs/keys.md)."""
    settings = Settings()
    engine = make_engine(settings)
    try:
        manifest = service.backup(engine, folder)
    except service.BackupError as exc:
        raise fail(str(exc)) from None
    finally:
        engine.dispose()
    typer.echo(
        f"backed up the {manifest.database} database (schema {manifest.schema}) to "
        f"{folder / manifest.file} at {manifest.made_at.isoformat()}"
    )
    typer.echo(
        f"keep the keys and the erasure journal ({journal.path_of(settings)}) backed up apart: "
        "a restore erases again everyone the journal names"
    )


def restore(
    folder: Annotated[Path, typer.Argument(help="A folder `avowal backup` wrote.")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Restore over a database that is not empty.")
    ] = False,
) -> None:
    """Restore the database from FOLDER (servers and worker stopped), upgrade its schema, then
    erase again everyone the erasure journal names."""
    settings = Settings()
    engine = make_engine(settings)
    try:
        done = service.restore(engine, settings, folder, replace=replace)
    except (service.BackupError, journal.JournalDamaged) as exc:
        raise fail(str(exc)) from None
    finally:
        engine.dispose()
    m = done.manifest
    typer.echo(f"restored the {m.database} database backed up at {m.made_at.isoformat()}")
    if done.upgraded_from != m.schema or done.upgraded_from is None:
        typer.echo(f"schema upgraded from {done.upgraded_from} to the current one")
    typer.echo(
        f"erasure journal: {done.journaled} erasures, {done.erased_again} of people the backup "
        "still held, erased again"
    )
