"""The promise ledger against a database: attestations, `avowal promises`, production refusal,
and the evidence lines under the promises of /privacy (aggregates, "fewer than 5", cached)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import uuid
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from avowal.app import create_app
from avowal.audit.models import AuditEntry, AuditVerification
from avowal.cli import app as cli
from avowal.db.engine import make_sessionmaker
from avowal.lib import clock
from avowal.policy.loader import load_file
from avowal.promises import registry
from avowal.promises import service as promises
from avowal.promises.ids import PromiseId
from avowal.promises.models import Attestation
from avowal.settings import Settings
from avowal.vault.models import Disclosure, Subject
from tests.kept import attest_all, write_kept_policy

runner = CliRunner()
EVIDENCE = re.compile(r'<p class="evidence( flagged)?" data-promise="([a-z_]+)">([^<]*)</p>')


@pytest.fixture
def cli_env(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the command line at the test's migrated database."""
    for name in [k for k in os.environ if k.startswith("AVOWAL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AVOWAL_ENV", "test")
    monkeypatch.setenv("AVOWAL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("AVOWAL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AVOWAL_POLICY_FILE", str(settings.policy_file))


def evidence(html: str) -> dict[str, list[tuple[bool, str]]]:
    out: dict[str, list[tuple[bool, str]]] = {}
    for flagged, promise, text in EVIDENCE.findall(html):
        out.setdefault(promise, []).append((bool(flagged), text.replace("&#39;", "'")))
    return out


@pytest.mark.usefixtures("cli_env")
def test_attest_records_audits_and_refuses(engine: Engine) -> None:
    result = runner.invoke(
        cli, ["promises", "attest", "physical_security", "--by", "Grace Hopper", "--note", "keys"]
    )
    assert result.exit_code == 0, result.output
    assert "physical_security: attested by Grace Hopper on" in result.stdout
    with make_sessionmaker(engine)() as session:
        row = session.scalars(select(Attestation)).one()
        assert (row.promise, row.attested_by, row.note) == (
            "physical_security",
            "Grace Hopper",
            "keys",
        )
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "attest")).one()
        assert (entry.actor, entry.reason) == ("Grace Hopper", "physical_security")

    unknown = runner.invoke(cli, ["promises", "attest", "free_lunch", "--by", "Grace Hopper"])
    assert unknown.exit_code == 1
    assert "no promise 'free_lunch'" in unknown.stderr
    assert "physical_security" in unknown.stderr  # the ones that can be attested
    software = runner.invoke(cli, ["promises", "attest", "never_sold", "--by", "Grace Hopper"])
    assert software.exit_code == 1
    assert "kept by software (avowal.policy.checks.check)" in software.stderr
    with make_sessionmaker(engine)() as session:
        assert len(session.scalars(select(Attestation)).all()) == 1


@pytest.mark.usefixtures("cli_env")
def test_the_cli_lists_statuses_with_and_without_mail(monkeypatch: pytest.MonkeyPatch) -> None:
    def listed(transport: str) -> dict[str, dict[str, object]]:
        monkeypatch.setenv("AVOWAL_MAIL_TRANSPORT", transport)
        result = runner.invoke(cli, ["promises", "--json"])
        assert result.exit_code == 0, result.output
        return {row["id"]: row for row in json.loads(result.stdout)}

    files, none = listed("files"), listed("none")
    assert files["never_sold"]["status"] == "enforced"
    assert files["cookie_refusal"]["status"] == "enforced"
    assert files["parental_consent"]["status"] == "enforced"
    assert none["parental_consent"]["kept"] is False  # a parent cannot be asked without mail
    assert files["retention"]["status"] == "enforced"
    assert files["one_click_unsubscribe"]["status"] == "enforced"
    assert none["one_click_unsubscribe"]["kept"] is False  # news needs mail
    assert files["physical_security"]["status"] == "not_attested"
    assert "AVOWAL_SMTP_HOST" not in str(files["change_notice_email"]["detail"])
    assert none["change_notice_email"]["kept"] is False
    assert "AVOWAL_SMTP_HOST" in str(none["change_notice_email"]["detail"]) or (
        none["change_notice_email"]["status"] == "not_available"
    )
    text = runner.invoke(cli, ["promises"])
    assert text.exit_code == 0
    assert re.search(r"never_sold\s+enforced\s+never shared, rented or sold", text.stdout)
    strict = runner.invoke(cli, ["promises", "--strict"])
    assert strict.exit_code == 1


@pytest.mark.usefixtures("cli_env")
def test_an_attestation_goes_stale_after_a_year(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    with monkeypatch.context() as m:
        m.setattr(clock, "now", lambda: long_ago)
        attested = runner.invoke(cli, ["promises", "attest", "internal_review", "--by", "Ada"])
    assert attested.exit_code == 0, attested.output
    rows = json.loads(
        runner.invoke(
            cli, ["promises", "--json", "--policy", os.environ["AVOWAL_POLICY_FILE"]]
        ).stdout
    )
    review = next(r for r in rows if r["id"] == "internal_review")
    assert (review["status"], review["kept"], review["attested_by"]) == (
        "attestation_stale",
        True,
        "Ada",
    )
    assert "attest again" in review["detail"]


def test_production_refuses_naming_each_unkept_promise(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    production = settings.model_copy(
        update={
            "env": "production",
            "public_url": "https://privacy.example.com",
            "trusted_proxies": ["10.0.0.0/8"],
            "mail_transport": "none",
        }
    )
    with pytest.raises(promises.PromisesNotKept) as refused:
        create_app(production, engine=engine)
    message = str(refused.value)
    # Without mail, every promise kept by mail is named, with what to set.
    assert "change_notice_email" in message and "one_click_unsubscribe" in message
    assert "mail is not configured" in message
    assert "retention" not in message
    assert "parental_consent" in message  # no mail: a parent cannot be asked
    assert "avowal promises attest internal_review --by NAME" in message
    kept = write_kept_policy(tmp_path / "kept")
    with pytest.raises(promises.PromisesNotKept) as unattested:
        create_app(production.model_copy(update={"policy_file": kept}), engine=engine)
    assert "confidentiality_contract" in str(unattested.value)
    assert "cookie_refusal" not in str(unattested.value)
    attest_all(engine, kept)
    # Kept and attested: nothing left to refuse.
    promises.check_kept(production, load_file(kept), promises.attestations_from(engine))


def _subject(session: Session, n: int) -> str:
    sid = str(uuid.uuid4())
    session.add(Subject(id=sid, ref=f"user-{n}", created_at=clock.now()))
    return sid


def _disclose(app: FastAPI, n: int, *, days_ago: int = 1) -> None:
    at = clock.now() - dt.timedelta(days=days_ago)
    with app.state.sessionmaker() as session, session.begin():
        for i in range(n):
            sid = _subject(session, i + 1000 * days_ago + n * 7)
            session.flush()
            session.add(
                Disclosure(
                    id=str(uuid.uuid4()),
                    subject_id=sid,
                    recipient="payment_processor",
                    purpose="essential.service.payment_processing",
                    fields=["name"],
                    receipt_ids=[],
                    actor="web_backend",
                    at=at,
                )
            )


def test_evidence_lines_show_aggregates_below_and_above_the_threshold(
    app: FastAPI, client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every registered mechanism is built now: make one up as missing, to see how it is stated.
    unbuilt = dataclasses.replace(
        registry.REGISTRY[PromiseId.one_click_unsubscribe],
        mechanism=None,
        missing="one-click unsubscribe and the privacy center (issue 12)",
    )
    monkeypatch.setitem(registry.REGISTRY, PromiseId.one_click_unsubscribe, unbuilt)  # type: ignore[index]
    _disclose(app, 3)
    _disclose(app, 9, days_ago=120)  # outside the 90 days
    with app.state.sessionmaker() as session, session.begin():
        session.add(AuditVerification(at=clock.now(), entries=1234, seconds=0.25, ok=True))
    page = evidence(client.get("/privacy").text)
    assert page["announced_recipients"] == [
        (
            False,
            "Disclosures to outside parties in the last 90 days: Card payment processor: fewer "
            "than 5; Law-enforcement and regulatory authorities: fewer than 5.",
        )
    ]
    assert "1234 entries checked in 0.2 s, intact" in page["internal_review"][-1][1] or (
        "1234 entries checked in 0.3 s, intact" in page["internal_review"][-1][1]
    )
    assert page["never_sold"][0][1].startswith("Sales: none possible.")
    assert page["legal_disclosures"] == [
        (False, "Legal requests answered in the last 12 months: fewer than 5.")
    ]
    assert page["confidentiality_acknowledged"][0][1].endswith(
        "fewer than 5 of fewer than 5 active."
    )
    # Promises not kept by this server are stated, and marked; organisational ones not attested.
    assert page["one_click_unsubscribe"] == [
        (
            True,
            "Not yet enforced by this site's software: one-click unsubscribe and the privacy "
            "center.",
        )
    ]
    # Kept by the worker: when it last applied the periods (flagged while it never has).
    assert page["retention"] == [(True, "The retention periods have not been applied yet.")]
    # What the operator must configure is said to the operator, not to visitors.
    assert page["tls"] == [
        (
            True,
            "Not yet enforced by this site's software: the site's operator has not configured "
            "what keeps it.",
        )
    ]
    assert page["physical_security"] == [(True, "An organisational measure, not attested yet.")]
    # Markdown stays static.
    assert "evidence" not in client.get("/privacy.md").text
    assert "fewer than 5" not in client.get("/privacy.md").text

    # Cached: more disclosures are not shown until the cache expires.
    _disclose(app, 4)
    assert "Card payment processor: fewer than 5" in client.get("/privacy").text
    later = clock.now() + dt.timedelta(seconds=app.state.settings.evidence_cache_seconds + 1)
    monkeypatch.setattr(clock, "now", lambda: later)
    page = evidence(client.get("/privacy").text)
    assert "Card payment processor: 7;" in page["announced_recipients"][0][1]


def test_attested_measures_show_who_and_when_and_stale_ones_are_flagged(
    app: FastAPI, client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    long_ago = clock.now() - dt.timedelta(days=400)
    with app.state.sessionmaker() as session, session.begin():
        promises.attest(session, "physical_security", "Grace Hopper")
        with monkeypatch.context() as m:
            m.setattr(clock, "now", lambda: long_ago)
            promises.attest(session, "confidentiality_contract", "Ada Lovelace")
    page = evidence(client.get("/privacy").text)
    flagged, text = page["physical_security"][0]
    assert not flagged and text.startswith("An organisational measure, attested by Grace Hopper on")
    flagged, text = page["confidentiality_contract"][0]
    assert flagged and "more than a year ago" in text
