"""Publishing versions: refusals, the notice period, and switching at the effective time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from avowal.app import create_app
from avowal.audit.models import AuditEntry
from avowal.cli import app as cli
from avowal.db.engine import make_sessionmaker
from avowal.lib import clock
from avowal.lifecycle import repository, service
from avowal.lifecycle.exceptions import (
    EffectiveDateMismatch,
    NoticeTooShort,
    UnpublishedPolicy,
    VersionExists,
)
from avowal.lifecycle.holder import resolve
from avowal.policy.loader import LoadedPolicy, parse_text
from avowal.settings import Settings
from tests.factories import policy_text

NOW = dt.datetime(2027, 1, 10, 12, 0, tzinfo=dt.UTC)


def _changed(effective: str | None = None, title: str = "Privacy Policy (2027)") -> LoadedPolicy:
    def change(data: dict[str, Any]) -> None:
        data["policy"]["title"] = title
        if effective is not None:
            data["policy"]["effective"] = dt.date.fromisoformat(effective)

    return parse_text(policy_text(change))


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch) -> dt.datetime:
    monkeypatch.setattr(clock, "now", lambda: NOW)
    return NOW


@pytest.fixture
def session(engine: Engine) -> Any:
    with make_sessionmaker(engine)() as s, s.begin():
        yield s


def _example() -> LoadedPolicy:
    return parse_text(policy_text())


def test_the_first_version_applies_at_once(session: Session, now: dt.datetime) -> None:
    v = service.publish(session, _example(), by="officer@example.com", production=True)
    assert clock.aware(v.effective_at) <= now
    assert v.previous_id is None and v.changes == [] and not v.material
    assert repository.in_effect(session, now) is v


def test_an_identical_policy_is_refused(session: Session, now: dt.datetime) -> None:
    service.publish(session, _example(), by="officer@example.com")
    with pytest.raises(VersionExists, match="already published"):
        service.publish(session, _example(), by="officer@example.com")


def test_production_refuses_a_version_sooner_than_the_notice_period(
    session: Session, now: dt.datetime
) -> None:
    service.publish(session, _example(), by="officer@example.com", production=True)
    with pytest.raises(NoticeTooShort, match="30 days' notice") as refused:
        service.publish(session, _changed("2027-01-20"), by="officer@example.com", production=True)
    assert refused.value.details["earliest"] == "2027-02-09"
    assert repository.get(session, _changed("2027-01-20").version_id) is None
    later = service.publish(
        session, _changed("2027-02-10"), by="officer@example.com", production=True
    )
    assert clock.aware(later.effective_at) == dt.datetime(2027, 2, 10, tzinfo=dt.UTC)
    assert repository.upcoming(session, now) == [later]


def test_outside_production_a_past_date_applies_at_once(session: Session, now: dt.datetime) -> None:
    service.publish(session, _example(), by="officer@example.com")
    v = service.publish(session, _changed(), by="officer@example.com")
    assert clock.aware(v.effective_at) == now
    assert repository.in_effect(session, now) is v


def test_effective_must_agree_with_the_file(session: Session, now: dt.datetime) -> None:
    with pytest.raises(EffectiveDateMismatch, match="make them agree"):
        service.publish(
            session, _changed("2027-03-01"), by="officer@example.com",
            effective=dt.date(2027, 3, 2),
        )  # fmt: skip


def test_publishing_is_audited(session: Session, now: dt.datetime) -> None:
    service.publish(session, _example(), by="officer@example.com")
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "publish")).one()
    assert entry.actor == "officer@example.com"


def test_production_refuses_to_start_on_a_never_published_file(
    session: Session, now: dt.datetime
) -> None:
    service.start(session, _example(), production=True)  # the first start publishes it
    with pytest.raises(UnpublishedPolicy, match="avowal policy publish"):
        service.start(session, _changed(), production=True)
    # Outside production an edited file is published as the server starts.
    assert service.start(session, _changed(), production=False).published_by == "server start"


def test_a_running_server_switches_at_the_effective_time_without_restart(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    moment = {"now": NOW}
    monkeypatch.setattr(clock, "now", lambda: moment["now"])
    app = create_app(settings.model_copy(update={"policy_refresh_seconds": 0}), engine=engine)
    with TestClient(app) as client:
        first = client.get("/v1/policy").json()["version_id"]
        announced = _changed("2027-02-15")
        with make_sessionmaker(engine)() as s, s.begin():
            service.publish(s, announced, by="officer@example.com", production=True)
        # Announced, not enforced.
        assert client.get("/v1/policy").json()["version_id"] == first
        assert "Privacy Policy (2027)" not in client.get("/privacy").text
        # The background workers (rollups and purges, mail) are handed the holder too.
        assert resolve(app.state.policies.current).version_id == first
        moment["now"] = dt.datetime(2027, 2, 15, 0, 0, 1, tzinfo=dt.UTC)
        assert client.get("/v1/policy").json()["version_id"] == announced.version_id
        assert "Privacy Policy (2027)" in client.get("/privacy").text
        assert resolve(app.state.policies.current).version_id == announced.version_id


def test_the_publish_command(
    settings: Settings, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clock, "now", lambda: NOW)
    for key, value in {
        "AVOWAL_ENV": "test",
        "AVOWAL_DATA_DIR": str(settings.data_dir),
        "AVOWAL_DATABASE_URL": settings.effective_database_url,
    }.items():
        monkeypatch.setenv(key, value)
    first = tmp_path / "first.yaml"
    first.write_text(policy_text())
    runner = CliRunner()
    out = runner.invoke(cli, ["policy", "publish", str(first), "--by", "officer@example.com"])
    assert out.exit_code == 0, out.output
    assert "first version" in out.output and "in effect now" in out.output
    again = runner.invoke(cli, ["policy", "publish", str(first)])
    assert again.exit_code == 1 and "already published" in again.output
    bad_date = runner.invoke(cli, ["policy", "publish", str(first), "--effective", "soon"])
    assert bad_date.exit_code == 2 and "not a date" in bad_date.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("avowal: 1\n")
    assert runner.invoke(cli, ["policy", "publish", str(broken)]).exit_code == 1
    second = tmp_path / "second.yaml"
    second.write_text(
        policy_text(lambda d: d["policy"].update(effective=dt.date(2027, 3, 1), title="New"))
    )
    out = runner.invoke(
        cli, ["policy", "publish", str(second), "--summary", "A new title.", "--by", "dpo"]
    )
    assert out.exit_code == 0, out.output
    assert "announced: servers switch to it at 2027-03-01" in out.output


def test_the_served_page_shows_the_version_in_effect_and_the_announced_one(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clock, "now", lambda: NOW)
    app = create_app(settings.model_copy(update={"policy_refresh_seconds": 0}), engine=engine)
    with TestClient(app) as client:
        first = client.get("/v1/policy").json()["version_id"]
        assert "A new version takes effect" not in client.get("/privacy").text
        announced = _changed("2027-02-15")
        with make_sessionmaker(engine)() as s, s.begin():
            service.publish(
                s, announced, by="officer@example.com", summary="A clearer title.",
                production=True,
            )  # fmt: skip
        page = client.get("/privacy").text
        assert "A new version takes effect on" in page and "15 February 2027" in page
        assert "A clearer title." in page
        assert f"/privacy/diff?from={first}&amp;to={announced.version_id}" in page
        assert 'href="/privacy/versions"' in page
        monkeypatch.setattr(clock, "now", lambda: dt.datetime(2027, 2, 16, tzinfo=dt.UTC))
        page = client.get("/privacy").text
        assert "A new version takes effect" not in page
        assert "In effect since" in page and "15 February 2027" in page
        assert f'href="/privacy/versions/{first}"' in page  # the earlier version


def test_production_publishes_no_promise_it_does_not_keep(
    settings: Settings, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clock, "now", lambda: NOW)
    for key, value in {
        "AVOWAL_ENV": "production",
        "AVOWAL_DATA_DIR": str(settings.data_dir),
        "AVOWAL_DATABASE_URL": settings.effective_database_url,
        # Mail not configured: the promises kept by mail (change notices, news) are not kept.
        "AVOWAL_MAIL_TRANSPORT": "none",
    }.items():
        monkeypatch.setenv(key, value)
    with make_sessionmaker(engine)() as s, s.begin():
        service.publish(s, _example(), by="officer@example.com")
    later = tmp_path / "later.yaml"
    later.write_text(policy_text(lambda d: d["policy"].update(effective=dt.date(2027, 6, 1))))
    out = CliRunner().invoke(cli, ["policy", "publish", str(later)])
    # The example states promises this server does not keep without mail.
    assert out.exit_code == 1
    assert "not published" in out.output and "change_notice_email" in out.output
    with make_sessionmaker(engine)() as s:
        assert len(repository.all_versions(s)) == 1
