"""ClickHouse for tests: the engine embedded by ``chdb``, one folder per test process.

chdb opens one folder per process (a second one raises), so every test of a process shares the
session's folder and each test gets a database of its own in it, dropped afterwards.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

_counter = itertools.count(1)


def folder_url(folder: Path, database: str) -> str:
    """Return the ``AVOWAL_ANALYTICS_URL`` of ``database`` in the chdb ``folder``."""
    return f"chdb://{folder.resolve()}?database={database}"


def new_database_name() -> str:
    """Return a database name unique in this test process."""
    return f"t{os.getpid()}_{next(_counter)}"
