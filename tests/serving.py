"""Make a running test app enforce another policy, as publishing it would."""

from __future__ import annotations

from fastapi import FastAPI

from avowal.lifecycle import repository
from avowal.lifecycle import service as lifecycle
from avowal.policy.loader import LoadedPolicy


def enforce(app: FastAPI, loaded: LoadedPolicy) -> None:
    """Publish ``loaded`` to take effect now (if it is not published yet) and serve it at once."""
    with app.state.sessionmaker.begin() as session:
        if repository.get(session, loaded.version_id) is None:
            lifecycle.publish(session, loaded, by="officer@example.com")
    app.state.policies.refresh()
    assert app.state.policies.current().version_id == loaded.version_id
