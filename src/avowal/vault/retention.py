"""Retention: each vault value is destroyed, or loses a purpose, when a rule of the policy says.

The rule, in one place. For a living person's value and each retention rule that applies to it
(a category rule: the field's category is within the rule's; a purpose rule: one of the value's
purposes is within the rule's), the period starts at the value's collection (``collection``), at
the person's last activity or else the collection (``last_activity``), or at the account's
closure (``account_closure``; not running while the account is open). A rule is due when its
start plus its days has come. A due category rule destroys the value (and its lookup digest); a
due purpose rule takes the purposes within it away from the value, and a value left with no
purpose is destroyed. The policy in effect decides, so a period shortened in a new version
applies to the values already held.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from avowal.audit import service as audit
from avowal.db import engine as db
from avowal.lib import clock
from avowal.policy.loader import LoadedPolicy
from avowal.policy.schemas import RetentionRule
from avowal.policy.taxonomy import is_within
from avowal.vault import repository
from avowal.vault.exceptions import SubjectErased, SubjectNotFound
from avowal.vault.models import PersonalValue, RetentionRun, Subject
from avowal.vault.subjects import living_values

ACTOR, ROLE, ACTION = "avowal", "system", "retention"
# People per transaction: each person's row is locked until the batch commits.
BATCH = 100
# How often the worker applies the rules: retention periods are counted in days.
INTERVAL = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class RetentionReport:
    """What one run did: counts only, never a person or a value."""

    run_id: int
    started_at: dt.datetime
    finished_at: dt.datetime
    values_destroyed: int
    purposes_removed: int
    people: int


class Outcome(NamedTuple):
    """What the rules do to one value now: destroy it, or take these purposes away (and why)."""

    destroy: bool
    removed: tuple[str, ...]
    reasons: tuple[str, ...]


KEEP = Outcome(False, (), ())


def describe(rule: RetentionRule) -> str:
    """Name a rule in the audit: what it covers and how long after what."""
    covers = f"category {rule.category}" if rule.category else f"purpose {rule.purpose}"
    return f"retention rule {covers}: {rule.days} days after {rule.after.replace('_', ' ')}"


class Periods(Protocol):
    """When a person's periods start: a subject row, or what a read of their values returned."""

    @property
    def last_activity_at(self) -> dt.datetime | None: ...

    @property
    def closed_at(self) -> dt.datetime | None: ...


class Held(Protocol):
    """A held value as retention reads it: a row, or a read of the person's values."""

    @property
    def point(self) -> str: ...

    @property
    def field(self) -> str: ...

    @property
    def purposes(self) -> list[str]: ...

    @property
    def collected_at(self) -> dt.datetime: ...


def period_start(
    rule: RetentionRule, collected_at: dt.datetime, subject: Periods
) -> dt.datetime | None:
    """Return when the rule's period started for a value of this person (None: not running)."""
    if rule.after == "collection":
        return clock.aware(collected_at)
    if rule.after == "last_activity":
        return clock.aware(subject.last_activity_at or collected_at)
    return None if subject.closed_at is None else clock.aware(subject.closed_at)


def applies(rule: RetentionRule, category: str | None, purposes: list[str]) -> bool:
    """Tell whether a rule covers a value of this category held for these purposes."""
    if rule.category is not None:
        return category is not None and is_within(category, rule.category)
    assert rule.purpose is not None  # the policy check requires exactly one of the two
    return any(is_within(p, rule.purpose) for p in purposes)


def decide(loaded: LoadedPolicy, value: Held, subject: Periods, now: dt.datetime) -> Outcome:
    """Return what the policy in effect does to a value now."""
    point = loaded.policy.collection_points.get(value.point)
    spec = point.fields.get(value.field) if point is not None else None
    # A field the policy no longer declares has no known category: only purpose rules apply.
    category = spec.category if spec is not None else None
    left = list(value.purposes)
    removed: list[str] = []
    reasons: list[str] = []
    for rule in loaded.policy.retention:
        if not applies(rule, category, left):
            continue
        start = period_start(rule, value.collected_at, subject)
        if start is None or start + dt.timedelta(days=rule.days) > now:
            continue
        if rule.category is not None:
            return Outcome(True, tuple(value.purposes), (describe(rule),))
        assert rule.purpose is not None
        purpose = rule.purpose
        removed += [p for p in left if is_within(p, purpose)]
        left = [p for p in left if not is_within(p, purpose)]
        reasons.append(describe(rule))
    if not removed:
        return KEEP
    return Outcome(not left, tuple(removed), tuple(reasons))


class PersonResult(NamedTuple):
    destroyed: int
    removed: int


def enforce(
    session: Session, loaded: LoadedPolicy, subject_id: str, now: dt.datetime
) -> PersonResult:
    """Apply the retention rules to one living person's values (their row locked); audit each
    destruction and each removal of purposes, naming the rule and never a value."""
    # The person's row locked, their periods' start and their values, in one statement.
    held = living_values(session, subject_id, lock=True)
    destroyed: dict[str, list[str]] = {}
    stripped: dict[str, list[str]] = {}
    removed = 0
    gone: list[tuple[str, str]] = []
    kept: list[tuple[str, str, list[str]]] = []
    for row in sorted(held.rows, key=lambda r: (r.point, r.field)):
        outcome = decide(loaded, row, held.person, now)
        if outcome == KEEP:
            continue
        if outcome.destroy:
            gone.append((row.point, row.field))
            why = f"destroyed at {row.point}: {'; '.join(outcome.reasons)}"
            destroyed.setdefault(why, []).append(row.field)
            continue
        kept.append((row.point, row.field, [p for p in row.purposes if p not in outcome.removed]))
        removed += len(outcome.removed)
        why = (
            f"no longer held for {', '.join(outcome.removed)} at {row.point}: "
            f"{'; '.join(outcome.reasons)}"
        )
        stripped.setdefault(why, []).append(row.field)
    repository.set_purposes(session, subject_id, kept)
    repository.destroy_values(session, subject_id, gone)
    audit.append_many(
        session,
        [
            audit.Event(
                actor=ACTOR,
                role=ROLE,
                action=ACTION,
                subject_id=subject_id,
                fields=sorted(fields),
                reason=why,
            )
            for why, fields in [*destroyed.items(), *stripped.items()]
        ],
    )
    return PersonResult(sum(len(f) for f in destroyed.values()), removed)


def _people(factory: sessionmaker[Session], after: str, limit: int) -> list[str]:
    """Return the next living people holding values, by id, after ``after``."""
    with factory() as session:
        return list(
            session.scalars(
                select(Subject.id)
                .where(
                    Subject.erased_at.is_(None),
                    Subject.id > after,
                    select(PersonalValue.id).where(PersonalValue.subject_id == Subject.id).exists(),
                )
                .order_by(Subject.id)
                .limit(limit)
            )
        )


def due_to_run(factory: sessionmaker[Session], now: dt.datetime) -> bool:
    """Tell whether the last run is older than INTERVAL (periods are days: no need for more)."""
    with factory() as session:
        last = last_run(session)
    return last is None or clock.aware(last.started_at) + INTERVAL <= now


def run(
    factory: sessionmaker[Session], loaded: LoadedPolicy, now: dt.datetime | None = None
) -> RetentionReport:
    """Apply the retention rules to every living person's values, a batch of people per
    transaction, and record the run (a run that changed nothing replaces the previous such
    record, so the table grows only with runs that destroyed or removed something)."""
    now = clock.current(now)
    destroyed = removed = people = 0
    after = ""
    while batch := _people(factory, after, BATCH):
        after = batch[-1]
        with db.transaction(factory) as session:
            for subject_id in batch:
                try:
                    result = enforce(session, loaded, subject_id, now)
                except (SubjectErased, SubjectNotFound):
                    continue  # erased since the batch was read
                destroyed += result.destroyed
                removed += result.removed
                people += 1 if result.destroyed or result.removed else 0
    finished = max(now, clock.now())
    with db.transaction(factory) as session:
        last = last_run(session)
        quiet = last is not None and not (last.values_destroyed or last.purposes_removed)
        if quiet and not (destroyed or removed) and last is not None:
            record = last
            record.started_at, record.finished_at = now, finished
        else:
            record = RetentionRun(
                started_at=now,
                finished_at=finished,
                values_destroyed=destroyed,
                purposes_removed=removed,
                people=people,
            )
            session.add(record)
        session.flush()
        run_id = record.id
        engine = session.get_bind()
        if destroyed and isinstance(engine, Engine):
            # SQLite's log keeps the destroyed values' old page images until checkpointed.
            db.after_commit(session, lambda: db.purge_wal(engine))
    return RetentionReport(run_id, now, finished, destroyed, removed, people)


def last_run(session: Session) -> RetentionRun | None:
    """Return the latest recorded retention run, or None when it never ran."""
    return session.scalars(
        select(RetentionRun).order_by(RetentionRun.started_at.desc(), RetentionRun.id.desc())
    ).first()
