"""`avowal review`: the internal review, as a printable page or as JSON."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from avowal.cli_support import database, fail, load_policy, load_secrets
from avowal.lib import clock
from avowal.review import render
from avowal.review import service as review_service
from avowal.settings import Settings


class Format(StrEnum):
    html = "html"
    json = "json"


def _date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise fail(f"--since must be a date as YYYY-MM-DD, not '{text}'") from None
    if day > clock.now().date():
        raise fail(f"--since {text} is in the future")
    return day


def review(
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.html,
    since: Annotated[
        str | None,
        typer.Option(help="Review the period from this day (YYYY-MM-DD); default: everything."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here, not stdout.")
    ] = None,
) -> None:
    """Produce the internal review: inventory, accesses, anomalies, accounts, audit chain."""
    start = _date(since)
    settings = Settings()
    loaded = load_policy(settings.policy_file)
    secrets = load_secrets(settings)
    # Committed: the review's audit-chain check is recorded (the policy page shows the last).
    with database(settings) as sessions, sessions.begin() as session:
        result = review_service.build(
            session, loaded, settings, public_key=secrets.signing_key.public_key(), since=start
        )
    if fmt is Format.json:
        text = render.render_json(result)
    else:
        # One file with its styles inlined: it looks the same opened from disk, mailed or
        # printed offline, wherever it is saved and whatever its name.
        text = render.render_standalone_html(result)
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror}") from None
    typer.echo(f"wrote {out}")
