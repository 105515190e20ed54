"""The policy a running server enforces: the version in effect now, switched with no restart."""

from __future__ import annotations

import bisect
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from avowal.lib import clock
from avowal.lib.errors import STORAGE_ERRORS
from avowal.lifecycle import repository
from avowal.lifecycle.service import loaded_version
from avowal.policy.loader import LoadedPolicy

log = logging.getLogger("avowal.lifecycle")

# What a background worker is given: a fixed policy, or a holder's ``current`` to follow the
# published version in effect.
PolicySource = LoadedPolicy | Callable[[], LoadedPolicy]


def resolve(source: PolicySource) -> LoadedPolicy:
    """Return the policy a worker pass uses now."""
    return source if isinstance(source, LoadedPolicy) else source()


class PolicyHolder:
    """Hand out the version in effect at the current time.

    The schedule of published versions (ids and effective times only) is re-read at most every
    ``refresh_seconds``, so a version published by another process is seen without a restart;
    which version applies is decided on every call from the clock, so a version announced for
    a date takes effect at that date exactly. Parsed versions are kept (they never change).
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        started: LoadedPolicy,
        *,
        refresh_seconds: float,
    ) -> None:
        self._sessions = sessions
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._loaded: dict[str, LoadedPolicy] = {started.version_id: started}
        self._times: list[dt.datetime] = []
        self._ids: list[str] = []
        self._fallback = started
        self._read_at: float | None = None

    def refresh(self) -> None:
        """Re-read the schedule of published versions now."""
        with self._sessions() as session:
            rows = repository.schedule(session)
        with self._lock:
            self._times = [clock.aware(at) for _, at, _ in rows]
            self._ids = [vid for vid, _, _ in rows]
            self._read_at = time.monotonic()

    def _maybe_refresh(self) -> None:
        read_at = self._read_at
        if read_at is not None and time.monotonic() - read_at < self._refresh_seconds:
            return
        try:
            self.refresh()
        except STORAGE_ERRORS:
            # Keep enforcing what was known; the next call tries again.
            log.warning("could not re-read the published policy versions; keeping the last known")
            if read_at is None:
                raise

    def version_at(self, now: dt.datetime) -> str:
        """Return the id of the version in effect at ``now`` (the last to take effect by then)."""
        self._maybe_refresh()
        with self._lock:
            i = bisect.bisect_right(self._times, now)
            return self._ids[i - 1] if i else self._fallback.version_id

    def current(self, now: dt.datetime | None = None) -> LoadedPolicy:
        """Return the policy in effect now."""
        version_id = self.version_at(clock.current(now))
        found = self._loaded.get(version_id)
        if found is not None:
            return found
        with self._sessions() as session:
            row = repository.get(session, version_id)
            assert row is not None, "published versions are never deleted"
            loaded = loaded_version(row)
        self._loaded[version_id] = loaded
        return loaded
