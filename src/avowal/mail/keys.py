"""Sealing a message's envelope: under the person's own data key, or a key of its own.

A message to a person is encrypted with that person's data key, so erasing them (destroying
the key) shreds their queued mail too. A message to staff gets a fresh key, wrapped by the
master keyring like a person's. Either way the associated data binds the ciphertext to its
message id: an envelope copied onto another row does not open.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from avowal.crypto import cipher
from avowal.crypto.keyring import Keyring
from avowal.mail.models import OutboxMessage

STAFF = "staff"  # the owner name of a message to no person (folder and associated data)


@dataclass(frozen=True)
class Envelope:
    """What a queued message holds, only ever stored encrypted."""

    to: str
    subject: str
    text: str
    html: str
    # Extra headers, e.g. List-Unsubscribe for news (RFC 8058).
    headers: dict[str, str] = field(default_factory=dict)

    def dump(self) -> bytes:
        """Return the envelope as JSON bytes."""
        return json.dumps(asdict(self), ensure_ascii=False).encode()

    @classmethod
    def load(cls, raw: bytes) -> Envelope:
        """Read an envelope from JSON bytes."""
        data = json.loads(raw)
        return cls(
            to=data["to"],
            subject=data["subject"],
            text=data["text"],
            html=data["html"],
            headers=dict(data.get("headers", {})),
        )


def _aad(owner: str, message_id: str) -> bytes:
    return f"avowal mail\0{owner}\0{message_id}".encode()


def _wrap_name(message_id: str) -> str:
    # The name the keyring binds a message's own key to (a person's key is bound to their id).
    return f"mail:{message_id}"


def seal(data_key: bytes, owner: str, message_id: str, envelope: Envelope) -> bytes:
    """Encrypt an envelope for ``owner`` (a subject id, or STAFF) bound to its message id."""
    return cipher.seal(data_key, _aad(owner, message_id), envelope.dump())


def unseal(data_key: bytes, owner: str, message_id: str, blob: bytes) -> Envelope:
    """Decrypt an envelope sealed by :func:`seal`; raises ``InvalidTag`` when it does not open."""
    return Envelope.load(cipher.unseal(data_key, _aad(owner, message_id), blob))


def own_key(keyring: Keyring, message_id: str) -> tuple[bytes, str, bytes]:
    """Return a fresh key for one staff message, with its master key id and wrapped form."""
    data_key = cipher.new_data_key()
    key_id, wrapped = keyring.wrap(data_key, _wrap_name(message_id))
    return data_key, key_id, wrapped


def unwrap_own(keyring: Keyring, message: OutboxMessage) -> bytes:
    """Return the key of a staff message."""
    assert message.key_id is not None and message.wrapped_key is not None
    return keyring.unwrap(message.key_id, message.wrapped_key, _wrap_name(message.id))


def rewrap(session: Session, keyring: Keyring, new_id: str, batch: int) -> int:
    """Rewrap up to ``batch`` messages' own keys under master key ``new_id``; return how many."""
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.wrapped_key.is_not(None), OutboxMessage.key_id != new_id)
        .limit(batch)
        .with_for_update()
    ).all()
    for row in rows:
        data_key = unwrap_own(keyring, row)
        row.key_id, row.wrapped_key = keyring.wrap(data_key, _wrap_name(row.id))
    return len(rows)
