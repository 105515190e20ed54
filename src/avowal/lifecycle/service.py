"""Record the policy a server enforces, so every later record can name its version."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from avowal.lib import clock
from avowal.lifecycle import repository
from avowal.lifecycle.models import PolicyVersion
from avowal.policy.loader import LoadedPolicy


def record(session: Session, loaded: LoadedPolicy) -> PolicyVersion:
    """Record a policy version once; an identical policy keeps its first record."""
    existing = repository.get(session, loaded.version_id)
    if existing is not None:
        return existing
    version = PolicyVersion(
        version_id=loaded.version_id,
        effective=loaded.policy.policy.effective,
        effective_at=clock.now(),
        published_at=clock.now(),
        published_by="server start",
        changes=[],
        source=loaded.source,
        document=loaded.as_json(),
    )
    try:
        # Another server process may record the same version at the same moment.
        with session.begin_nested():
            session.add(version)
    except IntegrityError:
        found = repository.get(session, loaded.version_id)
        assert found is not None
        return found
    return version
