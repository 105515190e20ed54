"""Fixtures of the operations tests: storage failures injected at the driver."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, event


@pytest.fixture
def fail_inserts(app: FastAPI) -> Iterator[list[Exception]]:
    """Make every INSERT fail with the exception appended to the list, until it is emptied."""
    engine: Engine = app.state.engine
    failure: list[Exception] = []

    def before(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if failure and statement.lstrip().upper().startswith("INSERT"):
            raise failure[0]

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield failure
    finally:
        event.remove(engine, "before_cursor_execute", before)
