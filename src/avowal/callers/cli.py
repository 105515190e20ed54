"""`avowal token`: service tokens for site back ends."""

from __future__ import annotations

from typing import Annotated

import typer

from avowal.callers import service
from avowal.callers.exceptions import TokenError
from avowal.cli_support import database, fail, load_policy
from avowal.settings import Settings

app = typer.Typer(help="Create, list and revoke service tokens.", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="A name for the caller, e.g. web-backend.")],
    role: Annotated[str, typer.Option(help="A service role of the policy (service: true).")],
) -> None:
    """Create a token for a service role of the policy and print it once."""
    settings = Settings()
    policy = load_policy(settings.policy_file)
    with database(settings) as sessions, sessions() as session, session.begin():
        try:
            token = service.create(session, policy, name, role)
        except TokenError as exc:
            raise fail(exc.message) from None
    typer.echo(token)
    typer.echo(f"token '{name}' with role '{role}' created; it is shown only now", err=True)


@app.command("list")
def list_() -> None:
    """List tokens (names, roles, state; never the tokens)."""
    with database() as sessions, sessions() as session:
        for t in service.list_tokens(session):
            state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
            typer.echo(f"{t.name}\t{t.role}\t{state}\tcreated {t.created_at:%Y-%m-%d}")


@app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token at once."""
    with database() as sessions, sessions() as session, session.begin():
        try:
            service.revoke(session, name)
        except TokenError as exc:
            raise fail(exc.message) from None
    typer.echo(f"token '{name}' revoked")
