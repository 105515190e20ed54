"""Appending from where this process last left the head: a wrong guess never forks the chain.

``audit.append_many`` moves the head in one conditional statement when it is where the process
last left it (on PostgreSQL, together with the entry). Another engine's appends, a rolled-back
batch, or a head changed behind its back make the guess wrong; the append must then read the
head and chain from it, on both databases.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from avowal.audit import service as audit
from avowal.db.engine import make_engine
from avowal.settings import Settings


def _event(n: int) -> audit.Event:
    return audit.Event(actor=f"tester-{n}", role="tester", action="test", subject_id=None)


def _append(engine: Engine, *numbers: int) -> list[int]:
    with Session(engine) as s, s.begin():
        return audit.append_many(s, [_event(n) for n in numbers])


def _statements(engine: Engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(" ".join(a[2].split())))
    return seen


def _verified(engine: Engine) -> audit.Verification:
    with Session(engine) as s:
        return audit.verify(s)


def test_two_engines_taking_turns_keep_one_chain(engine: Engine, settings: Settings) -> None:
    other = make_engine(settings)
    try:
        seqs = []
        for turn in range(6):
            seqs += _append(engine if turn % 2 == 0 else other, turn)
            seqs += _append(engine if turn % 3 == 0 else other, 100 + turn, 200 + turn)
        assert seqs == list(range(1, len(seqs) + 1))
        checked = _verified(engine)
        assert checked.ok, checked
        assert checked.count == len(seqs)
    finally:
        other.dispose()


def test_a_right_guess_takes_fewer_statements(engine: Engine) -> None:
    _append(engine, 1)  # the head is now where this engine left it
    seen = _statements(engine)
    _append(engine, 2)
    heads = [s for s in seen if "audit_head" in s]
    assert len(heads) == 1, heads  # one conditional move, no read of the head
    seen.clear()
    with engine.begin() as conn:  # the head moved behind the process's back
        conn.execute(text("UPDATE audit_head SET seq = seq WHERE id = 1"))
    _append(engine, 3)
    assert _verified(engine).ok


def test_a_rolled_back_append_leaves_no_fork(engine: Engine) -> None:
    _append(engine, 1)
    with Session(engine) as s:
        s.begin()
        audit.append(s, _event(2))  # the process now guesses the head is at 2
        s.rollback()
    assert _append(engine, 3) == [2]
    # A different entry 2 written by someone else, then this process's guess of the same seq
    # must not match it by number alone.
    with Session(engine) as s:
        s.begin()
        audit.append(s, _event(4))  # guesses (3, hash of this uncommitted entry)
        s.rollback()
    other = make_engine_like(engine)
    try:
        assert _append(other, 5) == [3]  # a real entry 3, another hash
    finally:
        other.dispose()
    assert _append(engine, 6) == [4]
    checked = _verified(engine)
    assert checked.ok, checked
    assert checked.count == 4


def make_engine_like(engine: Engine) -> Engine:
    """Return a second engine on the same database (another process, as far as guesses go)."""
    from sqlalchemy import create_engine

    return create_engine(engine.url)


@pytest.mark.parametrize("size", [1, 3])
def test_batches_and_single_entries_chain_alike(engine: Engine, size: int) -> None:
    for round_ in range(3):
        _append(engine, *range(round_ * 10, round_ * 10 + size))
    checked = _verified(engine)
    assert checked.ok, checked
    assert checked.count == 3 * size
