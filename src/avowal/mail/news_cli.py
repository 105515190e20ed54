"""`avowal news send`: write to everyone who agreed to a purpose, with one-click unsubscribe."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from avowal.cli_support import database, fail, load_policy, load_secrets
from avowal.lib.errors import AvowalError
from avowal.mail import news
from avowal.settings import Settings

app = typer.Typer(help="News: messages for a purpose, to the people who agreed to it.")
# The role the audit names for a send from the command line (an operator on the server).
ROLE = "operator"


@app.callback()
def main() -> None:
    """News: messages for a purpose, to the people who agreed to it."""


@app.command("send")
def send(
    purpose: Annotated[str, typer.Option(help="The data use the message serves.")],
    subject: Annotated[str, typer.Option(help="The subject line.")],
    text_file: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="A UTF-8 file with the text.")
    ],
    by: Annotated[str, typer.Option(help="Who sends it (named in the audit).")],
) -> None:
    """Queue the message to each person who may get it; the mail worker delivers it."""
    settings = Settings()
    loaded = load_policy(settings.policy_file)
    secrets = load_secrets(settings)
    text = text_file.read_text(encoding="utf-8")
    with database(settings) as sessions, sessions() as session, session.begin():
        try:
            sent = news.send(
                session, loaded, secrets, settings, purpose, subject, text, by, role=ROLE
            )
        except AvowalError as exc:
            raise fail(exc.message) from None
    typer.echo(f"{sent.count} message(s) queued for {sent.purpose}")
