"""`avowal analytics site|share|unshare|rollup` and `avowal worker`: counted sites, share links,
rollups and purges. :func:`install` adds them to the ``avowal`` command line."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated

import typer
from sqlalchemy.orm import Session, sessionmaker

from avowal.analytics import query, share, sites, worker
from avowal.analytics.clickhouse import events as clickhouse_events
from avowal.analytics.clickhouse import migrate as clickhouse_migrate
from avowal.analytics.exceptions import SiteError
from avowal.cli_support import database, fail, load_policy, load_secrets
from avowal.lib import clock
from avowal.lib.errors import AvowalError
from avowal.lifecycle.holder import PolicyHolder
from avowal.mail import worker as mail_worker
from avowal.settings import Settings

app = typer.Typer(help="Cookie-less page analytics.", no_args_is_help=True)
site_app = typer.Typer(help="Add, list and remove counted sites.", no_args_is_help=True)
app.add_typer(site_app, name="site")


def install(root: typer.Typer) -> None:
    """Add ``avowal analytics ...`` and ``avowal worker`` to the command line ``root``."""
    root.add_typer(app, name="analytics")
    root.command("worker")(run_worker)


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
            removed = sites.remove_site(session, domain, policy, clickhouse_events.of(settings))
        except SiteError as exc:
            raise fail(exc.message) from None
    typer.echo(f"site {sites.normalise_domain(domain)} removed with its {removed} events")


@app.command("share")
def share_site(
    domain: Annotated[str, typer.Argument(help="The site's domain.")],
) -> None:
    """Create a read-only share link of a site's dashboard (replacing any previous one)."""
    settings = Settings()
    with database(settings) as sessions, sessions() as session, session.begin():
        try:
            token = share.create(session, domain)
        except AvowalError as exc:
            raise fail(exc.message) from None
    typer.echo(share.url(settings.public_url, token))
    typer.echo(
        f"anyone with this link sees the dashboard of {domain}; "
        f"`avowal analytics unshare {domain}` ends it",
        err=True,
    )


@app.command("unshare")
def unshare_site(
    domain: Annotated[str, typer.Argument(help="The site's domain.")],
) -> None:
    """End a site's share link at once."""
    with database() as sessions, sessions() as session, session.begin():
        try:
            had = share.revoke(session, domain)
        except AvowalError as exc:
            raise fail(exc.message) from None
    typer.echo(f"share link of {domain} ended" if had else f"{domain} had no share link")


@app.command("migrate")
def migrate_to(
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="The ClickHouse address, as AVOWAL_ANALYTICS_URL takes it "
            "(clickhouse://user:password@host:8123/database, clickhouses://, https://).",
        ),
    ],
    delete_source: Annotated[
        bool,
        typer.Option(
            "--delete-source",
            help="Delete the raw events from the database once ClickHouse has every one "
            "(otherwise the worker purges them at the end of their retention).",
        ),
    ] = False,
) -> None:
    """Copy the raw events into ClickHouse, check every site-day's count, and say how to switch.

    Run it with the servers stopped (events arriving meanwhile would stay behind), then set
    AVOWAL_ANALYTICS_URL and start them. Rollups stay in the database: days past the raw
    retention keep their figures.
    """
    settings = Settings()
    if clickhouse_events.of(settings) is not None:
        raise fail("analytics are already kept in ClickHouse (AVOWAL_ANALYTICS_URL is set)")
    try:
        target = clickhouse_events.ClickHouseEvents(clickhouse_migrate.parse(to))
    except AvowalError as exc:
        raise fail(exc.message) from None
    policy = load_policy(settings.policy_file)
    with database(settings) as sessions:
        try:
            report = clickhouse_migrate.copy(
                sessions,
                target,
                policy.policy.analytics.raw_retention_days,
                delete_source=delete_source,
                progress=lambda n: typer.echo(f"copied {n} events", err=True),
            )
        except clickhouse_migrate.MigrationRefused as exc:
            raise fail(exc.message) from None
    where = target.target.describe()
    typer.echo(
        f"copied {report.events} events of {report.sites} sites ({report.site_days} site-days) "
        f"to {where}; every site-day's count checked"
    )
    if report.deleted:
        typer.echo(f"deleted the {report.deleted} raw events from the database")
    typer.echo(
        f"next: set AVOWAL_ANALYTICS_URL to {where} (with its password, if any) for every "
        "server and the worker, then start them"
    )


def _day(name: str, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise fail(f"--{name} must be a date as YYYY-MM-DD, not '{value}'") from None


@app.command("rollup")
def rollup_now(
    site: Annotated[
        str | None, typer.Option(help="Recompute this site's days --from/--to, even final ones.")
    ] = None,
    start: Annotated[str | None, typer.Option("--from", help="First UTC day to recompute.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last UTC day to recompute.")] = None,
) -> None:
    """Roll up pending days and purge raw events past retention (one worker pass).

    With --site, recompute the given days from the raw events instead (only days within the
    raw-event retention: older days keep their rollups).
    """
    settings = Settings()
    policy = load_policy(settings.policy_file)
    now = clock.now()
    with database(settings) as sessions:
        if site is None:
            if start or end:
                raise fail("--from and --to need --site")
            report = worker.run_pass(sessions, settings, policy, now)
            for domain, day in report.rolled:
                typer.echo(f"rolled up {domain} {day}")
            for domain, day, count in report.purged:
                typer.echo(f"purged {count} raw events of {domain} {day}")
            for domain, day, count in report.quarantined:
                typer.echo(f"set aside {count} events of {domain} {day} that cannot be rolled up")
            for domain, failed_day, error in report.failed:
                typer.echo(f"failed: {domain} {failed_day or ''} ({error}); tried again next pass")
            if not (report.rolled or report.purged or report.quarantined or report.failed):
                typer.echo("nothing to roll up or purge")
            if report.failed:
                raise typer.Exit(1)
            return
        first, last = _day("from", start) or now.date(), _day("to", end) or now.date()
        if first > last or (last - first).days >= query.MAX_DAYS:
            raise fail(f"--from/--to: give 1 to {query.MAX_DAYS} days, oldest first")
        kept = worker.retention_cutoff(policy, now.date())
        if first < kept:
            # Its raw events are purged: recomputing would replace its figures by nothing.
            raise fail(
                f"--from: raw events before {kept} are purged; their rollups stay as they are"
            )
        with sessions() as session:
            try:
                site_id, domain = query.site(session, site)
            except AvowalError as exc:
                raise fail(exc.message) from None
        day = first
        while day <= last:
            worker.redo_day(sessions, settings, site_id, day, now)
            typer.echo(f"rolled up {domain} {day}")
            day += dt.timedelta(days=1)


def run_worker() -> None:
    """Run background work until stopped: analytics rollups and purges, and mail delivery."""
    settings = Settings()
    policy = load_policy(settings.policy_file)
    secrets = load_secrets(settings)

    def said(report: worker.PassReport) -> None:
        if report.purged:
            typer.echo(f"purged {report.purged_events} raw events", err=True)
        if report.quarantined:
            count = sum(n for _, _, n in report.quarantined)
            typer.echo(f"set aside {count} events that cannot be rolled up", err=True)

    def mailed(report: mail_worker.PassReport) -> None:
        if report.sent or report.failed:
            typer.echo(f"mail: {len(report.sent)} sent, {len(report.failed)} failed", err=True)

    async def both(sessions: sessionmaker[Session]) -> None:
        # Both follow the published version in effect, as the servers do.
        policies = PolicyHolder(sessions, policy, refresh_seconds=settings.policy_refresh_seconds)
        await asyncio.gather(
            worker.run_forever(sessions, settings, policies.current, first_delay=0, on_pass=said),
            mail_worker.run_forever(
                sessions, settings, secrets, policies.current, first_delay=0, on_pass=mailed
            ),
        )

    with database(settings) as sessions:
        typer.echo(
            f"worker: analytics rollups every {settings.analytics_rollup_seconds} s, mail "
            f"({settings.effective_mail_transport}) every {settings.mail_interval_seconds} s",
            err=True,
        )
        try:
            asyncio.run(both(sessions))
        except KeyboardInterrupt:
            typer.echo("worker stopped", err=True)
