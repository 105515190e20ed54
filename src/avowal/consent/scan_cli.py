"""`avowal cookies tag`: the banner's tag for a site's pages; `avowal cookies scan URL...`: the
scanner for a site's CI (exit 1 on any finding)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from avowal.cli_support import database, load_policy
from avowal.consent import banner, scan_store
from avowal.consent import scan as scanner
from avowal.policy.schemas import Policy
from avowal.settings import Settings

app = typer.Typer(
    help="The cookie banner's tag, and a scan of a site's cookies and storage against the policy.",
    no_args_is_help=True,
)
USAGE = 2
COLUMNS = ("kind", "store", "name", "category", "pass", "page")


def usage_error(message: str) -> typer.Exit:
    """Print a usage error and return the exit (2) to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(USAGE)


@app.command("tag")
def tag() -> None:
    """Print the tag to put in a site's pages for AVOWAL_PUBLIC_URL, and its CSP hash."""
    url = Settings().public_url
    typer.echo("Put this in the <head> of every page (it loads /c.js once the page has painted):")
    typer.echo(f"  {banner.loader_tag(url)}")
    typer.echo("Under a Content-Security-Policy, allow it and avowal's script with:")
    typer.echo(f"  script-src {banner.LOADER_CSP} {banner.own_origin(Settings())}")
    typer.echo("Or, with no inline script (it adds one request while the page loads):")
    typer.echo(f"  {banner.async_tag(url)}")


@app.command("scan")
def scan(
    urls: Annotated[
        list[str], typer.Argument(help="Pages to visit, in order; the first one shows the banner.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    policy: Annotated[
        Path | None, typer.Option(help="Policy file to judge by; default AVOWAL_POLICY_FILE.")
    ] = None,
    chromium: Annotated[
        Path, typer.Option(help="Chromium (or Chrome) executable.")
    ] = scanner.CHROMIUM,
    wait_ms: Annotated[
        int,
        typer.Option(
            min=1, help="Milliseconds to wait for the banner's buttons and for a page to settle."
        ),
    ] = scanner.WAIT_MS,
) -> None:
    """Visit pages before any choice, after "Reject all" and after "Accept all"; exit 1 on any
    finding (undeclared cookie or storage key, set before consent or after rejection)."""
    settings = Settings()
    loaded = _policy(policy or settings.policy_file)
    try:
        report = scanner.scan(loaded, urls, chromium=chromium, wait_ms=wait_ms)
    except ImportError:
        raise usage_error(
            "the scanner needs Playwright: install avowal[scan] (pip install 'avowal[scan]')"
        ) from None
    except scanner.ScanError as exc:
        raise usage_error(str(exc)) from None
    _record(settings, report)
    if as_json:
        typer.echo(json.dumps(_as_json(report), indent=2))
    else:
        typer.echo(table(report))
    raise typer.Exit(0 if report.ok else 1)


def _policy(path: Path) -> Policy:
    try:
        return load_policy(path).policy
    except typer.Exit:
        # load_policy printed the problems; a policy that cannot be read is a usage error here,
        # so CI tells it apart from a finding.
        raise typer.Exit(USAGE) from None


def _record(settings: Settings, report: scanner.ScanReport) -> None:
    """Record the scan for the internal review when avowal's database is there and migrated."""
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").exists():
        # A site's CI usually has no avowal database; do not create one.
        typer.echo("note: no avowal database here, so the scan is not recorded", err=True)
        return
    try:
        with database(settings) as sessions, sessions.begin() as session:
            scan_store.record(session, report)
    except typer.Exit:
        typer.echo("note: the scan is not recorded", err=True)
    except SQLAlchemyError as exc:
        typer.echo(f"note: the scan is not recorded ({type(exc).__name__})", err=True)


def _as_json(report: scanner.ScanReport) -> dict[str, object]:
    data = report.model_dump(mode="json", by_alias=True)
    return {"ok": report.ok, **data}


def table(report: scanner.ScanReport) -> str:
    """Render the findings as an aligned table with a summary line and what each kind means."""
    pages = f"{len(report.urls)} page{'s' if len(report.urls) != 1 else ''}"
    skipped = [p.value for p, shown in report.banner.items() if not shown]
    lines = []
    if report.findings:
        rows = [
            (
                f.kind.value,
                f.store.value if f.store else "-",
                f.name,
                f.category.value if f.category else "-",
                f.pass_.value,
                f.page,
            )
            for f in report.findings
        ]
        widths = [max(len(r[i]) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
        for row in [COLUMNS, *rows]:
            lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
        lines.append("")
        for kind in dict.fromkeys(f.kind for f in report.findings):
            lines.append(f"{kind.value}: {kind.explanation}")
        count = len(report.findings)
        lines.append(f"{count} finding{'s' if count != 1 else ''} on {pages}")
    else:
        lines.append(
            f"clean: {pages} scanned before any choice, after 'Reject all' and after "
            "'Accept all'; nothing the policy does not allow"
        )
    if skipped and not any(f.kind is scanner.FindingKind.no_banner for f in report.findings):
        lines.append(
            f"no banner, so the {' and '.join(skipped)} passes were skipped (the policy has no "
            "cookie a visitor may refuse)"
        )
    return "\n".join(lines)
