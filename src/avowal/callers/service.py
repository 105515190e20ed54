"""Service tokens and what their roles may do."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from avowal.callers.exceptions import (
    NotAServiceRole,
    NotAuthenticated,
    PurposeNotGranted,
    TokenError,
)
from avowal.callers.models import ServiceToken
from avowal.lib import clock
from avowal.policy.loader import LoadedPolicy
from avowal.policy.taxonomy import is_within

PREFIX = "avw_"


@dataclass(frozen=True)
class Caller:
    """An authenticated caller and the purposes its role grants."""

    name: str
    role: str
    purposes: tuple[str, ...]

    def grants(self, purpose: str) -> bool:
        """Tell whether the role grants ``purpose`` itself or a parent use of it."""
        return any(is_within(purpose, p) for p in self.purposes)

    def require(self, purpose: str) -> None:
        """Refuse unless the role grants ``purpose``."""
        if not self.grants(purpose):
            raise PurposeNotGranted(
                f"role '{self.role}' does not grant the purpose '{purpose}'",
                purpose=purpose,
                role=self.role,
                granted=list(self.purposes),
            )


def service_roles(policy: LoadedPolicy) -> list[str]:
    """Return the roles of the policy that service tokens may hold."""
    return sorted(name for name, role in policy.policy.staff.roles.items() if role.service)


def _digest(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough to make the stored value useless.
    return hashlib.sha256(token.encode()).hexdigest()


def create(session: Session, policy: LoadedPolicy, name: str, role: str) -> str:
    """Create a service token for a role of the policy; return the token (shown once)."""
    roles = policy.policy.staff.roles
    if role not in roles:
        known = ", ".join(sorted(roles))
        raise TokenError(
            f"role '{role}' is not a staff role of the policy (roles: {known})", role=role
        )
    if not roles[role].service:
        raise NotAServiceRole(
            f"role '{role}' is a role for people: staff reach personal data through the console, "
            "signed in with a second factor and under the confidentiality agreement, never with "
            f"a token. Service tokens are for roles marked 'service: true' "
            f"({', '.join(service_roles(policy)) or 'none in this policy'})",
            role=role,
            service_roles=service_roles(policy),
        )
    if not name.strip() or len(name) > 100:
        raise TokenError("a token name is 1 to 100 characters")
    if session.scalar(select(ServiceToken.id).where(ServiceToken.name == name)) is not None:
        raise TokenError(f"a token named '{name}' exists already", name=name)
    token = PREFIX + secrets.token_urlsafe(32)
    session.add(
        ServiceToken(name=name, role=role, token_hash=_digest(token), created_at=clock.now())
    )
    session.flush()
    return token


def revoke(session: Session, name: str) -> None:
    """Revoke a token by name."""
    row = session.scalar(select(ServiceToken).where(ServiceToken.name == name))
    if row is None:
        raise TokenError(f"no token named '{name}'", name=name)
    row.revoked_at = clock.now()


def list_tokens(session: Session) -> list[ServiceToken]:
    """Return every token record (never the tokens themselves)."""
    return list(session.scalars(select(ServiceToken).order_by(ServiceToken.name)))


def authenticate(session: Session, policy: LoadedPolicy, token: str | None) -> Caller:
    """Return the caller a bearer token belongs to, or refuse with 401."""
    if not token:
        raise NotAuthenticated("a service token is required: Authorization: Bearer <token>")
    row = session.execute(
        select(ServiceToken.name, ServiceToken.role, ServiceToken.revoked_at).where(
            ServiceToken.token_hash == _digest(token)
        )
    ).one_or_none()
    if row is None or row.revoked_at is not None:
        raise NotAuthenticated("the service token is not valid")
    role = policy.policy.staff.roles.get(row.role)
    if role is None:
        raise NotAuthenticated(f"the token's role '{row.role}' is no longer in the policy")
    if not role.service:
        # A token made before the role stopped being a service role (or written to the database
        # by hand) is no way around the console.
        raise NotAuthenticated(
            f"the token's role '{row.role}' is not a service role: people use the console"
        )
    return Caller(name=row.name, role=row.role, purposes=tuple(role.purposes))
