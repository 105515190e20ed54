"""Fixtures of the schema tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from avowal.db.engine import make_engine
from avowal.settings import Settings


@pytest.fixture
def bare_engine(settings: Settings) -> Iterator[Engine]:
    """Yield an engine on the fresh database, not migrated."""
    engine = make_engine(settings)
    try:
        yield engine
    finally:
        engine.dispose()
