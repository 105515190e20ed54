"""Request dependencies: one session per request, committed at the edge."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from avowal.crypto.service import Secrets
from avowal.lib.errors import AvowalError
from avowal.policy.loader import LoadedPolicy
from avowal.settings import Settings


def settle(session: Session, exc: AvowalError) -> None:
    """Decide what a refused request keeps: the one rule, for the API and the console alike.

    A refusal that carries ``keep_audit`` (its audit entry was written, e.g. by
    :func:`avowal.audit.service.refuse`) commits, so the entry survives the failed request;
    any other refusal rolls everything back and leaves nothing behind. Console routes that
    answer a refusal with a page call this before rendering it.
    """
    if exc.keep_audit:
        session.commit()
    else:
        session.rollback()


def get_session(request: Request) -> Iterator[Session]:
    """Open the request's session; commit when the handler succeeds, roll back otherwise.

    A refused request is settled by :func:`settle`: only an audited refusal still commits.
    """
    factory = request.app.state.sessionmaker
    with factory() as session:
        try:
            yield session
        except AvowalError as exc:
            settle(session, exc)
            raise
        except BaseException:
            session.rollback()
            raise
        session.commit()


def get_read_session(request: Request) -> Iterator[Session]:
    """Open a session for a request that only reads; it writes nothing and commits nothing."""
    with request.app.state.read_sessionmaker() as session:
        yield session


def get_policy(request: Request) -> LoadedPolicy:
    """Return the policy this server enforces now: the published version in effect."""
    policy: LoadedPolicy = request.app.state.policies.current()
    return policy


def get_settings(request: Request) -> Settings:
    """Return the server's settings."""
    settings: Settings = request.app.state.settings
    return settings


def get_secrets(request: Request) -> Secrets:
    """Return the server's keys (master keyring, blind-index key, signing key)."""
    secrets: Secrets = request.app.state.secrets
    return secrets


# scope="function": commit before the response is sent, so a 2xx always means committed.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]
PolicyDep = Annotated[LoadedPolicy, Depends(get_policy)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SecretsDep = Annotated[Secrets, Depends(get_secrets)]
