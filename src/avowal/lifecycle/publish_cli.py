"""`avowal policy publish`: store a new version, announced before it takes effect."""

from __future__ import annotations

import datetime as dt
import getpass
from pathlib import Path
from typing import Annotated

import typer

from avowal.cli_support import database, fail, load_policy
from avowal.lib import clock
from avowal.lib.errors import AvowalError
from avowal.lifecycle import service
from avowal.promises import service as promises
from avowal.settings import Settings


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"'{value}' is not a date (YYYY-MM-DD)") from None


def publish(
    file: Annotated[Path, typer.Argument(help="The policy YAML file to publish.")],
    effective: Annotated[
        str | None,
        typer.Option(
            help="The day it takes effect (YYYY-MM-DD); must match the file's policy.effective.",
        ),
    ] = None,
    summary: Annotated[
        str | None, typer.Option(help="A sentence saying what changes, shown with the version.")
    ] = None,
    by: Annotated[
        str | None, typer.Option(help="Who publishes it (default: the current user).")
    ] = None,
) -> None:
    """Publish a policy version; a future effective date announces it before it applies."""
    day = _day(effective) if effective is not None else None
    loaded = load_policy(file)
    settings = Settings()
    publisher = by or getpass.getuser()
    if summary is not None and not summary.strip():
        raise fail("--summary is empty; leave it out or say what changes")
    production = settings.env == "production"
    with database(settings) as sessions, sessions() as session, session.begin():
        if production:
            # Nothing is published that this server does not keep (the promise ledger).
            try:
                promises.check_kept(settings, loaded, promises.attestations(session))
            except promises.PromisesNotKept as exc:
                raise fail(f"{file}: not published: {exc}") from None
        try:
            version = service.publish(
                session,
                loaded,
                by=publisher,
                effective=day,
                summary=summary.strip() if summary else None,
                production=production,
            )
        except AvowalError as exc:
            raise fail(f"{file}: not published: {exc.message}") from None
        at = clock.aware(version.effective_at)
        announced = at > clock.now()
        material = sum(1 for c in version.changes if c.get("material") is True)
        what = (
            f"{len(version.changes)} change(s), {material} material"
            if version.previous_id
            else "first version"
        )
        typer.echo(
            f"published version {version.version_id[:12]} ({what}); "
            + (
                f"announced: servers switch to it at {at.isoformat()}"
                if announced
                else "in effect now"
            )
        )
