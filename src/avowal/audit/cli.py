"""`avowal audit`: verify the chain and write signed checkpoints."""

from __future__ import annotations

import os
import time

import typer

from avowal.audit import checkpoints, parallel
from avowal.audit import service as audit
from avowal.cli_support import database, fail, load_secrets
from avowal.settings import Settings

app = typer.Typer(help="Verify the audit chain and checkpoint its head.", no_args_is_help=True)


@app.command("verify")
def verify() -> None:
    """Exit 0 when the chain is intact; otherwise 1, naming the first bad entry."""
    settings = Settings()
    secrets = load_secrets(settings)
    marks, problems = checkpoints.read_all(
        settings.checkpoint_path, secrets.signing_key.public_key()
    )
    for problem in problems:
        typer.echo(f"checkpoint problem: {problem}", err=True)
    started = time.perf_counter()
    with database(settings, read_only=True) as sessions, sessions() as session:
        result = parallel.verify(
            session, [(c.seq, c.hash) for c in marks], workers=os.cpu_count() or 1
        )
    seconds = time.perf_counter() - started
    with database(settings) as sessions, sessions.begin() as session:
        audit.record_verification(session, result.count, seconds, result.ok and not problems)
    if not result.ok:
        raise fail(
            f"audit chain BROKEN at entry {result.first_bad}: {result.problem} "
            f"({result.count} entries verified before it)"
        )
    if problems:
        raise fail(
            f"audit chain intact ({result.count} entries) but {len(problems)} "
            "checkpoint(s) failed verification"
        )
    typer.echo(
        f"audit chain intact: {result.count} entries, checked against "
        f"{len(marks)} signed checkpoint(s)"
    )


@app.command("checkpoint")
def checkpoint() -> None:
    """Write a signed checkpoint of the chain head to the checkpoint folder."""
    settings = Settings()
    secrets = load_secrets(settings)
    with database(settings, read_only=True) as sessions, sessions() as session:
        result = audit.verify(session)
        if not result.ok:
            raise fail(
                f"refusing to checkpoint a broken chain: entry {result.first_bad}: {result.problem}"
            )
        seq, digest = audit.head(session)
    path = checkpoints.write(settings.checkpoint_path, secrets.signing_key, seq, digest)
    typer.echo(f"checkpoint of entry {seq} written to {path}")
