"""Whether a person is living: the one rule every access to their data starts with."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import and_
from sqlalchemy.orm import Session

from avowal.vault import repository
from avowal.vault.exceptions import SubjectErased, SubjectNotFound
from avowal.vault.models import Subject


def _require_living(subject_id: str, key: repository.KeyRow | None) -> tuple[str, bytes]:
    """Refuse an unknown or erased person; return a living one's master key id and wrapped key."""
    if key is None:
        raise SubjectNotFound(f"no subject {subject_id}", subject_id=subject_id)
    if not is_living(key):
        raise SubjectErased(
            f"subject {subject_id} was erased",
            subject_id=subject_id,
            erased_at=key.erased_at.isoformat() if key.erased_at else None,
        )
    assert key.key_id is not None and key.wrapped_key is not None
    return key.key_id, key.wrapped_key


def living_subject(session: Session, subject_id: str, *, lock: bool = False) -> Subject:
    """Return a living subject, refusing an unknown (404) or erased (410) one.

    ``lock`` holds the person's row to commit, so collection, disclosure and erasure of one
    person never interleave, across server processes too; the check is made after the lock.
    """
    subj = repository.subject(session, subject_id, lock=lock)
    _require_living(
        subject_id,
        None if subj is None else repository.KeyRow(subj.erased_at, subj.key_id, subj.wrapped_key),
    )
    assert subj is not None
    return subj


class LivingValues(NamedTuple):
    """A living person's wrapped data key and held values."""

    key_id: str
    wrapped_key: bytes
    rows: list[repository.ValueRow]
    # The rest of what was read with the values: whether the person has parental consent requests
    # or objections (the read path asks those tables only when so), and when they were created,
    # last active and closed their account.
    person: repository.KeyRow


def living_values(session: Session, subject_id: str, *, lock: bool = False) -> LivingValues:
    """Return a living person's key and values in one statement; refuse as living_subject does."""
    key, rows = repository.key_and_values(session, subject_id, lock=lock)
    key_id, wrapped_key = _require_living(subject_id, key)
    assert key is not None
    return LivingValues(key_id, wrapped_key, rows, key)


def is_living(key: repository.KeyRow) -> bool:
    """Tell whether a subject's key columns are those of a living person.

    Erasure destroys the wrapped key and sets erased_at in one transaction; a person missing
    either is not living, whatever the other says.
    """
    return key.erased_at is None and key.wrapped_key is not None and key.key_id is not None


# The same rule as is_living, for a WHERE clause: a statement changing only living people.
LIVING = and_(
    Subject.erased_at.is_(None), Subject.key_id.is_not(None), Subject.wrapped_key.is_not(None)
)


def lock_living(session: Session, subject_id: str) -> None:
    """Hold a living person's row to commit (as living_subject(lock=True) does), refusing an
    unknown (404) or erased (410) one, without loading the row into the session."""
    key = repository.lock_key(session, subject_id)
    _require_living(subject_id, key)


def unknown_and_erased(session: Session, subject_ids: list[str]) -> tuple[list[str], list[str]]:
    """Return which of these subjects do not exist, and which are not living, in the given order."""
    keys = repository.keys_of(session, subject_ids)
    unknown = [s for s in subject_ids if s not in keys]
    erased = [s for s in subject_ids if s in keys and not is_living(keys[s])]
    return unknown, erased
