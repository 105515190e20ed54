"""A production policy every promise of which this software keeps today, and its attestations.

Production refuses to start while the page states a promise that is not kept (the promise
ledger); production tests that are about something else use this policy and attest its
organisational measures, rather than weakening the rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from avowal.db.engine import make_sessionmaker
from avowal.lifecycle import repository as lifecycle_repository
from avowal.lifecycle import service as lifecycle
from avowal.policy.loader import load_file
from avowal.promises import registry
from avowal.promises import service as promises
from avowal.promises.promise import Kind
from tests.factories import write_policy


def keep_only_what_is_built(d: dict[str, Any]) -> None:
    """Drop from the example policy every promise that needs mail (the children's and the
    news' with its one-click unsubscribe) or a mechanism not built yet: the tests using this
    policy run without mail."""
    d["commitments"].pop("parental_consent_under", None)
    # The privacy center signs people in by mail; without it, rights go through the contact form
    # and the API. The contact form's answers go by mail too.
    d["commitments"]["privacy_center"] = False
    d["collection_points"].pop("contact", None)
    d.pop("children", None)
    for point in d["collection_points"].values():
        point["admits_minors"] = False
        point.pop("field_purposes", None)
    d["cookies"] = []
    d["cookie_rules"].pop("consent_cookie", None)
    d["changes"] = {
        "notice_days": 0,
        "notify_by": ["posting"],
        "continued_use_accepts": False,
        "material_requires_explicit": False,
    }


def write_kept_policy(folder: Path) -> Path:
    """Write the kept policy into ``folder`` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    return write_policy(folder, keep_only_what_is_built)


def attest_all(engine: Engine, policy_file: Path, by: str = "officer@example.com") -> None:
    """Attest every organisational measure the policy states (the database is migrated)."""
    loaded = load_file(policy_file)
    with make_sessionmaker(engine).begin() as session:
        for promise in registry.stated(loaded):
            if promise.kind is Kind.organisational:
                promises.attest(session, promise.id, by, "fixture")


def publish_kept(engine: Engine, folder: Path) -> Path:
    """Write the kept policy, publish it (in effect now) and attest it; return its path.

    A production server enforces only published versions, so a production test on a database
    that already holds another version publishes this one first, as `avowal policy publish`
    would.
    """
    path = write_kept_policy(folder)
    with make_sessionmaker(engine).begin() as session:
        if lifecycle_repository.get(session, load_file(path).version_id) is None:
            lifecycle.publish(session, load_file(path), by="officer@example.com")
    attest_all(engine, path)
    return path
