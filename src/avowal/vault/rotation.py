"""Master-key rotation: rewrap every person's data key under a new master key while serving.

It belongs to the vault: it walks the vault's subjects; the keyring only wraps and unwraps.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from avowal.audit import service as audit
from avowal.crypto.keyring import Keyring
from avowal.mail import keys as mail_keys
from avowal.vault.models import Subject


@dataclass(frozen=True)
class Rotation:
    """What a rotation did."""

    new_key_id: str
    rewrapped: int
    dropped: list[str]


def rotate(
    sessions: sessionmaker[Session], keyring: Keyring, actor: str, batch: int = 500
) -> Rotation:
    """Make a new master key current, rewrap every data key in batches, then drop the old keys.

    Every data key: people's, and the own keys of queued mail to staff.

    Running servers re-read the keyring file when it changes, so they wrap new people's keys under
    the new master key and can still unwrap keys not yet rewrapped; no restart is needed.
    """
    new_id = keyring.add_new_current()
    total = 0
    quiet_sweeps = 0
    # Sweep until two passes in a row find nothing, so a key wrapped by a server that had not yet
    # noticed the new master key is caught too.
    while quiet_sweeps < 2:
        with sessions() as session, session.begin():
            rows = session.scalars(
                select(Subject)
                .where(Subject.key_id.is_not(None), Subject.key_id != new_id)
                .limit(batch)
                .with_for_update()
            ).all()
            for subj in rows:
                assert subj.key_id is not None and subj.wrapped_key is not None
                data_key = keyring.unwrap(subj.key_id, subj.wrapped_key, subj.id)
                subj.key_id, subj.wrapped_key = keyring.wrap(data_key, subj.id)
            # Queued mail to staff carries a key of its own, wrapped by the master key too.
            messages = mail_keys.rewrap(session, keyring, new_id, batch)
            total += len(rows) + messages
        quiet_sweeps = quiet_sweeps + 1 if not rows and not messages else 0
    with sessions() as session, session.begin():
        audit.append(
            session,
            audit.Event(
                actor=actor,
                role="operator",
                action="rotate_keys",
                reason=f"{total} data keys rewrapped under {new_id}",
            ),
        )
    dropped = keyring.drop_all_but_current()
    return Rotation(new_id, total, dropped)
