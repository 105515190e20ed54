"""Signing in to the privacy center: a single-use link mailed to an address avowal holds, or
issued by the site for its signed-in user; then a short session.

The request for a link answers the same whether or not the address is known; the link opens
every living person holding that address in a lookup field (a person who registered and also
wrote to us is one person to themselves). A minor locked until a parent consents is written to
about nothing, so gets no link.
"""

from __future__ import annotations

import datetime as dt

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import Session

from avowal.audit import service as audit
from avowal.callers.service import Caller
from avowal.children import lock as parental
from avowal.crypto import cipher
from avowal.crypto.service import Secrets
from avowal.lib import clock
from avowal.mail import content as mail_content
from avowal.mail import service as mail
from avowal.policy.loader import LoadedPolicy
from avowal.policy.schemas import FieldType, Storage
from avowal.rights import links
from avowal.rights.exceptions import LinkUsed, PersonLocked
from avowal.rights.schemas import SignInLink
from avowal.rights.service import PERSON, PERSON_ROLE, require_may_act
from avowal.settings import Settings
from avowal.vault import erasure, repository, values
from avowal.vault.exceptions import InvalidValue, SubjectNotFound
from avowal.vault.schemas import SubjectRef
from avowal.vault.subjects import living_subject, unknown_and_erased

# Usable sign-in links a person may have at once; a further request sends nothing.
MAX_PENDING = 3


def link_url(public_url: str, token: str) -> str:
    """Return the page a sign-in link opens."""
    return f"{public_url.rstrip('/')}/privacy/me/signin/{token}"


def normalised_address(email: str) -> str:
    """Return an address as the vault keeps it, or refuse one that is not an address (422)."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidValue(f"'email' is not a valid e-mail address: {exc}", field="email") from None


def holders(session: Session, loaded: LoadedPolicy, secrets: Secrets, address: str) -> list[str]:
    """Return the living, unlocked people holding ``address`` in an e-mail lookup field."""
    found: set[str] = set()
    seen: set[str] = set()
    for cp in loaded.policy.collection_points.values():
        for name, spec in cp.fields.items():
            if (
                name in seen
                or spec.type is not FieldType.email
                or not spec.lookup
                or spec.storage is Storage.none
            ):
                continue
            seen.add(name)
            digest = cipher.blind_index(
                secrets.index_key,
                name,
                values.lookup_form(spec, values.normalise(name, spec, address)),
            )
            found |= {h.subject_id for h in repository.find_by_digest(session, name, digest)}
    return sorted(found - parental.locked_among(session, found))


def request_link(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    settings: Settings,
    email: str,
    now: dt.datetime | None = None,
) -> None:
    """Mail a sign-in link to ``email`` if anyone holds it; do nothing visible otherwise."""
    address = normalised_address(email)
    people = holders(session, loaded, secrets, address)
    # Asking again and again mails no one again and again: while a few links are still usable,
    # the answer is the same and nothing more is sent.
    if not people or links.pending_links(session, people, now) >= MAX_PENDING:
        return
    token, _ = links.issue(
        session, links.LINK, people, dt.timedelta(minutes=links.LINK_MINUTES), now=now
    )
    mail.queue_to_person(
        session,
        secrets,
        loaded,
        people[0],
        purpose=erasure.ON_THE_PERSONS_REQUEST,
        to=address,
        content=mail_content.PrivacySignIn(
            link=link_url(settings.public_url, token), minutes=links.LINK_MINUTES
        ),
        now=now,
    )


def site_link(
    session: Session,
    loaded: LoadedPolicy,
    caller: Caller,
    settings: Settings,
    subject: SubjectRef,
) -> SignInLink:
    """Issue a single-use link into the privacy center for the site's signed-in user."""
    subject_id = subject.subject_id
    if subject_id is None:
        assert subject.ref is not None
        subject_id = repository.id_by_ref(session, subject.ref)
    # Refused before "not found": a caller who may not act learns nothing of who is held.
    require_may_act(session, caller, "privacy_link", subject_id)
    if subject_id is None:
        raise SubjectNotFound("no subject with this ref", ref=subject.ref)
    living_subject(session, subject_id)
    if parental.lock_of(session, subject_id) is not None:
        raise PersonLocked(
            "a minor whose parent has not consented yet has no privacy center until then",
            subject_id=subject_id,
        )
    token, expires = links.issue(
        session, links.LINK, [subject_id], dt.timedelta(minutes=links.SITE_LINK_MINUTES)
    )
    audit.append(
        session,
        audit.Event(
            actor=caller.name, role=caller.role, action="privacy_link", subject_id=subject_id
        ),
    )
    return SignInLink(url=link_url(settings.public_url, token), expires_at=clock.iso(expires))


def complete(
    session: Session, token: str, now: dt.datetime | None = None
) -> tuple[str, dt.datetime, list[str]]:
    """Use a sign-in link; return the session's token, its end and the people it opens.

    A link is used once (404 unknown, 410 used or expired). People erased or locked since the
    link was sent are left out; a link left opening no one is refused as used up.
    """
    opened = links.use(session, links.LINK, token, now)
    unknown, erased = unknown_and_erased(session, opened.subject_ids)
    people = [s for s in opened.subject_ids if s not in {*unknown, *erased}]
    people = [s for s in people if s not in parental.locked_among(session, people)]
    if not people:
        raise LinkUsed("this link no longer opens anything; ask for a new one")
    token_out, expires = links.start_session(session, people, now)
    audit.append_many(
        session,
        [
            audit.Event(actor=PERSON, role=PERSON_ROLE, action="signin", subject_id=s)
            for s in people
        ],
    )
    return token_out, expires, people
