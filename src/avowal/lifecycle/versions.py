"""Published versions as readers see them: found by id prefix, their state, their predecessor."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from avowal.lib import clock
from avowal.lifecycle import repository, service
from avowal.lifecycle.diff import PolicyDiff, diff
from avowal.lifecycle.exceptions import (
    AmbiguousVersion,
    MalformedVersionId,
    SameVersion,
    UnknownVersion,
)
from avowal.lifecycle.models import PolicyVersion
from avowal.policy import wording
from avowal.policy.content import History, VersionNote
from avowal.policy.document import short_version

MIN_PREFIX = 8
VERSION_REF = re.compile(rf"^[0-9a-f]{{{MIN_PREFIX},64}}$")


class State(StrEnum):
    """Where a version stands at a moment; each member's label is shown to readers."""

    in_effect = "in_effect"
    upcoming = "upcoming"
    superseded = "superseded"

    @property
    def label(self) -> str:
        """Return the state as readers see it."""
        return {"in_effect": "In effect", "upcoming": "Upcoming", "superseded": "Superseded"}[
            self.value
        ]


@dataclass(frozen=True)
class Listed:
    """A published version, its state now, and the version its changes are against."""

    row: PolicyVersion
    state: State
    predecessor: str | None


def is_reference(text: str) -> bool:
    """Tell whether ``text`` is written like a version id or a prefix of one."""
    return VERSION_REF.match(text) is not None


def find(session: Session, ref: str) -> PolicyVersion:
    """Return the one version whose id is or starts with ``ref``; refuse anything else."""
    if not is_reference(ref):
        raise MalformedVersionId(
            f"'{ref[:80]}' is not a version id: give at least {MIN_PREFIX} of its lowercase "
            "hexadecimal digits",
            version=ref[:80],
        )
    found = repository.by_prefix(session, ref)
    if not found:
        raise UnknownVersion(f"no published version has the id {ref}", version=ref)
    if len(found) > 1:
        raise AmbiguousVersion(
            f"more than one published version starts with {ref}: give more digits",
            version=ref,
        )
    return found[0]


def listing(session: Session, now: dt.datetime) -> list[Listed]:
    """List every version, newest first, with its state at ``now`` and its predecessor."""
    rows = repository.all_versions(session)
    current = repository.in_effect(session, now)
    ids = {row.version_id for row in rows}
    out: list[Listed] = []
    for i, row in enumerate(rows):
        if current is not None and row.version_id == current.version_id:
            state = State.in_effect
        elif clock.aware(row.effective_at) > now:
            state = State.upcoming
        else:
            state = State.superseded
        # The version it was published against; failing that, the one before it in time.
        before = row.previous_id if row.previous_id in ids else None
        if before is None and i + 1 < len(rows):
            before = rows[i + 1].version_id
        out.append(Listed(row, state, before if before != row.version_id else None))
    return out


def compare(
    session: Session, ref_from: str, ref_to: str
) -> tuple[PolicyVersion, PolicyVersion, PolicyDiff]:
    """Find two versions and return them with the changes from the first to the second."""
    old, new = find(session, ref_from), find(session, ref_to)
    if old.version_id == new.version_id:
        raise SameVersion(
            f"from and to are the same version ({old.version_id[:12]}): compare two versions",
            version=old.version_id,
        )
    return old, new, diff(service.loaded_version(old), service.loaded_version(new))


def _note(item: Listed) -> VersionNote:
    row = item.row
    changes = None
    if item.predecessor is not None:
        changes = "/privacy/diff?" + urlencode({"from": item.predecessor, "to": row.version_id})
    return VersionNote(
        short_id=short_version(row.version_id),
        effective=wording.date(row.effective),
        effective_iso=row.effective.isoformat(),
        page=f"/privacy/versions/{row.version_id}",
        changes=changes,
        material=row.material,
        summary=row.summary,
    )


def history(session: Session, now: dt.datetime) -> History:
    """Return what the served page says of versions: in effect, announced, and earlier."""
    items = listing(session, now)
    current = [_note(i) for i in items if i.state is State.in_effect]
    return History(
        in_effect=current[0] if current else None,
        upcoming=tuple(_note(i) for i in reversed(items) if i.state is State.upcoming),
        earlier=tuple(_note(i) for i in items if i.state is State.superseded),
    )
