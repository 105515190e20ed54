"""A bounded load on a deployment (docs/deploy.md: four server processes and the worker on
PostgreSQL): collection, purchases, purpose-bound reads, lookups, disclosures, withdrawals,
erasures and analytics page views at once, over loopback. No answer is a 5xx, every
acknowledged write is in the database afterwards, nothing is left without its person, and the
audit chain is intact (bench/bench_load.py runs the same mix at full size)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from avowal.analytics.models import Event
from avowal.vault.models import BlindIndex, PersonalValue, Subject
from bench import load_mix
from tests import deployment

PEOPLE, THREADS, PROCESSES = 48, 8, 4


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_four_processes_and_the_worker_under_a_mixed_load(db_url: str, tmp_path: Path) -> None:
    with deployment.deployed(db_url, tmp_path, workers=PROCESSES) as site:
        done = load_mix.run(site.url, site.token, PEOPLE, THREADS)
        assert site.worker.poll() is None and site.server.poll() is None
        verified = deployment.avowal(site.env, "audit", "verify")
    assert not [s for s in done.statuses if s >= 500], done.statuses
    assert done.unexpected == [], done.unexpected[:5]
    assert len(done.collected) == PEOPLE and len(done.erased) == PEOPLE // 4
    assert done.events == 2 * PEOPLE
    assert "audit chain intact" in verified
    engine = create_engine(db_url)
    try:
        with engine.connect() as db:
            subjects = {row.id: row for row in db.execute(select(Subject))}
            assert set(subjects) == set(done.collected)  # every acknowledged person, no other
            for sid in done.erased:
                assert subjects[sid].erased_at is not None and subjects[sid].wrapped_key is None
            living = [sid for sid in done.collected if sid not in done.erased]
            assert all(subjects[sid].wrapped_key is not None for sid in living)
            # Nothing without its person: values and lookups belong to living people only.
            owners = set(db.scalars(select(PersonalValue.subject_id).distinct()))
            assert owners <= set(subjects)
            indexed = set(db.scalars(select(BlindIndex.subject_id).distinct()))
            assert indexed == set(living)
            assert db.scalar(select(func.count()).select_from(Event)) == done.events
    finally:
        engine.dispose()
