"""Readiness: can this server take requests now? Its database takes a write, its keys work, and
where `avowal worker` runs apart (PostgreSQL), each of the worker's jobs beat recently.

Each failure is a 503 naming what is not ready: ``storage_unavailable`` (the database),
``keys_unavailable`` (which key), ``worker_not_ready`` (which jobs, how old their heartbeat is,
and the limit). An embedded (SQLite) server does the worker's work itself, so it never waits for
a worker; nor does the test mode, whose applications run no worker at all.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography.exceptions import InvalidSignature
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from avowal.analytics import worker as analytics_worker
from avowal.crypto.service import Secrets
from avowal.db import ready as storage
from avowal.lib import clock
from avowal.lib.errors import STORAGE_RETRY_SECONDS, AvowalError
from avowal.ops import heartbeat, jobs
from avowal.settings import Settings

# Wrapped and unwrapped under the current master key at each probe (never stored).
PROBE_DATA_KEY = bytes(32)
PROBE_OWNER = "readiness-probe"
PROBE_MESSAGE = b"avowal readiness probe"


class KeysUnavailable(AvowalError):
    """A key the server needs does not work."""

    status_code = 503
    error = "keys_unavailable"
    headers = {"Retry-After": STORAGE_RETRY_SECONDS}  # noqa: RUF012 - one constant for all


class WorkerNotReady(AvowalError):
    """A job of `avowal worker` has not beat recently (or ever)."""

    status_code = 503
    error = "worker_not_ready"
    headers = {"Retry-After": STORAGE_RETRY_SECONDS}  # noqa: RUF012 - one constant for all


def check_keys(secrets: Secrets) -> None:
    """Raise :class:`KeysUnavailable` naming the key unless every key works: the master keyring
    wraps and unwraps a data key (re-reading its file if it changed), the blind-index key has its
    32 bytes, and the signing key signs what its public key verifies."""
    ring = secrets.keyring
    try:
        kid, wrapped = ring.wrap(PROBE_DATA_KEY, PROBE_OWNER)
        usable = ring.unwrap(kid, wrapped, PROBE_OWNER) == PROBE_DATA_KEY
    except Exception:
        usable = False
    if not usable:
        raise KeysUnavailable(
            "the master keyring cannot wrap and unwrap a data key: check AVOWAL_MASTER_KEY_FILE "
            "with `avowal keys check`",
            key="master_keyring",
        )
    if len(secrets.index_key) != 32:
        raise KeysUnavailable(
            "the blind-index key is not 32 bytes: check AVOWAL_INDEX_KEY_FILE with "
            "`avowal keys check`",
            key="index_key",
        )
    try:
        signature = secrets.signing_key.sign(PROBE_MESSAGE)
        secrets.signing_key.public_key().verify(signature, PROBE_MESSAGE)
    except (InvalidSignature, ValueError):
        raise KeysUnavailable(
            "the receipt-signing key does not sign: check AVOWAL_SIGNING_KEY_FILE with "
            "`avowal keys check`",
            key="signing_key",
        ) from None


def expects_worker(settings: Settings, dialect: str) -> bool:
    """Tell whether `avowal worker` must be running apart for this server to be ready."""
    return settings.env != "test" and not analytics_worker.embedded(settings, dialect)


def check_worker(session: Session, settings: Settings, now: dt.datetime) -> None:
    """Raise :class:`WorkerNotReady` unless every job of the worker beat within its interval
    plus ``worker_stale_seconds``."""
    beats = heartbeat.read(session)
    stale: list[dict[str, Any]] = []
    for job in jobs.JOBS:
        limit = job.interval(settings) + settings.worker_stale_seconds
        found = beats.get(job.name)
        age = None if found is None else found.age(now)
        if age is None or age > limit:
            stale.append(
                {
                    "job": job.name,
                    "age_seconds": None if age is None else round(age, 1),
                    "limit_seconds": limit,
                }
            )
    if not stale:
        return
    said = ", ".join(
        f"{s['job']} never beat"
        if s["age_seconds"] is None
        else f"{s['job']} last beat {s['age_seconds']:.0f} s ago (limit {s['limit_seconds']:.0f} s)"
        for s in stale
    )
    raise WorkerNotReady(
        f"the worker's heartbeat is not recent ({said}): run `avowal worker` beside the servers "
        "and see its log",
        jobs=stale,
    )


def check(
    engine: Engine,
    secrets: Secrets,
    read_sessions: sessionmaker[Session],
    settings: Settings,
) -> None:
    """Raise the 503 of the first thing not ready: the database, the keys, the worker."""
    storage.check_writable(engine)
    check_keys(secrets)
    if expects_worker(settings, engine.dialect.name):
        with read_sessions() as session:
            check_worker(session, settings, clock.now())
