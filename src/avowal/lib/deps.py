"""Request dependencies: one session per request, committed at the edge."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from avowal.lib.errors import AvowalError
from avowal.policy.loader import LoadedPolicy
from avowal.settings import Settings


def get_session(request: Request) -> Iterator[Session]:
    """Open the request's session; commit when the handler succeeds, roll back otherwise.

    A refused access is the one failure that still commits: its audit entry must survive.
    """
    factory = request.app.state.sessionmaker
    with factory() as session:
        try:
            yield session
        except AvowalError as exc:
            if exc.keep_audit:
                session.commit()
            else:
                session.rollback()
            raise
        except BaseException:
            session.rollback()
            raise
        session.commit()


def get_policy(request: Request) -> LoadedPolicy:
    """Return the policy this server enforces."""
    policy: LoadedPolicy = request.app.state.policy
    return policy


def get_settings(request: Request) -> Settings:
    """Return the server's settings."""
    settings: Settings = request.app.state.settings
    return settings


# scope="function": commit before the response is sent, so a 2xx always means committed.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
PolicyDep = Annotated[LoadedPolicy, Depends(get_policy)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
