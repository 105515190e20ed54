"""Erasure: crypto-shredding of a person, by the back end serving them or the law's officer."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from avowal.audit import service as audit
from avowal.callers.service import Caller
from avowal.children import lock as parental
from avowal.consent import service as consent
from avowal.db import engine as db
from avowal.lib import clock
from avowal.lifecycle import acceptance
from avowal.mail import erasure as mail_erasure
from avowal.policy.loader import LoadedPolicy
from avowal.policy.taxonomy import LEGAL_OBLIGATION, SERVING_THE_PERSON
from avowal.rights import links as person_links
from avowal.vault import journal, repository
from avowal.vault.exceptions import ErasureNotAllowed
from avowal.vault.schemas import Erased
from avowal.vault.subjects import lock_living

# The site's own back end serves the person, and so relays their request to be erased; the
# other erasers answer for legal obligations (LEGAL_OBLIGATION).
ON_THE_PERSONS_REQUEST = SERVING_THE_PERSON


def may_erase(caller: Caller) -> bool:
    """Tell whether a caller may erase people: the back end serving them, or the law's officer."""
    return caller.grants(ON_THE_PERSONS_REQUEST) or caller.grants(LEGAL_OBLIGATION)


def erase(
    session: Session,
    loaded: LoadedPolicy,
    caller: Caller,
    subject_id: str,
    *,
    outbox: Path | None = None,
) -> Erased:
    """Destroy a person's data key and lookup rows (crypto-shredding); keep a tombstone.

    Their undelivered mail is shredded too, and their `.eml` copies in ``outbox`` (the
    settings' ``mail_outbox_path``) deleted after commit; without it the mail worker does that.

    Only the site's own back end (serving the person, acting on their request) or a role that
    answers for legal obligations (the privacy officer) may erase someone.
    """
    if not may_erase(caller):
        exc = ErasureNotAllowed(
            f"role '{caller.role}' may not erase people: only roles granting "
            f"{ON_THE_PERSONS_REQUEST} (the site's back end) or {LEGAL_OBLIGATION} may",
            role=caller.role,
        )
        raise audit.refuse(
            session,
            exc,
            actor=caller.name,
            role=caller.role,
            action="erase",
            subject_id=subject_id,
            fields=[],
            purpose=None,
        )
    return shred(session, subject_id, actor=caller.name, role=caller.role, outbox=outbox)


def shred(
    session: Session,
    subject_id: str,
    *,
    actor: str,
    role: str,
    outbox: Path | None = None,
    reason: str | None = None,
) -> Erased:
    """Crypto-shred a living person, whoever decided it (:func:`erase` checks who may ask; a
    parent's refusal, silence or withdrawal decides it for a child); audited as ``actor``."""
    # Locked and re-checked: of two erasures at once, the second finds a tombstone (410), and a
    # collection or disclosure for the person either finishes first or finds the tombstone.
    lock_living(session, subject_id)
    erased_at = clock.now()
    repository.tombstone(session, subject_id, erased_at)
    # On disk before the commit: a backup restored later erases the person again.
    journal.record(session, subject_id, erased_at)
    mail_erasure.shred(session, subject_id, outbox)
    acceptance.forget(session, subject_id)
    consent.forget(session, subject_id)
    parental.forget(session, subject_id)
    person_links.forget(session, subject_id)
    engine = session.get_bind()
    if isinstance(engine, Engine):
        db.after_commit(session, lambda: db.purge_wal(engine))
    audit.append(
        session,
        audit.Event(actor=actor, role=role, action="erase", subject_id=subject_id, reason=reason),
    )
    return Erased(subject_id=subject_id, erased_at=erased_at.isoformat())
