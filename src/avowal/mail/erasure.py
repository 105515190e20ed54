"""Erasure reaches the outbox: a person's queued mail is shredded with their key.

Called by every path that erases a person, in the erasure's transaction. The rows keep only kind,
purpose, times and status; the `.eml` copies of the embedded default go once the erasure commits.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session

from avowal.db.engine import after_commit, core
from avowal.mail.models import OutboxMessage

HOLDING = ("queued", "failed")  # statuses whose rows still hold an envelope


def shred(session: Session, subject_id: str, outbox: Path | None) -> None:
    """Shred a person's undelivered mail now and delete their `.eml` folder after commit.

    ``outbox`` is the `.eml` folder of the embedded default (``settings.mail_outbox_path``);
    None leaves the folder to the mail worker, which removes the folders of erased people.
    """
    core(session).execute(
        update(OutboxMessage)
        .where(OutboxMessage.subject_id == subject_id, OutboxMessage.status.in_(HOLDING))
        .values(status="shredded", envelope=None, wrapped_key=None, key_id=None)
    )
    if outbox is not None:
        folder = outbox / subject_id
        after_commit(session, lambda: remove_folder(folder))


def remove_folder(folder: Path) -> None:
    """Delete one person's `.eml` folder, if it exists."""
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(folder)
