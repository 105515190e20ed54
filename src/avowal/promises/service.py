"""The promise ledger's rules: where each stated promise stands, attestations, the production
check and the evidence lines of the page."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from avowal.audit import service as audit
from avowal.db.engine import make_read_sessionmaker
from avowal.lib import clock
from avowal.lib.errors import AvowalError
from avowal.policy.loader import LoadedPolicy
from avowal.promises import registry
from avowal.promises.evidence import EvidenceLine, day
from avowal.promises.ids import PromiseId
from avowal.promises.models import Attestation
from avowal.promises.promise import AttestationRecord, Kind, Promise, State, Status
from avowal.promises.schemas import PromiseReview
from avowal.settings import Settings

Attestations = Mapping[str, AttestationRecord]
Evidence = Mapping[PromiseId, tuple[EvidenceLine, ...]]


class PromisesNotKept(RuntimeError):
    """The policy states promises this server does not keep: production refuses to start."""

    def __init__(self, unkept: list[tuple[Promise, Status]]) -> None:
        self.unkept = unkept
        lines = [f"- {p.id} ({p.statement}): {s.state}: {s.detail}" for p, s in unkept]
        super().__init__(
            f"production refuses to publish {len(unkept)} promise(s) this server does not keep; "
            "configure them, or remove them from the policy:\n" + "\n".join(lines)
        )


class NotAttestable(AvowalError):
    """An attestation for an id that is not an organisational measure."""

    status_code = 400
    error = "not_attestable"


@dataclass(frozen=True)
class Entry:
    """One stated promise and where it stands."""

    promise: Promise
    status: Status


def attestations(session: Session) -> dict[str, AttestationRecord]:
    """Return the latest attestation of each promise."""
    out: dict[str, AttestationRecord] = {}
    rows = session.scalars(select(Attestation).order_by(Attestation.attested_at, Attestation.id))
    for row in rows:
        out[row.promise] = AttestationRecord(
            row.promise, row.attested_by, clock.aware(row.attested_at), row.note
        )
    return out


def attestations_from(engine: Engine) -> dict[str, AttestationRecord]:
    """Read the latest attestations, or none when the table cannot be read (not migrated)."""
    try:
        with make_read_sessionmaker(engine)() as session:
            return attestations(session)
    except SQLAlchemyError:
        return {}


def attest(
    session: Session, promise_id: str, by: str, note: str | None = None
) -> AttestationRecord:
    """Record that ``by`` attests an organisational measure now, in the audit chain too."""
    promise = registry.get(promise_id)
    if promise is None:
        known = ", ".join(p.id for p in registry.REGISTRY.values() if p.kind is Kind.organisational)
        raise NotAttestable(f"no promise '{promise_id}'; organisational measures are: {known}")
    if promise.kind is not Kind.organisational:
        raise NotAttestable(
            f"'{promise_id}' is kept by software ({promise.mechanism}), not attested by people"
        )
    by = by.strip()
    if not by:
        raise NotAttestable("say who attests it (--by NAME)")
    now = clock.now()
    session.add(Attestation(promise=promise.id, attested_by=by, attested_at=now, note=note))
    audit.append(
        session,
        audit.Event(actor=by, role="attestation", action="attest", purpose=None, reason=promise.id),
    )
    return AttestationRecord(promise.id, by, now, note)


def ledger(
    settings: Settings,
    loaded: LoadedPolicy,
    found: Attestations,
    now: dt.datetime | None = None,
) -> list[Entry]:
    """Return each promise the policy states with its status."""
    now = clock.current(now)
    return [Entry(p, p.status(settings, loaded, found, now)) for p in registry.stated(loaded)]


def check_kept(
    settings: Settings, loaded: LoadedPolicy, found: Attestations, now: dt.datetime | None = None
) -> None:
    """Raise PromisesNotKept naming each stated promise not kept and what to do about it."""
    unkept = [
        (e.promise, e.status) for e in ledger(settings, loaded, found, now) if not e.status.kept
    ]
    if unkept:
        raise PromisesNotKept(unkept)


def review_section(
    session: Session, settings: Settings, loaded: LoadedPolicy, now: dt.datetime | None = None
) -> list[PromiseReview]:
    """Return the internal review's promises section: statuses, attestations, stale ones."""
    rows = []
    for e in ledger(settings, loaded, attestations(session), now):
        a = e.status.attestation
        rows.append(
            PromiseReview(
                id=e.promise.id,
                statement=e.promise.statement,
                kind=e.promise.kind,
                status=e.status.state,
                kept=e.status.kept,
                flagged=e.status.flagged,
                detail=e.status.detail or None,
                attested_by=a.by if a else None,
                attested_at=a.at if a else None,
            )
        )
    return rows


NOT_KEPT = "Not yet enforced by this site's software"


def _status_line(promise: Promise, status: Status) -> EvidenceLine | None:
    a = status.attestation
    if status.state is State.attested and a is not None:
        return EvidenceLine(f"An organisational measure, attested by {a.by} on {day(a.at)}.")
    if status.state is State.attestation_stale and a is not None:
        return EvidenceLine(
            f"An organisational measure, attested by {a.by} on {day(a.at)}: more than a year "
            "ago, due for a new attestation.",
            flagged=True,
        )
    if status.state is State.not_attested:
        return EvidenceLine("An organisational measure, not attested yet.", flagged=True)
    if status.state is State.enforced:
        return None
    if status.state is State.not_available:
        # Visitors read this line: the feature, not the tracker's issue number.
        what = _ISSUE.sub("", promise.missing or "the mechanism that keeps it")
    else:
        # How to configure it is for the operator (`avowal promises`), not for visitors.
        what = "the site's operator has not configured what keeps it"
    return EvidenceLine(f"{NOT_KEPT}: {what}.", flagged=True)


_ISSUE = re.compile(r"\s*\(issue \d+\)$")


def evidence_lines(
    session: Session, settings: Settings, loaded: LoadedPolicy, now: dt.datetime | None = None
) -> dict[PromiseId, tuple[EvidenceLine, ...]]:
    """Compute the evidence lines of every stated promise from the database (aggregates only)."""
    now = clock.current(now)
    out: dict[PromiseId, tuple[EvidenceLine, ...]] = {}
    for entry in ledger(settings, loaded, attestations(session), now):
        lines = []
        head = _status_line(entry.promise, entry.status)
        if head is not None:
            lines.append(head)
        if entry.promise.evidence is not None:
            line = entry.promise.evidence(session, loaded, now)
            if line is not None:
                lines.append(line)
        if lines:
            out[entry.promise.id] = tuple(lines)
    return out


class EvidenceCache:
    """Keep the page's evidence lines for ``seconds``, per policy version (one per process)."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._kept: dict[str, tuple[dt.datetime, Evidence]] = {}

    def get(self, key: str, compute: Callable[[], Evidence]) -> Evidence:
        """Return the lines cached under ``key``, computing them when absent or too old."""
        now = clock.now()
        with self._lock:
            found = self._kept.get(key)
            if found is not None and now - found[0] < dt.timedelta(seconds=self.seconds):
                return found[1]
        lines = compute()
        with self._lock:
            self._kept[key] = (now, lines)
        return lines
