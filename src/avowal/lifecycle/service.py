"""Publish policy versions: immutable, with an effective time, announced before they apply.

A server enforces the version in effect (see :mod:`avowal.lifecycle.holder`); publishing a
version whose effective time is in the future announces it, and servers switch to it at that
time with no restart.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from avowal.audit import service as audit
from avowal.lib import clock
from avowal.lifecycle import repository
from avowal.lifecycle.exceptions import (
    EffectiveDateMismatch,
    NoticeTooShort,
    UnpublishedPolicy,
    VersionExists,
)
from avowal.lifecycle.models import PolicyVersion
from avowal.policy.loader import LoadedPolicy, parse_text

SERVER_START = "server start"


def midnight(day: dt.date) -> dt.datetime:
    """Return the start of ``day`` in UTC: a version dated ``day`` applies from then."""
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


@lru_cache(maxsize=16)
def _parsed(version_id: str, source: str) -> LoadedPolicy:
    # Published versions never change: each is parsed once per process.
    return parse_text(source, f"version {version_id[:12]}")


def loaded_version(row: PolicyVersion) -> LoadedPolicy:
    """Return a published version as a checked policy (its text, parsed once per process)."""
    return _parsed(row.version_id, row.source)


def effective_time(
    session: Session,
    loaded: LoadedPolicy,
    effective: dt.date | None,
    *,
    production: bool,
    now: dt.datetime,
) -> dt.datetime:
    """Return when a new version takes effect, refusing a date that breaks the notice period.

    The page states the file's ``policy.effective`` date, so ``effective`` (the command's
    ``--effective``) must agree with it. The first version applies at once (there is no one to
    tell yet). A later one applies at its date, or at once when that date has passed; in
    production it must be announced at least the notice period of the version in effect ahead.
    """
    stated = loaded.policy.policy.effective
    if effective is not None and effective != stated:
        raise EffectiveDateMismatch(
            f"the policy file says policy.effective: {stated.isoformat()} but --effective says "
            f"{effective.isoformat()}; the page states the file's date, so make them agree",
            file_effective=stated.isoformat(),
            effective=effective.isoformat(),
        )
    at = midnight(stated)
    current = repository.in_effect(session, now)
    if current is None:
        return min(at, now)
    notice_days = loaded_version(current).policy.changes.notice_days
    earliest = now + dt.timedelta(days=notice_days)
    if production and at < earliest:
        raise NoticeTooShort(
            f"the policy in effect promises {notice_days} days' notice of a change; this "
            f"version would take effect on {stated.isoformat()}, sooner than "
            f"{earliest.date().isoformat()}: set policy.effective to that date or later",
            effective=stated.isoformat(),
            earliest=earliest.date().isoformat(),
            notice_days=notice_days,
        )
    return max(at, now)


def publish(
    session: Session,
    loaded: LoadedPolicy,
    *,
    by: str,
    effective: dt.date | None = None,
    summary: str | None = None,
    production: bool = False,
    now: dt.datetime | None = None,
    audited: bool = True,
) -> PolicyVersion:
    """Store a new immutable version; refuse one already published or announced too late.

    A publication by a person is audited; a server recording the file it starts with is not.
    """
    from avowal.lifecycle import diff as policy_diff

    now = clock.current(now)
    existing = repository.get(session, loaded.version_id)
    if existing is not None:
        raise VersionExists(
            f"this policy is already published as version {loaded.version_id[:12]} "
            f"(effective {clock.aware(existing.effective_at).date().isoformat()}); "
            "change the policy to publish a new version",
            version_id=loaded.version_id,
        )
    at = effective_time(session, loaded, effective, production=production, now=now)
    previous = repository.in_effect(session, at) or repository.latest(session)
    changes: list[dict[str, object]] = []
    material = False
    if previous is not None:
        result = policy_diff.diff(loaded_version(previous), loaded)
        changes = [c.as_json() for c in result.changes]
        material = result.material
    version = PolicyVersion(
        version_id=loaded.version_id,
        effective=loaded.policy.policy.effective,
        effective_at=at,
        published_at=now,
        published_by=by,
        summary=summary,
        previous_id=previous.version_id if previous is not None else None,
        material=material,
        changes=changes,
        source=loaded.source,
        document=loaded.as_json(),
    )
    session.add(version)
    session.flush()
    if not audited:
        return version
    audit.append(
        session,
        audit.Event(
            actor=by,
            role="operator",
            action="publish",
            reason=f"version {loaded.version_id[:12]} effective {at.isoformat()}"
            + (" (material change)" if material else ""),
        ),
    )
    return version


def require_published(session: Session, loaded: LoadedPolicy) -> None:
    """Refuse (production) a policy file that was never published, when versions exist."""
    if repository.get(session, loaded.version_id) is None and repository.latest(session):
        raise UnpublishedPolicy(
            f"the policy file (version {loaded.version_id[:12]}) was never published; run "
            "`avowal policy publish FILE` to announce it with its notice period, then restart",
            version_id=loaded.version_id,
        )


def start(session: Session, loaded: LoadedPolicy, *, production: bool) -> PolicyVersion:
    """Make sure the policy a server starts with is published.

    The first start publishes it (there is no earlier version to announce a change against).
    Outside production a changed file is published at once, so editing the policy and
    restarting still works while developing; production refuses to start on a policy file that
    was never published, since that would bypass the notice period.
    """
    existing = repository.get(session, loaded.version_id)
    if existing is not None:
        return existing
    if production:
        require_published(session, loaded)
    try:
        # Another server process may publish the same version at the same moment.
        with session.begin_nested():
            return publish(
                session, loaded, by=SERVER_START, production=False, now=clock.now(), audited=False
            )
    except (IntegrityError, VersionExists):
        found = repository.get(session, loaded.version_id)
        assert found is not None
        return found


def record(session: Session, loaded: LoadedPolicy) -> PolicyVersion:
    """Record the policy a development or test server starts with (see :func:`start`)."""
    return start(session, loaded, production=False)
