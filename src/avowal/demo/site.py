"""The demo site's back end: its service token and its client of this avowal server.

The demo calls avowal as any site's back end does: over HTTP, with a service token of a service
role of the policy (``web_backend`` when the policy has it), through :class:`avowal.client.Client`.
The token is made on first use and kept in the data folder (``demo/token``, readable by its
owner only), so restarts reuse it; it is an ordinary token (``avowal token list`` shows it as
``demo-site-...``, ``avowal token revoke`` ends it, and the next demo request makes another).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from avowal.callers import service as callers
from avowal.callers.exceptions import NotAuthenticated
from avowal.client import Client
from avowal.policy.loader import LoadedPolicy
from avowal.settings import Settings

PREFERRED_ROLE = "web_backend"


class NoServiceRole(Exception):
    """The policy has no service role: a site's back end could not call avowal."""


def token_file(settings: Settings) -> Path:
    """Return where the demo keeps its token."""
    return settings.data_dir / "demo" / "token"


def role_for(policy: LoadedPolicy) -> str:
    """Return the service role the demo's back end holds."""
    roles = callers.service_roles(policy)
    if not roles:
        raise NoServiceRole(
            "the policy has no service role (`service: true` under staff.roles): a site's back "
            "end has no token to call avowal with"
        )
    return PREFERRED_ROLE if PREFERRED_ROLE in roles else roles[0]


def token(settings: Settings, policy: LoadedPolicy, sessions: sessionmaker[Session]) -> str:
    """Return the demo's service token, made (and kept) on first use."""
    path = token_file(settings)
    if path.is_file():
        kept = path.read_text(encoding="utf-8").strip()
        with sessions() as session:
            try:
                callers.authenticate(session, policy, kept)
                return kept
            except NotAuthenticated:  # revoked, or its role left the policy: make another
                pass
    with sessions.begin() as session:
        made = callers.create(
            session, policy, f"demo-site-{secrets.token_hex(4)}", role_for(policy)
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(made + "\n", encoding="utf-8")
    return made


def client(settings: Settings, policy: LoadedPolicy, sessions: sessionmaker[Session]) -> Client:
    """Return a client of this server (at its public URL) with the demo's token."""
    return Client(settings.public_url, token(settings, policy, sessions))
