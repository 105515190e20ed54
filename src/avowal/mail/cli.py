"""`avowal mail outbox|retry|send`: look at the outbox (never an address), retry, deliver now."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from avowal.cli_support import database, fail, load_policy, load_secrets
from avowal.lib.errors import AvowalError
from avowal.mail import service, worker
from avowal.settings import Settings

app = typer.Typer(help="The mail outbox: list, retry and deliver messages.", no_args_is_help=True)


def _when(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value is not None else "-"


@app.command("outbox")
def outbox(
    status: Annotated[
        str | None,
        typer.Option(help=f"Only messages of this status ({', '.join(service.STATUSES)})."),
    ] = None,
) -> None:
    """List the outbox, newest first: kind, purpose, status, attempts and times, never addresses."""
    settings = Settings()
    with database(settings, read_only=True) as sessions, sessions() as session:
        try:
            entries = service.list_outbox(session, settings, status)
        except AvowalError as exc:
            raise fail(exc.message) from None
    if not entries:
        typer.echo("the outbox is empty" if status is None else f"no {status} message")
        return
    for e in entries:
        fields = [
            e.id,
            e.kind,
            e.purpose or "-",
            e.status,
            f"attempts {e.attempts}",
            f"created {_when(e.created_at)}",
            f"sent {_when(e.sent_at)}",
            f"failed {_when(e.failed_at)}",
            f"next {_when(e.next_attempt_at)}",
        ]
        if e.last_error:
            fields.append(f"error {e.last_error}")
        if e.eml is not None:
            fields.append(str(e.eml))
        typer.echo("\t".join(fields))


@app.command("retry")
def retry(message_id: Annotated[str, typer.Argument(help="The id of a failed message.")]) -> None:
    """Queue a failed message again, with a fresh round of attempts."""
    with database() as sessions, sessions() as session, session.begin():
        try:
            service.retry(session, message_id.strip())
        except AvowalError as exc:
            raise fail(exc.message) from None
    typer.echo(f"message {message_id.strip()} queued again")


@app.command("send")
def send() -> None:
    """Run one delivery pass now: queue the legal notices due, send the mail due."""
    settings = Settings()
    loaded = load_policy(settings.policy_file)
    secrets = load_secrets(settings)
    with database(settings) as sessions:
        report = worker.run_pass(sessions, settings, secrets, loaded)
    if report.retention_destroyed or report.retention_purposes_removed:
        typer.echo(
            f"retention: {report.retention_destroyed} value(s) destroyed, "
            f"{report.retention_purposes_removed} purpose(s) removed from values kept"
        )
    if not report.configured:
        raise fail(
            "mail is not configured (AVOWAL_MAIL_TRANSPORT resolves to none): nothing was sent, "
            "queued messages wait; set AVOWAL_SMTP_HOST or AVOWAL_MAIL_TRANSPORT=files"
        )
    for notice_id in report.notices:
        typer.echo(f"legal notice {notice_id} queued")
    for notice_id in report.no_address:
        typer.echo(f"legal notice {notice_id} waits: the person has no service address")
    for message_id in report.sent:
        typer.echo(f"sent {message_id}")
    for message_id, error in report.retrying:
        typer.echo(f"will retry {message_id}: {error}")
    for message_id, error in report.failed:
        typer.echo(f"failed {message_id}: {error} (retry with `avowal mail retry {message_id}`)")
    for message_id in report.shredded:
        typer.echo(f"shredded {message_id}: its person was erased")
    typer.echo(
        f"{len(report.sent)} sent, {len(report.retrying)} to retry, {len(report.failed)} failed"
    )
