"""`avowal staff`: add, list, disable and re-enrol staff accounts."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

import typer

from avowal.cli_support import database, fail, load_policy, load_secrets
from avowal.lib import clock
from avowal.lib.errors import AvowalError
from avowal.mail import service as mail
from avowal.settings import Settings
from avowal.staff import repository
from avowal.staff import service as staff

app = typer.Typer(help="Add, list, disable and re-enrol staff accounts.", no_args_is_help=True)


class Kind(StrEnum):
    employee = "employee"
    contractor = "contractor"
    agent = "agent"


def _date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise fail(f"--expires {value} is not a date (YYYY-MM-DD)") from None


@app.command("add")
def add(
    email: Annotated[str, typer.Argument(help="The staff member's work e-mail address.")],
    kind: Annotated[Kind, typer.Option(help="employee, contractor or agent.")],
    role: Annotated[str, typer.Option(help="A staff role of the policy.")],
    expires: Annotated[
        str | None,
        typer.Option(
            help="Last day of access (YYYY-MM-DD, UTC); required for contractors and agents."
        ),
    ] = None,
) -> None:
    """Create an account and print its single-use enrolment link."""
    day = _date(expires)
    settings = Settings()
    policy = load_policy(settings.policy_file)
    secrets = load_secrets(settings)
    with database(settings) as sessions, sessions() as session, session.begin():
        try:
            added = staff.add(
                session,
                policy,
                settings,
                secrets,
                email=email,
                kind=kind.value,
                role=role,
                expires=day,
                now=clock.now(),
            )
        except AvowalError as exc:
            raise fail(exc.message) from None
        address = added.account.email
        mailed = mail.queue_enrolment(
            session, settings, secrets, policy, email=address, role=role, link=added.link
        )
    typer.echo(added.link)
    typer.echo(
        f"account {address} ({kind.value}, role {role}) created; "
        + (
            f"the link above was mailed to them (message {mailed})"
            if mailed
            else "send the link above to them only"
        )
        + f": it works once, within {settings.enrolment_hours} hours",
        err=True,
    )


@app.command("list")
def list_() -> None:
    """List accounts: e-mail, kind, role, state, expiry and acknowledged agreement version."""
    with database() as sessions, sessions() as session:
        for a in staff.list_accounts(session, now=clock.now()):
            expiry = f"expires {a.expires_at:%Y-%m-%d %H:%M}Z" if a.expires_at else "no expiry"
            ack = f"acknowledged {a.acknowledged}" if a.acknowledged else "not acknowledged"
            typer.echo(f"{a.email}\t{a.kind}\t{a.role}\t{a.state}\t{expiry}\t{ack}")


@app.command("disable")
def disable(email: Annotated[str, typer.Argument(help="The account's e-mail address.")]) -> None:
    """Disable an account at once, ending its sessions."""
    with database() as sessions, sessions() as session, session.begin():
        try:
            ended = staff.disable(session, email, now=clock.now())
        except AvowalError as exc:
            raise fail(exc.message) from None
    typer.echo(f"account {email.strip().lower()} disabled; {ended} session(s) ended")


@app.command("relink")
def relink(email: Annotated[str, typer.Argument(help="The account's e-mail address.")]) -> None:
    """Reset an account's password and authenticator (e.g. a lost phone); print a new link."""
    settings = Settings()
    policy = load_policy(settings.policy_file)
    secrets = load_secrets(settings)
    with database(settings) as sessions, sessions() as session, session.begin():
        try:
            link = staff.relink(session, settings, secrets, email, now=clock.now())
        except AvowalError as exc:
            raise fail(exc.message) from None
        account = repository.account_by_email(session, email.strip().lower())
        assert account is not None
        mailed = mail.queue_enrolment(
            session, settings, secrets, policy, email=account.email, role=account.role, link=link
        )
    typer.echo(link)
    typer.echo(
        "password and authenticator reset, sessions ended; the link works once"
        + (f" and was mailed to {account.email} (message {mailed})" if mailed else ""),
        err=True,
    )
