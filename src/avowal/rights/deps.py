"""The person signed in to the privacy center: their session cookie, and the checks of a form.

The cookie (``avowal_person``) holds the session's token (:mod:`avowal.rights.links` keeps only
its digest): HttpOnly, ``SameSite=Strict``, confined to ``/privacy/me``, Secure when the public
URL is https, and no longer lived than the session. A form's CSRF token is derived from the
session's token (HMAC-SHA-256), so it needs no storage and dies with the session. A form must
also come from this server's own origin (the console's rule, :func:`check_origin`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Form, Request, Response
from sqlalchemy.orm import Session

from avowal.console.deps import check_origin
from avowal.crypto.service import Secrets
from avowal.lib.deps import PolicyDep, SecretsDep, SessionDep, SettingsDep
from avowal.lib.errors import AvowalError
from avowal.policy.loader import LoadedPolicy
from avowal.rights import links
from avowal.rights.exceptions import NotSignedIn, NotTheirs
from avowal.settings import Settings

COOKIE = "avowal_person"
Field = Annotated[str, Form()]
PATH = "/privacy/me"
_CSRF_LABEL = b"avowal privacy center form"


class FormRefused(AvowalError):
    """A privacy-center form sent without the session's CSRF token (or with another one)."""

    status_code = 403
    error = "csrf_refused"


@dataclass(frozen=True)
class Person:
    """Who is signed in: the session's token, the people it opens and its forms' token."""

    token: str
    subject_ids: tuple[str, ...]
    csrf_token: str

    def own(self, subject_id: str) -> str:
        """Return ``subject_id`` if the session opens it; else refuse exactly as for no one."""
        if subject_id not in self.subject_ids:
            raise NotTheirs("there is nothing here", subject_id="")
        return subject_id


def csrf_token(session_token: str) -> str:
    """Return the CSRF token of a session's forms."""
    return hmac.new(session_token.encode(), _CSRF_LABEL, hashlib.sha256).hexdigest()


def signed_in(request: Request, session: Session) -> Person | None:
    """Return the person the request's cookie signs in, or None (no cookie, or session over)."""
    token = request.cookies.get(COOKIE)
    people = links.session_of(session, token)
    if not token or not people:
        return None
    return Person(token, tuple(people), csrf_token(token))


def acting(request: Request, session: Session, settings: Settings, given: str) -> Person:
    """Return the signed-in person of a form POST from this origin with the right CSRF token."""
    check_origin(request, settings)
    person = signed_in(request, session)
    if person is None:
        raise NotSignedIn("your session has ended: ask for a new sign-in link")
    if not hmac.compare_digest(person.csrf_token.encode(), given.encode()):
        raise FormRefused("this form's security token is missing or out of date: reload the page")
    return person


def set_cookie(response: Response, settings: Settings, token: str, expires: dt.datetime) -> None:
    """Give the browser the session's cookie, lasting as long as the session."""
    response.set_cookie(
        COOKIE,
        token,
        max_age=links.SESSION_MINUTES * 60,
        expires=expires,
        path=PATH,
        secure=settings.public_url.lower().startswith("https://"),
        httponly=True,
        samesite="strict",
    )


def clear_cookie(response: Response, settings: Settings) -> None:
    """Tell the browser to forget the session's cookie."""
    response.delete_cookie(
        COOKIE,
        path=PATH,
        secure=settings.public_url.lower().startswith("https://"),
        httponly=True,
        samesite="strict",
    )


@dataclass(frozen=True)
class Action:
    """A form POST of the center, checked only when the route asks (a refusal is a page)."""

    request: Request
    session: Session
    policy: LoadedPolicy
    secrets: Secrets
    settings: Settings
    csrf: str

    def person(self, subject_id: str) -> Person:
        """Return the signed-in person of a checked form, if the session opens ``subject_id``."""
        person = acting(self.request, self.session, self.settings, self.csrf)
        person.own(subject_id)
        return person


def action(
    request: Request,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    settings: SettingsDep,
    csrf: Field = "",
) -> Action:
    """Return the request as a center form, with its ``csrf`` field."""
    return Action(request, session, policy, secrets, settings, csrf)


ActionDep = Annotated[Action, Depends(action)]
