"""News: a message staff compose for a purpose, sent only to the people who agreed to it.

A message is of a kind the policy declares under ``communications`` (a service update, a new
project): the kind's purpose, and nothing else, decides who receives it (:func:`kind_of`). Only a
policy that declares no kinds lets a purpose be named directly (:func:`by_purpose`).

Recipients are living people with an e-mail value (stored whole) collected for purposes that
cover the news' purpose, not locked (:mod:`avowal.children.lock`) and who have not objected to
it (:mod:`avowal.mail.objections`). Each message carries a one-click unsubscribe (RFC 8058) and
the unsubscribe page's link; each is audited, and so is the send, with its count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from avowal.audit import service as audit
from avowal.callers.service import Caller
from avowal.children import lock as parental
from avowal.crypto import cipher
from avowal.crypto.service import Secrets
from avowal.lib import clock
from avowal.mail import content as mail_content
from avowal.mail import objections, unsubscribe
from avowal.mail import service as mail
from avowal.mail.exceptions import NewsKindRequired, NewsNotAllowed, UnknownNewsKind
from avowal.policy.loader import LoadedPolicy
from avowal.policy.schemas import COMMUNICATION_FAMILIES, FieldType, Storage
from avowal.policy.taxonomy import is_within
from avowal.settings import Settings
from avowal.vault import terms
from avowal.vault.models import PersonalValue, Subject
from avowal.vault.subjects import living_values

# The uses news may be sent for: communications the person agreed to, and notices about the
# service itself (declared with the policy format, whose check holds every kind to them).
FAMILIES = COMMUNICATION_FAMILIES
ONE_CLICK = "List-Unsubscribe=One-Click"


@dataclass(frozen=True)
class NewsKind:
    """What a message is: a kind the policy declares (key and title) and the purpose it serves.

    ``key`` and ``title`` are None for a purpose named directly (:func:`by_purpose`).
    """

    purpose: str
    key: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class Sent:
    """What a send queued: how many messages, and their ids (never an address)."""

    purpose: str
    kind: str | None
    count: int
    message_ids: list[str]


def _declared(loaded: LoadedPolicy) -> str:
    return ", ".join(loaded.policy.communications) or "none"


def kind_of(loaded: LoadedPolicy, key: str) -> NewsKind:
    """Return the kind of message ``key`` the policy declares; refuse one it does not."""
    declared = loaded.policy.communications.get(key)
    if declared is None:
        raise UnknownNewsKind(
            f"the policy declares no kind of message '{key}' under communications; "
            f"the declared kinds: {_declared(loaded)}",
            kind=key,
            declared=list(loaded.policy.communications),
        )
    return NewsKind(declared.purpose, key, declared.title)


def kinds_for(loaded: LoadedPolicy, caller: Caller) -> list[NewsKind]:
    """Return the declared kinds of messages whose purpose the caller's role grants."""
    kinds = [kind_of(loaded, key) for key in loaded.policy.communications]
    return [k for k in kinds if caller.grants(k.purpose)]


def by_purpose(loaded: LoadedPolicy, purpose: str) -> NewsKind:
    """Return news for a purpose named directly: only where the policy declares no kinds."""
    if loaded.policy.communications:
        raise NewsKindRequired(
            "the policy declares the kinds of messages (communications): name one as the "
            f"kind, not a purpose; the declared kinds: {_declared(loaded)}",
            purpose=purpose,
            declared=list(loaded.policy.communications),
        )
    return NewsKind(purpose)


def requested(loaded: LoadedPolicy, kind: str | None, purpose: str | None) -> NewsKind:
    """Return what a request names: a declared kind, or a purpose (policies without kinds)."""
    if kind is not None and purpose is not None:
        raise NewsKindRequired(
            "name the kind of message or, for a policy without communications, the purpose: "
            "not both (the kind decides the purpose)",
            kind=kind,
            purpose=purpose,
        )
    if kind is not None:
        return kind_of(loaded, kind)
    if purpose is not None:
        return by_purpose(loaded, purpose)
    raise NewsKindRequired(
        f"name the kind of message; the declared kinds: {_declared(loaded)}",
        declared=list(loaded.policy.communications),
    )


def check_purpose(loaded: LoadedPolicy, purpose: str) -> None:
    """Refuse a purpose news may not be sent for, naming the rule."""
    if not any(is_within(purpose, f) for f in FAMILIES):
        raise NewsNotAllowed(
            f"news is sent only for a use within {' or '.join(FAMILIES)}, not '{purpose}'",
            purpose=purpose,
            allowed=list(FAMILIES),
        )
    if purpose not in loaded.taxonomy.data_uses or not any(
        is_within(purpose, p) for p in loaded.policy.purposes
    ):
        raise NewsNotAllowed(
            f"the policy declares no purpose '{purpose}'",
            purpose=purpose,
            declared=sorted(loaded.policy.purposes),
        )


def _email_fields(loaded: LoadedPolicy) -> set[tuple[str, str]]:
    return {
        (point, name)
        for point, cp in loaded.policy.collection_points.items()
        for name, spec in cp.fields.items()
        if spec.type is FieldType.email and spec.storage is Storage.full
    }


def recipients(session: Session, loaded: LoadedPolicy, purpose: str) -> list[str]:
    """Return who may be written to for ``purpose``, by subject id."""
    emails = _email_fields(loaded)
    rows = session.execute(
        select(
            PersonalValue.subject_id,
            PersonalValue.point,
            PersonalValue.field,
            PersonalValue.purposes,
        )
        .join(Subject, Subject.id == PersonalValue.subject_id)
        .where(
            Subject.erased_at.is_(None),
            Subject.wrapped_key.is_not(None),
            PersonalValue.ciphertext.is_not(None),
        )
    )
    covered = {
        s
        for s, point, field, purposes in rows
        if (point, field) in emails and terms.covers(purposes, purpose)
    }
    skipped = parental.locked_among(session, covered)
    skipped |= objections.objectors_among(session, covered, purpose)
    return sorted(covered - skipped)


def _address(
    session: Session, loaded: LoadedPolicy, secrets: Secrets, subject_id: str, purpose: str
) -> str | None:
    emails = _email_fields(loaded)
    key_id, wrapped_key, rows, *_ = living_values(session, subject_id)
    usable = [
        r
        for r in rows
        if (r.point, r.field) in emails
        and r.ciphertext is not None
        and terms.covers(r.purposes, purpose)
    ]
    if not usable:
        return None
    row = max(usable, key=lambda r: clock.aware(r.collected_at))
    assert row.ciphertext is not None
    data_key = secrets.keyring.unwrap(key_id, wrapped_key, subject_id)
    return cipher.decrypt(data_key, subject_id, row.point, row.field, row.ciphertext)


def send(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    settings: Settings,
    kind: NewsKind,
    subject_line: str,
    text: str,
    by: str,
    *,
    role: str = mail.ROLE,
    now: dt.datetime | None = None,
) -> Sent:
    """Queue news of ``kind`` to each person who may get it; audit each and the send."""
    purpose = kind.purpose
    check_purpose(loaded, purpose)
    ids = []
    for subject_id in recipients(session, loaded, purpose):
        address = _address(session, loaded, secrets, subject_id, purpose)
        if address is None:
            continue
        url = unsubscribe.link(settings.public_url, unsubscribe.token(secrets, subject_id, purpose))
        news = mail_content.News(
            subject=subject_line, text=text, unsubscribe_url=url, title=kind.title
        )
        headers = {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": ONE_CLICK}
        ids.append(
            mail.queue_to_person(
                session,
                secrets,
                loaded,
                subject_id,
                purpose=purpose,
                to=address,
                content=news,
                headers=headers,
                now=now,
            )
        )
    what = "news" if kind.key is None else f"news '{kind.key}'"
    audit.append(
        session,
        audit.Event(
            actor=by,
            role=role,
            action="news",
            purpose=purpose,
            reason=f"{what} queued to {len(ids)} person(s)",
        ),
    )
    return Sent(purpose=purpose, kind=kind.key, count=len(ids), message_ids=ids)


def object_to(session: Session, secrets: Secrets, token: str, via: str) -> unsubscribe.Opened:
    """Record the objection a valid unsubscribe token carries (idempotent); audit a new one."""
    opened = unsubscribe.open_token(secrets, token)
    if objections.record(session, opened.subject_id, opened.purpose, via):
        audit.append(
            session,
            audit.Event(
                actor=mail.ACTOR,
                role=mail.ROLE,
                action="objection",
                subject_id=opened.subject_id,
                purpose=opened.purpose,
                reason=f"unsubscribed via {via}",
            ),
        )
    return opened
