"""`avowal promises`: each promise the policy states, whether this server keeps it, attestations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from avowal.cli_support import database, fail, load_policy
from avowal.db.engine import make_engine
from avowal.policy.loader import LoadedPolicy
from avowal.promises import service
from avowal.promises.evidence import day
from avowal.settings import Settings

app = typer.Typer(
    help="The promise ledger: what the policy states and how each promise is kept.",
    invoke_without_command=True,
)


def _row(entry: service.Entry) -> dict[str, object]:
    p, s = entry.promise, entry.status
    a = s.attestation
    return {
        "id": p.id.value,
        "statement": p.statement,
        "section": p.section,
        "kind": p.kind.value,
        "status": s.state.value,
        "kept": s.kept,
        "detail": s.detail or None,
        "mechanism": p.mechanism,
        "attested_by": a.by if a else None,
        "attested_at": a.at.isoformat() if a else None,
    }


def _line(entry: service.Entry) -> str:
    p, s = entry.promise, entry.status
    text = f"{p.id:<30} {s.state:<20} {p.statement}"
    a = s.attestation
    if a is not None:
        text += f"\n{'':<30} attested by {a.by} on {day(a.at)}"
    if s.detail:
        text += f"\n{'':<30} -> {s.detail}"
    return text


@app.callback()
def promises(
    ctx: typer.Context,
    policy: Annotated[
        Path | None, typer.Option(help="Policy file (default: AVOWAL_POLICY_FILE).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    strict: Annotated[bool, typer.Option(help="Exit 1 when any promise is not kept.")] = False,
) -> None:
    """List each promise the policy states, its status, and what to configure when not kept."""
    if ctx.invoked_subcommand is not None:
        return
    settings = Settings()
    loaded = load_policy(policy or settings.policy_file)
    engine = make_engine(settings)
    try:
        entries = service.ledger(settings, loaded, service.attestations_from(engine))
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps([_row(e) for e in entries], indent=2))
    else:
        for entry in entries:
            typer.echo(_line(entry))
        unkept = sum(1 for e in entries if not e.status.kept)
        typer.echo(f"\n{len(entries)} promises stated, {unkept} not kept by this server.")
    if strict and any(not e.status.kept for e in entries):
        raise typer.Exit(1)


@app.command("attest")
def attest(
    promise_id: Annotated[str, typer.Argument(metavar="ID", help="An organisational measure.")],
    by: Annotated[str, typer.Option("--by", help="Who attests it (name or e-mail).")],
    note: Annotated[str | None, typer.Option(help="What was checked.")] = None,
) -> None:
    """Record that an organisational measure is in place, attested by a named person."""
    settings = Settings()
    with database(settings) as sessions, sessions.begin() as session:
        try:
            record = service.attest(session, promise_id, by, note)
        except service.NotAttestable as exc:
            raise fail(str(exc)) from None
    typer.echo(f"{record.promise}: attested by {record.by} on {day(record.at)}")


def check_before_serving(settings: Settings, loaded: LoadedPolicy, engine: Engine) -> None:
    """Exit 1 in production, naming each stated promise not kept and what to configure."""
    if settings.env != "production":
        return
    try:
        service.check_kept(settings, loaded, service.attestations_from(engine))
    except service.PromisesNotKept as exc:
        engine.dispose()
        raise fail(str(exc)) from None
