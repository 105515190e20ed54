"""The ``avowal`` command line."""

from __future__ import annotations

import contextlib
import json
import os
import ssl
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from avowal import project
from avowal.analytics import cli as analytics_cli
from avowal.analytics.clickhouse import events as clickhouse_events
from avowal.audit import cli as audit_cli
from avowal.backup import cli as backup_cli
from avowal.callers import cli as token_cli
from avowal.cli_support import fail, load_policy, load_secrets
from avowal.consent import scan_cli as cookies_cli
from avowal.crypto import cli as keys_cli
from avowal.db import migrate
from avowal.db.engine import make_engine, make_read_sessionmaker
from avowal.lib import logs
from avowal.lib.proxy import ProxyConfigError, parse_networks
from avowal.lib.security import InsecureConfiguration, check_production
from avowal.lifecycle import cli as lifecycle_cli
from avowal.lifecycle import publish_cli
from avowal.lifecycle import service as lifecycle
from avowal.lifecycle.exceptions import UnpublishedPolicy
from avowal.mail import cli as mail_cli
from avowal.mail import news_cli
from avowal.policy import fides_cli, render
from avowal.policy.loader import inspect_file
from avowal.policy.report import Output as CheckOutput
from avowal.promises import cli as promises_cli
from avowal.review import cli as review_cli
from avowal.settings import Settings
from avowal.staff import cli as staff_cli
from avowal.vault import cli as receipt_cli
from avowal.web import favicon

app = typer.Typer(help="avowal: a privacy policy that enforces itself.", no_args_is_help=True)
policy_app = typer.Typer(help="Check and render policy files.", no_args_is_help=True)
db_app = typer.Typer(help="Manage the database schema.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
app.add_typer(db_app, name="db")
app.add_typer(token_cli.app, name="token")
app.add_typer(receipt_cli.app, name="receipt")
app.add_typer(audit_cli.app, name="audit")
app.add_typer(keys_cli.app, name="keys")
app.command("backup")(backup_cli.backup)
app.command("restore")(backup_cli.restore)
app.command("review")(review_cli.review)
app.add_typer(staff_cli.app, name="staff")
app.add_typer(promises_cli.app, name="promises")
app.add_typer(mail_cli.app, name="mail")
app.add_typer(news_cli.app, name="news")
app.add_typer(cookies_cli.app, name="cookies")
analytics_cli.install(app)
policy_app.command("publish")(publish_cli.publish)
policy_app.command("export")(fides_cli.export)
policy_app.command("import-fides")(fides_cli.import_fides)
policy_app.command("diff")(lifecycle_cli.policy_diff)

STARTER = Path(__file__).resolve().parent / "policy" / "starter.yaml"


@policy_app.command("check")
def policy_check(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="The policy YAML file(s); default: the one this folder's uses."),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail (exit 1) on warnings too, as in CI.")
    ] = False,
    fmt: Annotated[
        CheckOutput,
        typer.Option(
            "--format", "-f", help="text for people; json (one object a line) for editors and CI."
        ),
    ] = CheckOutput.text,
) -> None:
    """Check policy files; exit 1 listing every problem and the promise it breaks."""
    failed = False
    for file in files or [Settings().policy_file]:
        report = inspect_file(file)
        failed = report.failed(strict) or failed
        if fmt is CheckOutput.json:
            typer.echo(json.dumps(report.as_json(), ensure_ascii=False))
            continue
        out, err = report.text(strict)
        for line in err:
            typer.echo(line, err=True)
        for line in out:
            typer.echo(line)
    if failed:
        raise typer.Exit(1)


class Format(StrEnum):
    html = "html"
    md = "md"


@policy_app.command("render")
def policy_render(
    file: Annotated[Path, typer.Argument(help="The policy YAML file.")],
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.html,
    out: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here, not stdout.")
    ] = None,
) -> None:
    """Render the human-readable policy page from a policy file."""
    loaded = load_policy(file)
    if fmt is Format.md:
        text = render.render_markdown(loaded)
    elif out is None:
        text = render.render_html(loaded)
    else:
        # A page written to disk links a stylesheet written beside it, so it works offline.
        text = render.render_html(loaded, stylesheet_href="privacy.css")
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
        if fmt is Format.html:
            (out.parent / "privacy.css").write_bytes(render.STYLESHEET.content)
            (out.parent / render.FAVICON_FILE).write_bytes(favicon.svg_icon().content)
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror}") from None
    typer.echo(f"wrote {out}")


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Migrate the database to the newest schema (creating it if needed)."""
    settings = Settings()
    engine = make_engine(settings)
    try:
        migrate.upgrade(engine, revision)
        typer.echo(f"database at revision {migrate.current(engine)}")
    finally:
        engine.dispose()
    clickhouse = clickhouse_events.of(settings)
    if clickhouse is not None:
        retention = load_policy(settings.policy_file).policy.analytics.raw_retention_days
        try:
            done = clickhouse.upgrade(retention)
        except Exception as exc:
            raise fail(
                f"ClickHouse at {clickhouse.target.describe()} could not be migrated: "
                f"{type(exc).__name__}: {str(exc)[:300]}"
            ) from None
        typer.echo(
            f"analytics in ClickHouse at {clickhouse.target.describe()}: "
            + ("; ".join(done) if done else "up to date")
        )


@db_app.command("current")
def db_current() -> None:
    """Show the database's schema revision and the newest one the code knows."""
    engine = make_engine(Settings())
    try:
        typer.echo(f"current: {migrate.current(engine) or '(none)'}  head: {migrate.head(engine)}")
    finally:
        engine.dispose()


def _check_clickhouse(settings: Settings) -> None:
    """Exit 1 unless ClickHouse, when analytics are kept there, answers with a current schema."""
    clickhouse = clickhouse_events.of(settings)
    if clickhouse is None:
        return
    where = clickhouse.target.describe()
    try:
        current = clickhouse.is_current()
    except Exception as exc:
        raise fail(
            f"ClickHouse at {where} does not answer: {type(exc).__name__}: {str(exc)[:300]}"
        ) from None
    if not current:
        raise fail(f"the ClickHouse schema at {where} is not current: run `avowal db upgrade`")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    policy: Annotated[Path | None, typer.Option(help="Policy file to enforce.")] = None,
    tls_cert: Annotated[
        Path | None, typer.Option(help="Certificate (PEM, with its chain) to terminate TLS.")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option(help="Private key (PEM) of the TLS certificate.")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Server processes sharing the port (PostgreSQL only; run `avowal worker` "
            "beside them).",
        ),
    ] = 1,
) -> None:
    """Serve the API, the published policy and the console."""
    import uvicorn

    from avowal.app import create_app
    from avowal.web import metrics as web_metrics

    overrides: dict[str, object] = {}
    if policy is not None:
        overrides["policy_file"] = policy
    if tls_cert is not None or tls_key is not None:
        if tls_cert is None or tls_key is None:
            raise fail("--tls-cert and --tls-key go together: give both or neither")
        overrides.update(tls_cert_file=tls_cert, tls_key_file=tls_key)
    # create_app sees the TLS files too, so its own production check agrees with this one.
    settings = Settings().model_copy(update=overrides)
    if settings.env == "development" and "public_url" not in settings.model_fields_set:
        # Links and redirects point at this server, whatever its port, unless told otherwise.
        scheme = "https" if settings.tls_cert_file is not None else "http"
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        settings = settings.model_copy(update={"public_url": f"{scheme}://{shown}:{port}"})
    check_server_settings(settings)
    secrets = load_secrets(settings)
    loaded = load_policy(settings.policy_file)
    engine = make_engine(settings)
    if migrate.current(engine) != migrate.head(engine):
        engine.dispose()
        raise fail("the database schema is not current: run `avowal db upgrade` first")
    try:
        _check_clickhouse(settings)
    except BaseException:
        engine.dispose()
        raise
    promises_cli.check_before_serving(settings, loaded, engine)
    if settings.env == "production":
        with make_read_sessionmaker(engine)() as session:
            try:
                lifecycle.require_published(session, loaded)
            except UnpublishedPolicy as exc:
                engine.dispose()
                raise fail(exc.message) from None
    if workers > 1 and engine.dialect.name == "sqlite":
        engine.dispose()
        raise fail(
            "--workers needs PostgreSQL (AVOWAL_DATABASE_URL): the embedded SQLite database is "
            "served by one process, which runs the background work itself"
        )
    tls = settings.tls_cert_file is not None
    typer.echo(
        f"avowal serving {loaded.policy.organisation.name}'s policy on "
        f"{'https' if tls else 'http'}://{host}:{port} "
        f"(policy {settings.policy_file}, data {settings.data_dir}, "
        f"public URL {settings.public_url}"
        f"{f', {workers} processes' if workers > 1 else ''})"
    )
    if workers > 1:
        # Each process makes its own application from the same settings (served_app): what
        # the options changed is handed down through the environment.
        engine.dispose()
        os.environ.update(_handed_down(settings))
        target: Any = "avowal.cli:served_app"
        # The processes count requests in files of one folder: a scrape of any reports them all.
        counting: contextlib.AbstractContextManager[object] = web_metrics.across_processes(
            settings.data_dir
        )
    else:
        application = create_app(settings, policy=loaded, engine=engine, secrets=secrets)
        # Server logs hold no IPs, query strings, paths or error messages (avowal.lib.logs).
        target = logs.AccessLog(application, application.routes)
        counting = contextlib.nullcontext()
    with counting:
        uvicorn.run(
            target,
            factory=workers > 1,
            workers=workers if workers > 1 else None,
            host=host,
            port=port,
            log_config=logs.uvicorn_config(log_format=settings.log_format),
            access_log=False,
            # Only avowal's ProxyHeaders decides whom to believe (AVOWAL_TRUSTED_PROXIES);
            # uvicorn's own handling would otherwise trust X-Forwarded-* from 127.0.0.1.
            proxy_headers=False,
            server_header=False,
            ssl_certfile=settings.tls_cert_file,
            ssl_keyfile=settings.tls_key_file,
        )


def _handed_down(settings: Settings) -> dict[str, str]:
    """The environment that gives served_app's processes the settings ``serve`` ended with."""
    found = {
        "AVOWAL_POLICY_FILE": str(settings.policy_file),
        "AVOWAL_PUBLIC_URL": str(settings.public_url),
    }
    if settings.tls_cert_file is not None and settings.tls_key_file is not None:
        found.update(
            AVOWAL_TLS_CERT_FILE=str(settings.tls_cert_file),
            AVOWAL_TLS_KEY_FILE=str(settings.tls_key_file),
        )
    return found


def served_app() -> Any:
    """Make one server process's application (``avowal serve --workers N``), from the settings
    its parent checked and handed down."""
    from avowal.app import create_app

    settings = Settings()
    application = create_app(
        settings,
        policy=load_policy(settings.policy_file),
        engine=make_engine(settings),
        secrets=load_secrets(settings),
    )
    return logs.AccessLog(application, application.routes)


def check_server_settings(settings: Settings) -> None:
    """Exit 1 on a bad proxy list, unusable TLS files, or production without TLS."""
    try:
        parse_networks(settings.trusted_proxies)
        check_production(settings)
    except (ProxyConfigError, InsecureConfiguration) as exc:
        raise fail(str(exc)) from None
    cert, key = settings.tls_cert_file, settings.tls_key_file
    if cert is None or key is None:
        return
    for path in (cert, key):
        try:
            path.read_bytes()
        except OSError as exc:
            raise fail(f"cannot read TLS file {path}: {exc.strerror}") from None
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key, password=b"")
    except ssl.SSLError as exc:
        raise fail(
            f"{cert} and {key} are not a PEM certificate and its unencrypted private key: "
            f"{exc.reason or exc}"
        ) from None


@app.callback()
def _project(
    project_dir: Annotated[
        Path | None,
        typer.Option(
            "--project",
            help="The project folder (with avowal.toml) to use; default: the current folder's.",
        ),
    ] = None,
) -> None:
    """avowal: a privacy policy that enforces itself."""
    if project_dir is not None:
        os.environ[project.ENV] = str(project_dir)
    try:
        config = project.find()
        settings = Settings() if config is not None else None
    except (project.ProjectConfigError, ValueError):
        return  # the command itself reports it
    if config is not None and settings is not None:
        typer.echo(project.describe(config, settings.policy_file, settings.data_dir), err=True)


@app.command()
def init(
    directory: Annotated[
        Path, typer.Argument(help="The project folder to create (or complete).")
    ] = Path("."),
    force: Annotated[
        bool, typer.Option(help="Overwrite an existing policy.yaml and avowal.toml.")
    ] = False,
) -> None:
    """Create a project: a starter policy to edit (already valid), its avowal.toml and its own
    data folder; every command run in the folder then uses them."""
    policy_file = directory / "policy.yaml"
    config = directory / project.CONFIG_NAME
    if policy_file.exists() and not force:
        raise fail(f"{policy_file} exists; use --force to overwrite it")
    try:
        (directory / ".avowal").mkdir(parents=True, exist_ok=True)
        policy_file.write_text(STARTER.read_text(encoding="utf-8"), encoding="utf-8")
        if force or not config.exists():
            config.write_text(project.config_text("policy.yaml", ".avowal"), encoding="utf-8")
        ignore = directory / ".gitignore"
        if not ignore.exists():
            ignore.write_text(
                "# keys, database and mail of this project: never committed\n.avowal/\n"
            )
    except OSError as exc:
        raise fail(f"cannot write in {directory}: {exc.strerror}") from None
    typer.echo(
        f"wrote {policy_file} and {config}; its data goes to {directory / '.avowal'}\n"
        f"next: cd {directory} && avowal policy check policy.yaml && avowal db upgrade "
        "&& avowal serve"
    )


@app.command()
def status() -> None:
    """Say which project, policy (and its version), data and database this folder's commands
    and server use."""
    settings = Settings()
    config = project.find()
    typer.echo(
        f"project: {config.parent if config is not None else 'none here'}"
        f"{f' ({config.name})' if config is not None else ' (environment and defaults)'}"
    )
    loaded = load_policy(settings.policy_file)
    typer.echo(
        f"policy: {settings.policy_file}, {loaded.policy.organisation.name}, "
        f"version {loaded.version_id[:12]}"
    )
    typer.echo(f"data: {settings.data_dir}")
    engine = make_engine(settings)
    try:
        current, head = migrate.current(engine), migrate.head(engine)
    finally:
        engine.dispose()
    state = "current" if current == head else "not current: run `avowal db upgrade`"
    typer.echo(f"database: {engine.url.render_as_string(hide_password=True)} ({state})")
    typer.echo(f"public URL: {settings.public_url}")


def main() -> None:
    """Run the command line."""
    try:
        app()
    except project.ProjectConfigError as exc:
        typer.echo(exc.message, err=True)
        raise SystemExit(1) from None
