"""Wiring shared by the command-line modules: policy, keys and database, or exit 1 saying why."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from sqlalchemy.orm import Session, sessionmaker

from avowal.crypto import service as crypto
from avowal.crypto.exceptions import KeyError_
from avowal.crypto.service import Secrets
from avowal.db import migrate
from avowal.db.engine import make_engine, make_read_sessionmaker, make_sessionmaker
from avowal.policy.exceptions import PolicyInvalid
from avowal.policy.loader import LoadedPolicy, load_file
from avowal.settings import Settings


def fail(message: str) -> typer.Exit:
    """Print an error for a person and return the exit to raise."""
    typer.echo(message, err=True)
    return typer.Exit(1)


def load_policy(path: Path) -> LoadedPolicy:
    """Load a policy file or exit 1 printing every problem."""
    try:
        return load_file(path)
    except PolicyInvalid as exc:
        for problem in exc.problems:
            typer.echo(problem.render(str(path)), err=True)
        count = len(exc.problems)
        raise fail(f"{path}: {count} problem{'s' if count != 1 else ''}") from None


def load_secrets(settings: Settings) -> Secrets:
    """Load the keys or exit 1 naming the key problem."""
    try:
        return crypto.load(settings)
    except KeyError_ as exc:
        raise fail(str(exc)) from None


@contextmanager
def database(
    settings: Settings | None = None, *, read_only: bool = False
) -> Iterator[sessionmaker[Session]]:
    """Yield a session factory on the migrated database, or exit 1 saying to migrate.

    ``read_only`` sessions never hold up the server's writers (see make_read_sessionmaker).
    """
    settings = settings or Settings()
    engine = make_engine(settings)
    try:
        if migrate.current(engine) != migrate.head(engine):
            raise fail("the database schema is not current: run `avowal db upgrade` first")
        yield make_read_sessionmaker(engine) if read_only else make_sessionmaker(engine)
    finally:
        engine.dispose()
