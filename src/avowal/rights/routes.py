"""The privacy center, ``/privacy/me``: a person signs in with a mailed link and sees, downloads,
corrects, withdraws, objects to and erases what is held about them.

HTML only. Every action is a form POST from this origin carrying the session's CSRF token
(:mod:`avowal.rights.deps`), acts only on a person the session opens (anyone else is a 404 like
no one), is recorded as a request carried out at once (:func:`avowal.rights.cases.record_done`)
and answers with a redirect back to the center and a status message. A refusal is a page with
its message and status, and leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from avowal.console.deps import check_origin
from avowal.crypto.service import Secrets
from avowal.lib import clock, person_pages
from avowal.lib.deps import PolicyDep, SecretsDep, SessionDep, SettingsDep, settle
from avowal.lib.errors import AvowalError
from avowal.mail import service as mail
from avowal.policy.loader import LoadedPolicy
from avowal.rights import cases, deps, export, links, service, signin
from avowal.rights import erasure as account_erasure
from avowal.rights.deps import Action, ActionDep, Person
from avowal.rights.schemas import Export
from avowal.rights.service import PERSON, PERSON_ROLE
from avowal.vault.exceptions import InvalidValue

router = APIRouter(include_in_schema=False)
HOME = deps.PATH
Field = deps.Field
# The word typed to confirm an erasure: a deliberate act, not a stray click.
ERASE_WORD = "erase"
MAX_VALUE = 2000
# What the center says after an action (the redirect names one; never personal data).
NOTICES = {
    "corrected": "Your correction is saved: the old value is destroyed and a new receipt issued.",
    "withdrawn": "Your withdrawal is recorded: the purpose no longer applies to your data.",
    "objected": "Your objection is recorded: you will get no more messages for that purpose.",
}
SENT = (
    f"If we hold this address, we sent a link to it; it works once, for {links.LINK_MINUTES} "
    "minutes."
)


def _page(
    policy: LoadedPolicy, template: str, title: str, status: int = 200, **values: Any
) -> HTMLResponse:
    return person_pages.page(
        "avowal.rights", "templates", policy, template, title, status, **values
    )


def _refused(
    policy: LoadedPolicy, exc: AvowalError, title: str = "This cannot be done"
) -> Response:
    signed_out = exc.status_code == 401
    return _page(
        policy, "center_done.html", title, exc.status_code, message=exc.message, back=not signed_out
    )


def _unusable_link(policy: LoadedPolicy, exc: AvowalError) -> Response:
    title = "This link cannot be used"
    return _page(policy, person_pages.DONE, title, exc.status_code, message=exc.message)


def _record(session: Session, kind: str, subject_id: str, outcome: str) -> None:
    """Record the request, carried out at once, as a closed case (no personal data)."""
    cases.record_done(
        session, kind, [subject_id], source="center", actor=PERSON, role=PERSON_ROLE,
        outcome=outcome,
    )  # fmt: skip


def _back(done: str) -> RedirectResponse:
    return RedirectResponse(f"{HOME}?done={done}", status_code=303)


def _signin_page(
    policy: LoadedPolicy, status: int = 200, error: str | None = None, email: str = ""
) -> HTMLResponse:
    return _page(
        policy, "signin.html", "Your privacy center", status, error=error, email=email, sent=None
    )


# -- Signing in --------------------------------------------------------------------------------


@router.get(HOME, response_class=HTMLResponse)
def center(
    request: Request,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    done: str = "",
) -> Response:
    """Show what is held about the signed-in person, with their choices; else the sign-in."""
    person = deps.signed_in(request, session)
    if person is None:
        return _signin_page(policy)
    try:
        people = [_view(session, policy, secrets, s) for s in person.subject_ids]
    except AvowalError as exc:
        settle(session, exc)
        return _refused(policy, exc)
    return _page(
        policy,
        "center.html",
        "Your privacy center",
        people=people,
        notice=NOTICES.get(done),
        csrf=person.csrf_token,
        erase_word=ERASE_WORD,
    )


def _view(
    session: Session, policy: LoadedPolicy, secrets: Secrets, subject_id: str
) -> dict[str, Any]:
    held = export.build(session, policy, secrets, subject_id, actor=PERSON, role=PERSON_ROLE)
    objected = {o.purpose.key for o in held.objections}
    candidates = set(policy.policy.purposes) | set(service.held_purposes(session, subject_id))
    return {
        "export": held,
        "correctable": {
            (p.point, v.field)
            for p in held.points
            for v in p.values
            if p.point in policy.policy.collection_points
            and v.field in policy.policy.collection_points[p.point].fields
            and service.not_correctable(policy, p.point, v.field) is None
        },
        "withdrawable": [
            export.purpose(policy, p)
            for p in service.held_purposes(session, subject_id)
            if service.withdrawable(policy, p)
        ],
        "objectable": [
            export.purpose(policy, p)
            for p in sorted(candidates - objected)
            if service.objectable(policy, p)
        ],
    }


@router.post(f"{HOME}/link", response_class=HTMLResponse)
def ask_for_link(
    request: Request,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    settings: SettingsDep,
    email: Field = "",
) -> Response:
    """Mail a sign-in link to an address we hold; answer the same whether we hold it or not."""
    if not mail.mail_configured(settings):
        message = "Signing in by e-mail is unavailable on this server: it sends no mail."
        return _page(
            policy, "center_done.html", "Sign-in unavailable", 503, message=message, back=False
        )
    try:
        check_origin(request, settings)
        signin.request_link(session, policy, secrets, settings, email)
    except InvalidValue as exc:
        settle(session, exc)
        return _signin_page(policy, exc.status_code, exc.message, email[:320])
    except AvowalError as exc:
        settle(session, exc)
        return _refused(policy, exc, "Form refused")
    return _page(policy, "signin.html", "Check your e-mail", sent=SENT, error=None, email="")


@router.get(HOME + "/signin/{token}", response_class=HTMLResponse)
def signin_page(token: str, session: SessionDep, policy: PolicyDep) -> Response:
    """Show the one button that uses a sign-in link (a mail scanner's visit uses nothing)."""
    try:
        links.check(session, links.LINK, token)
    except AvowalError as exc:
        return _unusable_link(policy, exc)
    return _page(
        policy, "signin_continue.html", "Sign in", action=f"{HOME}/signin/{token}"
    )  # fmt: skip


@router.post(HOME + "/signin/{token}", response_class=HTMLResponse)
def signin_use(
    token: str, request: Request, session: SessionDep, policy: PolicyDep, settings: SettingsDep
) -> Response:
    """Use a sign-in link: start a session, set its cookie and open the center."""
    try:
        check_origin(request, settings)
        session_token, expires, _ = signin.complete(session, token)
    except AvowalError as exc:
        settle(session, exc)
        return _unusable_link(policy, exc)
    response = RedirectResponse(HOME, status_code=303)
    deps.set_cookie(response, settings, session_token, expires)
    return response


@router.post(HOME + "/signout", response_class=HTMLResponse)
def signout(act: ActionDep) -> Response:
    """End the session and forget its cookie."""
    try:
        person = deps.acting(act.request, act.session, act.settings, act.csrf)
    except AvowalError as exc:
        settle(act.session, exc)
        return _refused(act.policy, exc, "Form refused")
    links.end_session(act.session, person.token)
    said = "Your session has ended: the privacy center is closed until you sign in again."
    response = _page(act.policy, "center_done.html", "You are signed out", message=said, back=False)
    deps.clear_cookie(response, act.settings)
    return response


# -- The export --------------------------------------------------------------------------------


def _filename(organisation: str, on: dt.date) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", organisation).strip("-") or "privacy"
    return f"{name}-data-{on.isoformat()}.json"


def _exported(
    request: Request,
    session: Session,
    policy: LoadedPolicy,
    secrets: Secrets,
    subject_id: str,
    how: str,
) -> Export | Response:
    person = deps.signed_in(request, session)
    if person is None:
        return RedirectResponse(HOME, status_code=303)
    try:
        person.own(subject_id)
        held = export.build(session, policy, secrets, subject_id, actor=PERSON, role=PERSON_ROLE)
        _record(session, "access", subject_id, f"export given as {how}")
    except AvowalError as exc:
        settle(session, exc)
        return _refused(policy, exc, "Not found" if exc.status_code == 404 else "Not available")
    return held


@router.get(HOME + "/{subject_id}/export.json")
def export_json(
    subject_id: str, request: Request, session: SessionDep, policy: PolicyDep, secrets: SecretsDep
) -> Response:
    """Download everything held about the person, as JSON (schema avowal-export/1)."""
    held = _exported(request, session, policy, secrets, subject_id, "JSON")
    if isinstance(held, Response):
        return held
    name = _filename(held.organisation, clock.now().date())
    return Response(
        held.model_dump_json(by_alias=True, indent=2),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.get(HOME + "/{subject_id}/export.html", response_class=HTMLResponse)
def export_html(
    subject_id: str, request: Request, session: SessionDep, policy: PolicyDep, secrets: SecretsDep
) -> Response:
    """Show everything held about the person as a page to read, print or save."""
    held = _exported(request, session, policy, secrets, subject_id, "a page")
    if isinstance(held, Response):
        return held
    return _page(policy, "export.html", "Everything we hold about you", export=held)


# -- Actions -------------------------------------------------------------------------------------


def _run(
    act: Action, subject_id: str, kind: str, refused: str, done: str, work: Callable[[], str]
) -> Response:
    """Check the form, do ``work``, record its outcome as a case, and go back to the center."""
    try:
        act.person(subject_id)
        _record(act.session, kind, subject_id, work())
    except AvowalError as exc:
        settle(act.session, exc)
        return _refused(act.policy, exc, refused)
    return _back(done)


@router.post(HOME + "/{subject_id}/correct", response_class=HTMLResponse)
def correct(
    subject_id: str, act: ActionDep, point: Field = "", field: Field = "", value: Field = ""
) -> Response:
    """Replace a value held with the corrected one the person gives."""

    def work() -> str:
        if len(value) > MAX_VALUE:
            raise InvalidValue(f"'value' is longer than {MAX_VALUE} characters", field="value")
        done = service.correct(
            act.session, act.policy, act.secrets, subject_id, point, field, value,
            actor=PERSON, role=PERSON_ROLE,
        )  # fmt: skip
        return f"{done.field} at {done.point} corrected"

    return _run(act, subject_id, "rectification", "The correction was not made", "corrected", work)


@router.post(HOME + "/{subject_id}/withdraw", response_class=HTMLResponse)
def withdraw(subject_id: str, act: ActionDep, purpose: Field = "") -> Response:
    """Withdraw the person's agreement to a purpose, for every value held for it."""

    def work() -> str:
        done = service.withdraw(
            act.session, act.policy, act.secrets, subject_id, purpose,
            actor=PERSON, role=PERSON_ROLE,
        )  # fmt: skip
        said = f"{done.values_changed} value(s) changed, {done.values_destroyed} destroyed"
        return f"{done.purpose} withdrawn: {said}"

    return _run(act, subject_id, "withdrawal", "The withdrawal was not made", "withdrawn", work)


@router.post(HOME + "/{subject_id}/object", response_class=HTMLResponse)
def object_to(subject_id: str, act: ActionDep, purpose: Field = "") -> Response:
    """Record the person's objection to communications for a purpose."""

    def work() -> str:
        done = service.object_to(
            act.session, act.policy, subject_id, purpose, "center", actor=PERSON, role=PERSON_ROLE
        )
        return f"objection to {done.purpose} " + (
            "recorded" if done.new else "already recorded; nothing changed"
        )

    return _run(act, subject_id, "objection", "The objection was not recorded", "objected", work)


@router.get(HOME + "/{subject_id}/erase", response_class=HTMLResponse)
def erase_page(
    subject_id: str, request: Request, session: SessionDep, policy: PolicyDep
) -> Response:
    """Ask the person to confirm the erasure of their account."""
    person = deps.signed_in(request, session)
    if person is None:
        return RedirectResponse(HOME, status_code=303)
    try:
        person.own(subject_id)
    except AvowalError as exc:
        return _refused(policy, exc, "Not found")
    return _erase_form(policy, person, subject_id)


def _erase_form(
    policy: LoadedPolicy, person: Person, subject_id: str, error: str | None = None
) -> HTMLResponse:
    return _page(
        policy,
        "erase.html",
        "Erase your account",
        422 if error else 200,
        action=f"{HOME}/{subject_id}/erase",
        csrf=person.csrf_token,
        word=ERASE_WORD,
        error=error,
    )


@router.post(HOME + "/{subject_id}/erase", response_class=HTMLResponse)
def erase(subject_id: str, act: ActionDep, confirm: Field = "") -> Response:
    """Erase the person's account once they typed the confirmation word; mail them when done."""
    try:
        person = act.person(subject_id)
        if confirm.strip().lower() != ERASE_WORD:
            message = f"'confirm': type the word “{ERASE_WORD}” to confirm; nothing was erased"
            return _erase_form(act.policy, person, subject_id, message)
        account_erasure.erase_account(
            act.session, act.policy, act.secrets, act.settings, [subject_id],
            actor=PERSON, role=PERSON_ROLE, reason="the person's request in the privacy center",
        )  # fmt: skip
        _record(act.session, "erasure", subject_id, "the account erased")
    except AvowalError as exc:
        settle(act.session, exc)
        return _refused(act.policy, exc, "The erasure was not made")
    left = [s for s in person.subject_ids if s != subject_id]
    message = (
        "Your account is erased: everything held about it is destroyed and cannot be recovered. "
        "We sent a confirmation to the address you gave, if one was held."
    )
    response = _page(
        act.policy, "center_done.html", "Your account is erased", message=message, back=bool(left)
    )
    if not left:
        deps.clear_cookie(response, act.settings)
    return response
