"""The authenticated caller of a request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from avowal.callers import service
from avowal.callers.service import Caller
from avowal.lib.deps import PolicyDep, ReadSessionDep, SessionDep

_bearer = HTTPBearer(auto_error=False, description="A service token from `avowal token create`.")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def get_caller(session: SessionDep, policy: PolicyDep, credentials: Bearer) -> Caller:
    """Authenticate the request's bearer token."""
    return service.authenticate(session, policy, credentials.credentials if credentials else None)


def get_read_caller(session: ReadSessionDep, policy: PolicyDep, credentials: Bearer) -> Caller:
    """Authenticate the bearer token of a request that only reads, on its read-only session."""
    return get_caller(session, policy, credentials)


CallerDep = Annotated[Caller, Depends(get_caller)]
ReadCallerDep = Annotated[Caller, Depends(get_read_caller)]
