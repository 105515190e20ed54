"""`avowal news send`: a message of a declared kind to everyone who agreed to its purpose."""

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
    subject: Annotated[str, typer.Option(help="The subject line.")],
    text_file: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="A UTF-8 file with the text.")
    ],
    by: Annotated[str, typer.Option(help="Who sends it (named in the audit).")],
    kind: Annotated[
        str | None, typer.Option(help="The kind of message (the policy's communications).")
    ] = None,
    purpose: Annotated[
        str | None,
        typer.Option(help="Only for a policy without communications: the data use it serves."),
    ] = None,
) -> None:
    """Queue the message to each person who may get it; the mail worker delivers it."""
    settings = Settings()
    loaded = load_policy(settings.policy_file)
    secrets = load_secrets(settings)
    text = text_file.read_text(encoding="utf-8")
    with database(settings) as sessions, sessions() as session, session.begin():
        try:
            what = news.requested(loaded, kind, purpose)
            sent = news.send(session, loaded, secrets, settings, what, subject, text, by, role=ROLE)
        except AvowalError as exc:
            raise fail(exc.message) from None
    shown = sent.purpose if sent.kind is None else f"{sent.kind} ({sent.purpose})"
    typer.echo(f"{sent.count} message(s) queued for {shown}")
