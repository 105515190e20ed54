"""Change notices: one e-mail per person with a service address before a version takes effect."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from avowal.app import create_app
from avowal.client import Client
from avowal.lib import clock
from avowal.lifecycle import notices
from avowal.lifecycle import service as lifecycle
from avowal.lifecycle.models import ChangeNotification
from avowal.mail.models import OutboxMessage
from avowal.settings import Settings
from tests.integration.lifecycle.changes_setup import (
    AFTER,
    EFFECTIVE,
    T0,
    asker,
    customer,
    delivered,
    mail_pass,
    publish,
    v2,
)


@pytest.fixture
def moment(monkeypatch: pytest.MonkeyPatch) -> dict[str, dt.datetime]:
    moment = {"now": T0}
    monkeypatch.setattr(clock, "now", lambda: moment["now"])
    return moment


@pytest.fixture
def app(settings: Settings, engine: Engine, moment: dict[str, dt.datetime]) -> FastAPI:
    return create_app(settings.model_copy(update={"policy_refresh_seconds": 0}), engine=engine)


@pytest.fixture
def people(backend: Client) -> dict[str, str]:
    return {
        "buyer": customer(backend, "buyer", buys=True),
        "other_buyer": customer(backend, "other-buyer", buys=True),
        "no_address": asker(backend, "asker"),
    }


def _notifications(app: FastAPI) -> list[ChangeNotification]:
    with app.state.sessionmaker() as s:
        return list(s.scalars(select(ChangeNotification).order_by(ChangeNotification.subject_id)))


def test_an_announced_version_mails_each_person_with_a_service_address_once(
    app: FastAPI, settings: Settings, engine: Engine, people: dict[str, str]
) -> None:
    old = app.state.policies.current().version_id
    version = publish(engine, v2())
    report = mail_pass(app)
    assert report.sent and not report.failed
    told = _notifications(app)
    assert {n.subject_id for n in told} == {people["buyer"], people["other_buyer"]}
    assert {n.via for n in told} == {"email"}
    outbox = settings.mail_outbox_path
    for who in ("buyer", "other_buyer"):
        (message,) = delivered(outbox, people[who])
        ref = who.replace("_", "-")
        assert message["To"] in {f"{ref}@example.com", f"{ref}.billing@example.com"}
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        text = body.get_content()
        assert EFFECTIVE.date().isoformat() in text
        assert f"/privacy/diff?from={old}&to={version.version_id}" in text
        assert "Support may help with purchases." in text
        note = next(n for n in told if n.subject_id == people[who])
        assert clock.aware(note.notified_at) < EFFECTIVE
        assert note.message_id is not None
        assert (outbox / people[who] / f"{note.message_id}.eml").exists()
    # Their e-mail was collected to answer a question only: not an address for service notices.
    assert delivered(outbox, people["no_address"]) == []
    # A second pass tells no one twice.
    again = mail_pass(app)
    assert again.sent == []
    assert len(_notifications(app)) == 2
    for who in ("buyer", "other_buyer"):
        assert len(delivered(outbox, people[who])) == 1


def test_change_notices_are_batched_and_idempotent(
    app: FastAPI, engine: Engine, people: dict[str, str]
) -> None:
    version = publish(engine, v2())
    state = app.state
    with state.sessionmaker() as s, s.begin():
        first = notices.notify_upcoming(
            s, lifecycle.loaded_version, state.secrets, state.settings, batch=1
        )
    assert len(first.queued) == 1 and first.versions == [version.version_id]
    # A process that read the same person as a candidate finds them told: it skips, sends nothing.
    (told,) = _notifications(app)
    with state.sessionmaker() as s, s.begin():
        row = s.get(type(version), version.version_id)
        assert row is not None
        assert notices._tell(
            s, state.secrets, state.settings, state.policies.current(), row, told.subject_id, T0
        ) is None  # fmt: skip
    with state.sessionmaker() as s, s.begin():
        rest = notices.notify_upcoming(s, lifecycle.loaded_version, state.secrets, state.settings)
    assert len(rest.queued) == 1 and rest.queued[0] != first.queued[0]
    with state.sessionmaker() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 2
    assert len(_notifications(app)) == 2


def test_no_notice_after_the_version_took_effect_nor_for_the_erased(
    app: FastAPI, engine: Engine, people: dict[str, str], backend: Client,
    moment: dict[str, dt.datetime],
) -> None:  # fmt: skip
    backend.erase(people["other_buyer"])
    publish(engine, v2())
    mail_pass(app)
    assert {n.subject_id for n in _notifications(app)} == {people["buyer"]}
    # Someone first collected after the effective date is not told of it: it is in effect.
    moment["now"] = AFTER
    late = customer(backend, "late", buys=True)
    assert mail_pass(app).sent == []
    assert late not in {n.subject_id for n in _notifications(app)}


def test_without_mail_nothing_is_queued(
    settings: Settings, engine: Engine, moment: dict[str, dt.datetime],
    as_role: Callable[[str], Client], app: FastAPI,
) -> None:  # fmt: skip
    customer(as_role("web_backend"), "buyer", buys=True)
    publish(engine, v2())
    off = settings.model_copy(update={"mail_transport": "none"})
    with app.state.sessionmaker() as s, s.begin():
        report = notices.notify_upcoming(s, lifecycle.loaded_version, app.state.secrets, off)
    assert not report.configured and report.queued == []
    assert _notifications(app) == []


def test_the_promise_in_effect_is_kept_when_the_new_version_drops_email(
    app: FastAPI, engine: Engine, people: dict[str, str]
) -> None:
    state = app.state
    publish(engine, v2(notify_by=["posting", "banner"]))
    with state.sessionmaker() as s, s.begin():
        report = notices.notify_upcoming(s, lifecycle.loaded_version, state.secrets, state.settings)
    # People live under the policy in effect, which promised notice of changes by e-mail.
    assert len(report.queued) == 2


def test_the_banner_endpoint_shows_the_announced_change(
    client: TestClient, engine: Engine, app: FastAPI, moment: dict[str, dt.datetime]
) -> None:
    first = app.state.policies.current().version_id
    quiet = client.get("/v1/policy/changes")
    assert quiet.status_code == 200
    assert quiet.json()["in_effect"] == first and quiet.json()["upcoming"] == []
    version = publish(engine, v2())
    body: dict[str, Any] = client.get("/v1/policy/changes").json()
    assert body["in_effect"] == first
    assert body["versions_url"].endswith("/privacy/versions")
    (upcoming,) = body["upcoming"]
    assert upcoming["version_id"] == version.version_id
    assert upcoming["previous_id"] == first
    assert upcoming["effective"] == EFFECTIVE.date().isoformat()
    assert upcoming["summary"] == "Support may help with purchases."
    assert upcoming["material"] is version.material
    assert upcoming["changes"] and all(isinstance(line, str) for line in upcoming["changes"])
    assert upcoming["diff_url"].endswith(f"/privacy/diff?from={first}&to={version.version_id}")
    moment["now"] = AFTER
    later = client.get("/v1/policy/changes").json()
    assert later["in_effect"] == version.version_id and later["upcoming"] == []
