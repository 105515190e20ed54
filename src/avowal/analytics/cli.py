"""`avowal analytics`: the sites whose page views are counted."""

from __future__ import annotations

from typing import Annotated

import typer

from avowal.analytics import sites
from avowal.analytics.exceptions import SiteError
from avowal.cli_support import database, fail, load_policy
from avowal.lib import clock
from avowal.settings import Settings

app = typer.Typer(help="Cookie-less page analytics.", no_args_is_help=True)
site_app = typer.Typer(help="Add, list and remove counted sites.", no_args_is_help=True)
app.add_typer(site_app, name="site")


@site_app.command("add")
def add(
    domain: Annotated[str, typer.Argument(help="The site's domain, e.g. blog.example.com.")],
) -> None:
    """Count page views of a site (beside those declared in the policy)."""
    with database() as sessions, sessions() as session, session.begin():
        try:
            site = sites.add_site(session, domain, clock.now())
        except SiteError as exc:
            raise fail(exc.message) from None
        name = site.domain
    typer.echo(
        f'site {name} added; embed <script defer data-domain="{name}" '
        f'src="https://<this server>/a.js"></script> in its pages'
    )


@site_app.command("list")
def list_() -> None:
    """List the counted sites, where each was declared, and whether it accepts events."""
    settings = Settings()
    policy = load_policy(settings.policy_file).policy
    with database(settings) as sessions, sessions() as session:
        for site in sites.list_sites(session):
            state = "active" if sites.is_active(site, policy) else "inactive (not in the policy)"
            typer.echo(f"{site.domain}\t{site.source}\t{state}\tadded {site.added_at:%Y-%m-%d}")


@site_app.command("remove")
def remove(
    domain: Annotated[str, typer.Argument(help="The site's domain.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Do not ask; delete the site's events and figures.")
    ] = False,
) -> None:
    """Stop counting a site and delete its events, figures and counters."""
    if not yes:
        typer.confirm(f"delete site {domain} and all its analytics data?", abort=True)
    settings = Settings()
    policy = load_policy(settings.policy_file).policy
    with database(settings) as sessions, sessions() as session, session.begin():
        try:
            removed = sites.remove_site(session, domain, policy)
        except SiteError as exc:
            raise fail(exc.message) from None
    typer.echo(f"site {sites.normalise_domain(domain)} removed with its {removed} events")
