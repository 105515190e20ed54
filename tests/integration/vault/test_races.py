"""Two server processes on one database, paired requests for the same person, many times.

No 5xx, no deadlock, one clean answer to a double submit, exactly one of two erasures, and every
erasure complete: no lookup row left on the tombstone, no value committed after it.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from avowal.audit import service as audit
from avowal.audit.models import AuditEntry
from avowal.client import Client
from avowal.settings import EXAMPLE_POLICY
from avowal.vault.models import BlindIndex, PersonalValue, Subject
from tests.conftest import REPO_ROOT
from tests.factories import PURCHASE, REGISTRATION
from tests.server import Server, running, serve_env

ROUNDS = 12
PAYMENT = "essential.service.payment_processing"


@pytest.fixture
def servers(app: FastAPI, db_url: str, tmp_path: Path) -> Iterator[list[Server]]:
    """Two `avowal serve` processes on the test's database, sharing its keys."""
    env = serve_env(app.state.settings.data_dir, db_url, REPO_ROOT / EXAMPLE_POLICY)
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(running(env, tmp_path / f"server-{i}.log")) for i in range(2)]


def test_paired_requests_for_one_person_on_two_processes(
    servers: list[Server], tokens: dict[str, str], backend: Client, app: FastAPI
) -> None:
    headers = {"Authorization": f"Bearer {tokens['web_backend']}"}
    http = [httpx.Client(base_url=s.url, headers=headers, timeout=60.0) for s in servers]
    notices = {p: backend.notice(p).notice_id for p in ("registration", "purchase")}
    answers: Counter[tuple[str, int]] = Counter()
    problems: list[str] = []

    def collect(i: int, point: str, subject: dict[str, str]) -> Callable[[], httpx.Response]:
        values = REGISTRATION if point == "registration" else PURCHASE
        body = {"notice_id": notices[point], "subject": subject, "values": values}
        return lambda: http[i].post(f"/v1/collect/{point}", json=body)

    def erase(i: int, sid: str) -> Callable[[], httpx.Response]:
        return lambda: http[i].delete(f"/v1/subjects/{sid}")

    def disclose(i: int, sid: str) -> Callable[[], httpx.Response]:
        body = {"subject_id": sid, "recipient": "payment_processor", "fields": ["card"]}
        return lambda: http[i].post("/v1/disclosures", json={**body, "purpose": PAYMENT})

    def pair(
        kind: str, first: Callable[[], httpx.Response], second: Callable[[], httpx.Response]
    ) -> list[int]:
        start = threading.Barrier(2)

        def fire(call: Callable[[], httpx.Response]) -> httpx.Response:
            start.wait()
            return call()

        with ThreadPoolExecutor(2) as pool:
            got = list(pool.map(fire, (first, second)))
        for r in got:
            answers[(kind, r.status_code)] += 1
            if r.status_code >= 500:
                problems.append(f"{kind}: {r.status_code} {r.text[:200]}")
        return [r.status_code for r in got]

    def person(n: int, kind: str) -> str:
        sid = backend.collect("registration", REGISTRATION, ref=f"{kind}-{n}").subject_id
        backend.collect("purchase", PURCHASE, subject_id=sid)
        return sid

    erased: list[str] = []
    try:
        for n in range(ROUNDS):
            sid = person(n, "ce")
            got = pair(
                "collect+erase", collect(0, "registration", {"subject_id": sid}), erase(1, sid)
            )
            assert got[1] == 200 and got[0] in (201, 410), got
            erased.append(sid)

            ref = f"double-{n}"
            got = pair(
                "collect+collect",
                collect(0, "registration", {"ref": ref}),
                collect(1, "registration", {"ref": ref}),
            )
            assert got == [201, 201], got

            sid = person(n, "ee")
            got = pair("erase+erase", erase(0, sid), erase(1, sid))
            assert sorted(got) == [200, 410], got
            erased.append(sid)

            sid = person(n, "de")
            got = pair("disclose+erase", disclose(0, sid), erase(1, sid))
            assert got[1] == 200 and got[0] in (201, 410), got
            erased.append(sid)
    finally:
        for c in http:
            c.close()
    assert problems == []

    with app.state.sessionmaker() as s:
        # A double submit is one person.
        for n in range(ROUNDS):
            assert (
                s.scalar(
                    select(func.count()).select_from(Subject).where(Subject.ref == f"double-{n}")
                )
                == 1
            )
        for sid in erased:
            subj = s.get(Subject, sid)
            assert subj is not None and subj.erased_at is not None
            assert (subj.wrapped_key, subj.key_id, subj.ref) == (None, None, None)
            assert (
                s.scalar(
                    select(func.count()).select_from(BlindIndex).where(BlindIndex.subject_id == sid)
                )
                == 0
            )
            late = s.scalars(
                select(PersonalValue.collected_at).where(PersonalValue.subject_id == sid)
            ).all()
            assert all(at <= subj.erased_at for at in late), sid
            erasures = s.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "erase", AuditEntry.subject_id == sid)
            )
            assert erasures == 1, sid
        assert audit.verify(s).ok
