"""`avowal analytics site add|list|remove`: sites beside the policy's, removed with their data."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from typer.testing import CliRunner

from avowal.analytics.models import Event, ScrubCounter, Site
from avowal.cli import app as cli
from avowal.settings import Settings

runner = CliRunner()


@pytest.fixture
def env(settings: Settings, app: FastAPI) -> dict[str, str]:
    """The command line's environment: the test database, data folder and policy."""
    return {
        "AVOWAL_ENV": "test",
        "AVOWAL_DATA_DIR": str(settings.data_dir),
        "AVOWAL_DATABASE_URL": settings.effective_database_url,
        "AVOWAL_POLICY_FILE": str(settings.policy_file),
    }


def analytics(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = runner.invoke(cli, ["analytics", "site", *args], env=env)
    return result.exit_code, result.output


def test_add_list_and_remove_a_site(env: dict[str, str], app: FastAPI) -> None:
    code, out = analytics(env, "add", "Blog.Example.com")
    assert code == 0, out
    assert 'data-domain="blog.example.com"' in out
    code, out = analytics(env, "add", "blog.example.com")
    assert code == 1 and "already counted" in out
    code, out = analytics(env, "add", "not a domain")
    assert code == 1 and "not a domain name" in out
    # The policy's site appears once the server has started (it syncs the policy's sites).
    with app.state.sessionmaker() as session, session.begin():
        session.add(
            Site(domain="www.contactmonkey.com", source="policy", added_at=dt.datetime.now(dt.UTC))
        )
        session.add(
            Site(domain="old.example.com", source="policy", added_at=dt.datetime.now(dt.UTC))
        )
    code, out = analytics(env, "list")
    assert code == 0, out
    lines = [line.split("\t")[:3] for line in out.strip().splitlines()]
    assert lines == [
        ["blog.example.com", "cli", "active"],
        ["old.example.com", "policy", "inactive (not in the policy)"],
        ["www.contactmonkey.com", "policy", "active"],
    ]
    code, out = analytics(env, "remove", "www.contactmonkey.com", "--yes")
    assert code == 1 and "declared in the policy" in out
    with app.state.sessionmaker() as session, session.begin():
        blog = session.scalar(select(Site.id).where(Site.domain == "blog.example.com"))
        today = dt.date.today()
        session.add(
            Event(
                site_id=blog,
                ts=dt.datetime.now(dt.UTC),
                day=today,
                name="pageview",
                path="/",
                visitor=1,
            )
        )
        session.add(ScrubCounter(site_id=blog, day=today, kind="email", count=2))
    code, out = analytics(env, "remove", "blog.example.com")  # asks first
    assert code != 0
    code, out = analytics(env, "remove", "blog.example.com", "--yes")
    assert code == 0 and "with its 1 events" in out, out
    with app.state.sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 0
        assert session.scalar(select(func.count()).select_from(ScrubCounter)) == 0
        assert "blog.example.com" not in session.scalars(select(Site.domain)).all()
    code, out = analytics(env, "remove", "blog.example.com", "--yes")
    assert code == 1 and "no site" in out


def test_the_server_syncs_the_policys_sites(client: object, app: FastAPI) -> None:
    with app.state.sessionmaker() as session:
        rows = session.execute(select(Site.domain, Site.source)).all()
    assert rows == [("www.contactmonkey.com", "policy")]
