"""`avowal policy export --format fides` and `avowal policy import-fides`: the bridge to Fides."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from avowal.cli_support import fail, load_policy
from avowal.policy import fides

# The tools a policy can be exported for.
FORMATS = ("fides",)


def export(
    file: Annotated[Path, typer.Argument(help="The policy YAML file.")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="fides: a Fides manifest (systems and a dataset), as the fides CLI reads it.",
        ),
    ],
    out: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here, not stdout.")
    ] = None,
) -> None:
    """Export a policy for another privacy tool."""
    if fmt not in FORMATS:
        raise fail(f"unknown format '{fmt}': the formats are {', '.join(FORMATS)}")
    loaded = load_policy(file)
    text = fides.manifest_yaml(loaded.policy, file.name)
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror}") from None
    typer.echo(f"wrote {out} ({fmt} manifest of {loaded.policy.organisation.name}'s policy)")


def import_fides(
    file: Annotated[Path, typer.Argument(help="A Fides manifest (YAML with a `system:` list).")],
    out: Annotated[
        Path, typer.Option("--output", "-o", help="The starter policy to write.")
    ] = Path("policy.yaml"),
    force: Annotated[bool, typer.Option(help="Overwrite an existing output file.")] = False,
    system: Annotated[
        str | None,
        typer.Option(
            help="The fides_key of the system to import, when the manifest describes several.",
        ),
    ] = None,
) -> None:
    """Make a starter policy from a Fides system; `avowal policy check` lists what to fill in."""
    if out.exists() and not force:
        raise fail(f"{out} exists; use --force to overwrite it")
    try:
        manifest = fides.load_manifest(file)
        chosen = fides.choose_system(manifest, system, str(file))
    except fides.ManifestInvalid as exc:
        for problem in exc.problems:
            typer.echo(problem.render(str(file)), err=True)
        count = len(exc.problems)
        raise fail(f"{file}: {count} problem{'s' if count != 1 else ''}; nothing written") from None
    starter = fides.starter_policy(manifest, chosen, file.name)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(starter.text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror}") from None
    gaps = len(starter.gaps)
    typer.echo(
        f"wrote {out}: a starter policy of {starter.organisation} from the Fides system "
        f"'{starter.system}' ({starter.collection_points} collection points, "
        f"{starter.recipients} recipients); {gaps} gap{'s' if gaps != 1 else ''} to fill in, "
        f"marked '{fides.GAP_MARK}': `avowal policy check {out}` lists them"
    )
