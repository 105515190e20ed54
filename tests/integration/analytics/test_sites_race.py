"""Two server processes starting at once on a fresh database both record the policy's sites."""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine, func, select

from avowal.analytics import sites
from avowal.analytics.models import Site
from avowal.db.engine import make_sessionmaker
from avowal.lib import clock
from avowal.policy.loader import load_file
from avowal.settings import Settings


def test_two_starts_at_once_record_each_policy_site_once(
    engine: Engine, settings: Settings
) -> None:
    policy = load_file(settings.policy_file).policy
    sessions = make_sessionmaker(engine)
    errors: list[BaseException] = []

    def second_process() -> None:
        try:
            with sessions() as session, session.begin():
                sites.sync_policy_sites(session, policy, clock.now())
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    with sessions() as first:
        first.begin()
        sites.sync_policy_sites(first, policy, clock.now())
        first.flush()
        other = threading.Thread(target=second_process)
        other.start()
        time.sleep(0.5)  # the second start reaches its insert and waits for the first
        first.commit()
    other.join(timeout=30)
    assert not other.is_alive()
    assert errors == []
    with sessions() as session:
        domains = session.scalars(select(Site.domain)).all()
        assert sorted(domains) == sorted(sites.declared(policy))
        assert session.scalar(select(func.count()).select_from(Site)) == len(domains)
