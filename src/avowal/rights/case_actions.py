"""Carrying out a checked request on the accounts it is about: access (a privacy-center
sign-in link mailed), erasure, withdrawal, objection and rectification.

Only a caller who may act on people's rights (:func:`avowal.rights.service.require_may_act`:
the site's back end serving the person, or the privacy officer) may; support answers questions.
Each action is the privacy center's own (:mod:`avowal.rights.service`), audited with the staff
member as actor, and noted in the case's history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from avowal.callers.service import Caller
from avowal.crypto.service import Secrets
from avowal.mail import content as mail_content
from avowal.policy.loader import LoadedPolicy
from avowal.policy.taxonomy import is_within
from avowal.rights import case_service, cases, links, service, signin
from avowal.rights import erasure as account_erasure
from avowal.rights.exceptions import IdentityNotChecked
from avowal.rights.models import Case
from avowal.settings import Settings
from avowal.vault import repository

# What staff carry out for a checked request, one per kind of request but a question.
ACTIONS = ("access", "erasure", "withdrawal", "objection", "rectification")


@dataclass(frozen=True)
class Step:
    """What staff carry out for a checked request, and its details from the form."""

    action: str
    purpose: str = ""
    point: str = ""
    field: str = ""
    value: str = ""


def carry_out(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    settings: Settings,
    row: Case,
    step: Step,
    caller: Caller,
) -> str:
    """Carry out a checked request (what its kind says) on its accounts as ``caller``; return
    what was done.

    Only a caller who may act on people's rights (:func:`service.require_may_act`) may; the
    refusal is audited. Each action is audited by the service that does it, with the staff
    member as actor, and noted in the case's history.
    """
    cases.require_open(row)
    if step.action not in ACTIONS:
        raise case_service.CaseRefused(f"'{step.action}' is not an action ({', '.join(ACTIONS)})")
    if step.action != row.kind:
        # What is done is what the person asked for, nothing else.
        raise case_service.CaseRefused(
            f"case {row.number} is a request of kind '{row.kind}', not '{step.action}': only "
            "what the person asked for is carried out",
            kind=row.kind,
        )
    if row.identity_checked_at is None:
        raise IdentityNotChecked(
            f"the sender of case {row.number} has not proved who they are: send the identity "
            "check first",
            number=row.number,
        )
    held = cases.accounts(row)
    for subject_id in held or ([row.subject_id] if row.subject_id else []):
        service.require_may_act(session, caller, f"case_{step.action}", subject_id)
    if not held:
        raise case_service.CaseRefused(
            f"no account holds the address of case {row.number}: answer and close it instead"
        )
    who = {"actor": caller.name, "role": caller.role}
    if step.action == "access":
        done = _mail_sign_in(session, loaded, secrets, settings, row, held)
    elif step.action == "erasure":
        reason = f"case {row.number}: erasure request"
        account_erasure.erase_account(
            session,
            loaded,
            secrets,
            settings,
            held,
            actor=caller.name,
            role=caller.role,
            reason=reason,
        )
        done = f"{len(held)} account(s) erased"
    elif step.action == "withdrawal":
        for subject_id in _holding(session, held, step.purpose):
            service.withdraw(session, loaded, secrets, subject_id, step.purpose, **who)
        done = f"{step.purpose} withdrawn"
    elif step.action == "objection":
        for subject_id in held:
            service.object_to(session, loaded, subject_id, step.purpose, "console", **who)
        done = f"objection to {step.purpose} recorded"
    else:
        for subject_id in _holding_field(session, held, step.point, step.field):
            service.correct(
                session, loaded, secrets, subject_id, step.point, step.field, step.value, **who
            )
        done = f"{step.field} at {step.point} corrected"
    case_service.note(session, row, actor=caller.name, role=caller.role, what=done)
    return done


def _holding(session: Session, held: list[str], purpose: str) -> list[str]:
    # Withdrawal refuses a person holding nothing for the purpose: ask only those who do, and
    # the first otherwise, so the refusal names the reason.
    having = [
        s for s in held if any(is_within(p, purpose) for p in service.held_purposes(session, s))
    ]
    return having or held[:1]


def _holding_field(session: Session, held: list[str], point: str, field: str) -> list[str]:
    having = [
        s for s in held if any(v.field == field for v in repository.values_at(session, s, point))
    ]
    return having or held[:1]


def _mail_sign_in(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    settings: Settings,
    row: Case,
    held: list[str],
) -> str:
    """Mail a privacy-center sign-in link opening the case's accounts (access request)."""
    case_service.require_mail(settings)
    minutes = links.LINK_MINUTES
    token, _ = links.issue(session, links.LINK, held, dt.timedelta(minutes=minutes))
    content = mail_content.PrivacySignIn(
        link=signin.link_url(settings.public_url, token), minutes=minutes
    )
    if not case_service.mail_case(session, loaded, secrets, settings, row, content):
        raise case_service.CaseRefused(f"case {row.number} has no address to write to")
    return "privacy-center sign-in link sent"
