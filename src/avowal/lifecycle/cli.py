"""`avowal policy diff A B`: what changes between two policy files or published versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from avowal.cli_support import database, fail, load_policy
from avowal.lib.errors import AvowalError
from avowal.lifecycle import service, versions
from avowal.lifecycle.diff import PolicyDiff, diff
from avowal.policy.document import short_version
from avowal.policy.exceptions import PolicyInvalid
from avowal.policy.loader import LoadedPolicy

_REF_HELP = "a policy file, or a published version id (at least 8 of its hex digits)"


def _resolve(refs: list[str]) -> list[LoadedPolicy]:
    """Load each reference: a file when one exists there, else a published version."""
    stored = [r for r in refs if versions.is_reference(r) and not Path(r).exists()]
    found: dict[str, LoadedPolicy] = {}
    if stored:
        with database(read_only=True) as sessions, sessions() as session:
            for ref in stored:
                try:
                    found[ref] = service.loaded_version(versions.find(session, ref))
                except AvowalError as exc:
                    raise fail(exc.message) from None
                except PolicyInvalid as exc:
                    raise fail(
                        f"version {ref} no longer passes the policy checks:\n{exc}"
                    ) from None
    return [found[r] if r in found else load_policy(Path(r)) for r in refs]


def _report(result: PolicyDiff, text: bool) -> None:
    old, new = short_version(result.old_version), short_version(result.new_version)
    material = result.material_changes()
    typer.echo(
        f"from {old} to {new}: {len(result.changes)} change"
        f"{'' if len(result.changes) == 1 else 's'}, {len(material)} material"
        + (" (people's explicit consent is needed)" if material else "")
    )
    for change in material:
        typer.echo(f"! MATERIAL  {change.area.label}: {change.summary}")
        typer.echo(f"      why: {change.reason}")
    for change in result.changes:
        if not change.material:
            typer.echo(f"-           {change.area.label}: {change.summary}")
    if not text:
        return
    typer.echo("")
    typer.echo("Text of the page:" if result.text else "The page's text does not change.")
    for section in result.text:
        typer.echo(f"## {section.heading} ({section.kind.value})")
        for line in section.lines:
            typer.echo(f"{'-' if line.op == 'removed' else '+'} {line.text}")


def policy_diff(
    a: Annotated[str, typer.Argument(help=f"The policy before: {_REF_HELP}.")],
    b: Annotated[str, typer.Argument(help=f"The policy after: {_REF_HELP}.")],
    text: Annotated[
        bool, typer.Option("--text", help="Also show the text changes of the page.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the structured diff as JSON.")
    ] = False,
) -> None:
    """Show what changes from policy A to policy B, material changes first."""
    old, new = _resolve([a, b])
    result = diff(old, new)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    _report(result, text)
