"""Retention of vault values: each rule of the policy in effect, applied by the worker's pass.

The example policy: the card 730 days after collection; essential.service 365 days after the
account's closure; marketing e-mails 730 days after the person's last activity.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from avowal.app import create_app
from avowal.audit.models import AuditEntry
from avowal.client import AvowalError, Client, NotFound, SubjectErased
from avowal.crypto import cipher
from avowal.lib import clock as avowal_clock
from avowal.mail import worker
from avowal.review import render
from avowal.review import service as review
from avowal.settings import Settings
from avowal.vault import retention
from avowal.vault.models import BlindIndex, PersonalValue, RetentionRun, Subject
from tests import stored
from tests.factories import PURCHASE, REGISTRATION, write_policy

AUTHENTICATION = "essential.service.authentication"
MARKETING = "marketing.communications.email"
REG_PURPOSES = [
    "essential.service.authentication",
    "essential.service.notifications.email",
    "essential.service.operations.support",
]
BUY_PURPOSES = ["essential.service.notifications.email", "essential.service.payment_processing"]


class Frozen:
    """A clock the tests move by hand."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> Frozen:
    """Freeze avowal's clock; tests advance it."""
    clock = Frozen()
    monkeypatch.setattr(avowal_clock, "now", lambda: clock.now)
    return clock


def person(backend: Client, ref: str) -> str:
    """Register someone and let them buy a subscription; return their id."""
    reg = backend.collect("registration", REGISTRATION, ref=ref)
    backend.collect("purchase", PURCHASE, subject_id=reg["subject_id"])
    return reg["subject_id"]


def held(app: FastAPI, sid: str) -> dict[tuple[str, str], list[str]]:
    """Return a person's values as (point, field) -> sorted purposes."""
    with app.state.sessionmaker() as s:
        rows = s.scalars(select(PersonalValue).where(PersonalValue.subject_id == sid))
        return {(r.point, r.field): sorted(r.purposes) for r in rows}


def everything() -> dict[tuple[str, str], list[str]]:
    """What registration and purchase leave, unchanged by any rule."""
    out = {("registration", f): REG_PURPOSES for f in REGISTRATION}
    out[("registration", "email")] = sorted([*REG_PURPOSES, MARKETING])
    out.update({("purchase", f): BUY_PURPOSES for f in PURCHASE})
    return out


def apply(app: FastAPI) -> retention.RetentionReport:
    """Run the retention rules as the worker does, at the frozen now."""
    return retention.run(app.state.sessionmaker, app.state.policies.current())


def test_the_card_goes_exactly_730_days_after_collection_and_nothing_else(
    backend: Client, app: FastAPI, frozen: Frozen
) -> None:
    sid = person(backend, "user-1")
    frozen.advance(days=729)
    # Signed in the day before: the marketing period starts again, only the card's runs out.
    backend.read(sid, purpose=AUTHENTICATION)
    first = apply(app)
    assert (first.values_destroyed, first.purposes_removed, first.people) == (0, 0, 0)
    assert held(app, sid) == everything()
    frozen.advance(days=1)
    second = apply(app)
    assert (second.values_destroyed, second.purposes_removed, second.people) == (1, 0, 1)
    expected = everything()
    del expected[("purchase", "card")]
    assert held(app, sid) == expected
    with app.state.sessionmaker() as s:
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "retention").order_by(AuditEntry.seq)
        ).one()
    assert (entry.actor, entry.role, entry.subject_id, entry.fields) == (
        "avowal",
        "system",
        sid,
        '["card"]',  # stored as JSON text in the chain
    )
    assert entry.reason is not None
    assert "category user.financial.credit_card: 730 days after collection" in entry.reason
    assert "4242" not in entry.reason
    # Read for payment: the card is gone, the rest of the purchase is still there.
    read = backend.read(sid, purpose="essential.service.payment_processing")
    assert set(read.values) == {"name", "email", "address"}


def test_marketing_goes_after_two_years_without_activity_not_after_a_sign_in(
    backend: Client, as_role: Any, app: FastAPI, frozen: Frozen
) -> None:
    idle = person(backend, "idle")
    active = person(backend, "active")
    frozen.advance(days=400)
    backend.read(active, purpose=AUTHENTICATION)  # the person signs in
    frozen.advance(days=329)  # 729 days after collection
    assert apply(app).purposes_removed == 0
    frozen.advance(days=1)  # 730 days after collection, 330 after the sign-in
    report = apply(app)
    assert report.purposes_removed == 1
    assert held(app, idle)[("registration", "email")] == REG_PURPOSES  # still held for service
    assert held(app, active)[("registration", "email")] == sorted([*REG_PURPOSES, MARKETING])
    newsletter = as_role("newsletter_service")
    assert "email" not in newsletter.read(idle, purpose=MARKETING).values
    assert newsletter.read(active, purpose=MARKETING).values["email"].value == "ada@example.com"
    # The idle person can no longer be found for marketing; the active one can.
    found = newsletter.lookup("email", "ada@example.com", purpose=MARKETING)
    assert found == [active]
    frozen.advance(days=400)  # 730 days after the sign-in
    apply(app)
    assert held(app, active)[("registration", "email")] == REG_PURPOSES


def test_after_closure_and_a_year_the_essential_values_go(
    backend: Client, app: FastAPI, frozen: Frozen
) -> None:
    sid = person(backend, "user-1")
    frozen.advance(days=10)
    closed = backend.closure(sid)
    assert closed.closed_at == avowal_clock.iso(frozen.now)
    frozen.advance(days=5)
    assert backend.closure(sid).closed_at == closed.closed_at  # the first time counts
    with app.state.sessionmaker() as s:
        reasons = s.scalars(
            select(AuditEntry.reason)
            .where(AuditEntry.subject_id == sid, AuditEntry.action == "close")
            .order_by(AuditEntry.seq)
        ).all()
    assert reasons == [None, "already closed"]
    frozen.advance(days=359)  # 364 days after closure
    assert apply(app).values_destroyed == 0
    frozen.advance(days=1)
    report = apply(app)
    # Every value held only for the service goes; the e-mail keeps only its marketing use.
    assert report.values_destroyed == len(REGISTRATION) - 1 + len(PURCHASE)
    assert held(app, sid) == {("registration", "email"): [MARKETING]}
    with app.state.sessionmaker() as s:
        digests = s.scalars(select(BlindIndex.point).where(BlindIndex.subject_id == sid)).all()
    assert digests == ["registration"]  # the purchase e-mail's lookup digest went with it
    frozen.advance(days=730 - 375)  # two years after the last activity (the purchase)
    assert apply(app).values_destroyed == 1
    assert held(app, sid) == {}


def test_closure_is_only_for_the_back_end_and_living_people(
    backend: Client, as_role: Any, app: FastAPI
) -> None:
    sid = person(backend, "user-1")
    with pytest.raises(AvowalError) as refused:
        as_role("newsletter_service").closure(sid)
    assert (refused.value.status, refused.value.error) == (403, "closure_not_allowed")
    with app.state.sessionmaker() as s:
        last = s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        subject = s.get(Subject, sid)
    assert last is not None and subject is not None
    assert (last.action, last.decision, last.subject_id) == ("close", "deny", sid)
    assert subject.closed_at is None
    with pytest.raises(NotFound):
        backend.closure("00000000-0000-0000-0000-000000000000")
    backend.erase(sid)
    with pytest.raises(SubjectErased):
        backend.closure(sid)


def test_a_shortened_period_in_a_new_version_applies_to_held_values(
    backend: Client,
    app: FastAPI,
    frozen: Frozen,
    settings: Settings,
    engine: Engine,
    tmp_path: Path,
) -> None:
    sid = person(backend, "user-1")
    frozen.advance(days=400)
    assert apply(app).values_destroyed == 0

    def shorten(data: dict[str, Any]) -> None:
        assert data["retention"][0]["category"] == "user.financial.credit_card"
        data["retention"][0]["days"] = 365

    changed = settings.model_copy(update={"policy_file": write_policy(tmp_path, shorten)})
    with TestClient(create_app(changed, engine=engine)) as other:
        report = apply(other.app)  # type: ignore[arg-type]
    assert report.values_destroyed == 1
    assert ("purchase", "card") not in held(app, sid)


def test_destroyed_values_leave_no_trace_and_kept_ones_stay_readable(
    backend: Client, as_role: Any, app: FastAPI, frozen: Frozen, settings: Settings
) -> None:
    sid = person(backend, "user-1")
    with app.state.sessionmaker() as s:
        sealed = {
            (r.point, r.field): r.ciphertext
            for r in s.scalars(select(PersonalValue).where(PersonalValue.subject_id == sid))
        }
    billing = cipher.blind_index(app.state.secrets.index_key, "email", PURCHASE["email"])
    before = stored.every_row(app)
    assert billing in before and all(c in before for c in sealed.values() if c is not None)
    backend.closure(sid)
    frozen.advance(days=365)
    apply(app)
    # On SQLite, the embedded database's files themselves too, free pages and the WAL included.
    raw = stored.everything(app, settings)
    gone = [k for k in sealed if k != ("registration", "email")]
    for key in gone:
        ciphertext = sealed[key]
        assert ciphertext is not None
        assert ciphertext not in raw, key
        assert ciphertext[12:28] not in raw, key  # not even a fragment
    assert billing not in raw  # the purchase e-mail can no longer be looked up
    kept = sealed[("registration", "email")]
    assert kept is not None and kept in raw
    read = as_role("newsletter_service").read(sid, purpose=MARKETING)
    assert read.values["email"].value == REGISTRATION["email"]
    assert backend.read(sid, purpose=AUTHENTICATION).values == {}


def test_the_run_is_recorded_by_the_worker_and_shown_in_the_review(
    backend: Client, app: FastAPI, frozen: Frozen, settings: Settings, client: TestClient
) -> None:
    state = app.state

    def built() -> Any:
        with state.sessionmaker() as session:
            return review.build(
                session, state.policies.current(), settings, public_key=None, now=frozen.now
            )

    never = built()
    assert never.retention.rules == 4 and never.retention.last_run is None
    assert review.NO_RETENTION_RUN in never.notes
    assert "Retention: never run." in render.render_html(never)
    assert "The retention periods have not been applied yet." in client.get("/privacy").text
    person(backend, "user-1")
    frozen.advance(days=730)
    no_mail = settings.model_copy(update={"mail_transport": "none"})
    report = worker.run_pass(state.sessionmaker, no_mail, state.secrets, state.policies.current())
    # With mail not configured, retention runs all the same.
    assert not report.configured
    assert (report.retention_destroyed, report.retention_purposes_removed) == (1, 1)
    with state.sessionmaker() as s:
        run = s.scalars(select(RetentionRun)).one()
    assert (run.values_destroyed, run.purposes_removed, run.people) == (1, 1, 1)
    assert avowal_clock.aware(run.started_at) == frozen.now
    shown = built()
    last = shown.retention.last_run
    assert last is not None and (last.values_destroyed, last.purposes_removed) == (1, 1)
    assert last.started_at == frozen.now
    assert review.NO_RETENTION_RUN not in shown.notes
    html = render.render_html(shown)
    assert "Retention last run" in html and "1 value(s) destroyed" in html
    assert '"retention": {' in render.render_json(shown)
    page = client.get("/privacy").text
    assert "Retention periods last applied to the data we hold on" in page


def test_the_worker_runs_it_at_most_every_interval_and_quiet_runs_do_not_pile_up(
    backend: Client, app: FastAPI, frozen: Frozen, settings: Settings
) -> None:
    state = app.state
    no_mail = settings.model_copy(update={"mail_transport": "none"})

    def tick() -> worker.PassReport:
        return worker.run_pass(state.sessionmaker, no_mail, state.secrets, state.policies.current())

    def runs() -> list[tuple[int, int, dt.datetime]]:
        with state.sessionmaker() as s:
            rows = s.scalars(select(RetentionRun).order_by(RetentionRun.id)).all()
            return [
                (r.values_destroyed, r.purposes_removed, avowal_clock.aware(r.started_at))
                for r in rows
            ]

    person(backend, "user-1")
    tick()
    first = runs()
    assert len(first) == 1
    frozen.advance(minutes=5)
    tick()  # within the interval: not run again
    assert runs() == first
    frozen.advance(minutes=15)
    tick()  # a quiet run replaces the quiet record
    assert runs() == [(0, 0, frozen.now)]
    frozen.advance(days=730)
    assert tick().retention_destroyed == 1  # the card
    frozen.advance(hours=1)
    tick()
    kept = runs()
    assert [(d, r) for d, r, _ in kept] == [(0, 0), (1, 1), (0, 0)]  # the busy run is kept
