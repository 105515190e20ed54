"""GDPRbench's workload, ported: the four roles, their operation mixes, and a seeded script.

The script is generated once, before either contender runs, by simulating who is alive, whose
account is closed, whose retention period ran out and who bought something, so every operation
is one the service accepts (no refusal is timed) and both contenders receive the very same
operations in the very same order.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

# GDPRbench's roles, in the order they run.
ROLES = ("controller", "customer", "processor", "regulator")

# Each role's operations and their weights (GDPRbench's workloads, mapped onto avowal).
MIX: dict[str, tuple[tuple[str, float], ...]] = {
    "controller": (("create", 0.4), ("close", 0.3), ("expire", 0.3)),
    "customer": (
        ("read_data", 0.3),
        ("read_meta", 0.2),
        ("update", 0.25),
        ("erase", 0.1),
        ("object", 0.15),
    ),
    "processor": (("read", 0.6), ("lookup", 0.25), ("disclose", 0.15)),
    "regulator": (("meta", 0.49), ("log", 0.49), ("verify", 0.02)),
}

SEED = 20200830  # VLDB 2020
# Every second person of the pre-loaded set also bought a subscription (purchase point).
BUYER_EVERY = 2
# The retention run looks this far ahead: a closed account's service data is due (365 days
# after closure in the example policy), the card (730 days after collection) and the newsletter
# address (730 days after last activity) are not.
EXPIRE_AFTER_DAYS = 400
CLOSE_TTL_DAYS = 365
CARD_TTL_DAYS = 730
SUPPORT = "essential.service.operations.support"
PAYMENT = "essential.service.payment_processing"
LEGAL = "essential.legal_obligation"
NEWSLETTER = "marketing.communications.email"
SERVICE = "essential.service"
PROCESSOR = "payment_processor"
DISCLOSED = ("name", "email", "address", "card")


class Op(NamedTuple):
    """One operation of the script: a role, what it does, to whom (a person's number)."""

    role: str
    kind: str
    person: int


def registration(i: int) -> dict[str, str]:
    """Return the registration values of fictional person ``i``."""
    return {
        "name": f"Person Number {i}",
        "email": f"person{i}@example.com",
        "phone": f"+1 555-01{i % 100:02d}",
        "address": f"{i} Example Street, Springfield",
        "birth_date": f"19{60 + i % 30}-0{1 + i % 9}-1{i % 9}",
    }


def purchase(i: int) -> dict[str, str]:
    """Return the purchase values of fictional person ``i`` (the test card)."""
    return {
        "name": f"Person Number {i}",
        "email": f"person{i}.billing@example.com",
        "address": f"{i} Example Street, Springfield",
        "card": "4242 4242 4242 4242",
    }


def new_phone(i: int, version: int) -> str:
    """Return the corrected telephone number of person ``i`` after ``version`` corrections."""
    return f"+1 555-01{(i + version) % 100:02d}"


def is_buyer(i: int, preloaded: int) -> bool:
    """Tell whether person ``i`` bought a subscription (only the pre-loaded ones do)."""
    return i < preloaded and i % BUYER_EVERY == 0


class Pool:
    """A set of person numbers with O(1) add, remove and seeded random choice."""

    def __init__(self, items: list[int] | None = None) -> None:
        self.items: list[int] = []
        self.where: dict[int, int] = {}
        for i in items or []:
            self.add(i)

    def add(self, i: int) -> None:
        if i not in self.where:
            self.where[i] = len(self.items)
            self.items.append(i)

    def discard(self, i: int) -> None:
        at = self.where.pop(i, None)
        if at is None:
            return
        last = self.items.pop()
        if at < len(self.items):
            self.items[at] = last
            self.where[last] = at

    def pick(self, rng: random.Random) -> int | None:
        return self.items[rng.randrange(len(self.items))] if self.items else None

    def __len__(self) -> int:
        return len(self.items)


@dataclass
class _Model:
    """Who is where, as the script is written."""

    created: int
    alive: Pool  # not erased
    open_: Pool  # alive, account not closed
    due: Pool  # alive, closed, retention not yet run
    fresh: Pool  # alive, retention not yet run (their telephone number is held)
    buyers: Pool  # fresh, with purchase values

    def forget(self, i: int) -> None:
        for pool in (self.alive, self.open_, self.due, self.fresh, self.buyers):
            pool.discard(i)


def _step(model: _Model, role: str, kind: str, rng: random.Random) -> Op:
    """Choose the person for one operation and update the model; fall back when none fits."""
    if kind == "create":
        new = model.created
        model.created += 1
        for pool in (model.alive, model.open_, model.fresh):
            pool.add(new)
        return Op(role, kind, new)
    if kind == "close":
        closing = model.open_.pick(rng)
        if closing is None:
            return _step(model, role, "create", rng)
        model.open_.discard(closing)
        model.due.add(closing)
        return Op(role, kind, closing)
    if kind == "expire":
        due = model.due.pick(rng)
        if due is None:  # nobody is due: the run looks at someone and finds nothing to do
            return Op(role, kind, _alive(model, rng))
        for pool in (model.due, model.fresh, model.buyers):
            pool.discard(due)
        return Op(role, kind, due)
    if kind == "update":
        held = model.fresh.pick(rng)
        return Op(role, "read_data", _alive(model, rng)) if held is None else Op(role, kind, held)
    if kind == "disclose":
        buyer = model.buyers.pick(rng)
        return Op(role, "read", _alive(model, rng)) if buyer is None else Op(role, kind, buyer)
    if kind in ("meta", "log"):  # the regulator looks at anyone ever held, erased or not
        return Op(role, kind, rng.randrange(model.created))
    if kind == "verify":
        return Op(role, kind, -1)
    chosen = _alive(model, rng)
    if kind == "erase":
        model.forget(chosen)
    return Op(role, kind, chosen)


def _alive(model: _Model, rng: random.Random) -> int:
    i = model.alive.pick(rng)
    assert i is not None, "everyone was erased: raise the number of people"
    return i


def script(people: int, ops_per_role: int, seed: int = SEED) -> dict[str, list[Op]]:
    """Return each role's operations, drawn with a seeded generator over ``people`` people."""
    rng = random.Random(seed)
    everyone = list(range(people))
    buyers = [i for i in everyone if is_buyer(i, people)]
    model = _Model(
        created=people,
        alive=Pool(everyone),
        open_=Pool(everyone),
        due=Pool(),
        fresh=Pool(everyone),
        buyers=Pool(buyers),
    )
    out: dict[str, list[Op]] = {}
    for role in ROLES:
        kinds = [k for k, _ in MIX[role]]
        weights = [w for _, w in MIX[role]]
        out[role] = [
            _step(model, role, kind, rng)
            for kind in rng.choices(kinds, weights=weights, k=ops_per_role)
        ]
    return out


class Contender:
    """Runs operations one transaction each (``_<kind>`` methods of a subclass), timing each."""

    name = ""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.done = 0
        self.spent: defaultdict[str, float] = defaultdict(float)
        self.count: Counter[str] = Counter()
        self.statements: Counter[str] = Counter()
        self._executed = 0
        engine = sessions.kw["bind"]
        event.listen(engine, "before_cursor_execute", self._count_statement)

    def _count_statement(self, *_args: object) -> None:
        self._executed += 1

    def do(self, op: Op) -> None:
        """Carry out one operation in one transaction, committed at the end as at the edge."""
        start = time.perf_counter()
        executed = self._executed
        with self.sessions() as s, s.begin():
            getattr(self, f"_{op.kind}")(s, op)
        self.spent[op.kind] += time.perf_counter() - start
        self.count[op.kind] += 1
        self.statements[op.kind] += self._executed - executed
        self.done += 1

    def mean_ms(self, kind: str) -> float:
        """Return the mean milliseconds of an operation of this kind."""
        return 1000 * self.spent[kind] / self.count[kind] if self.count[kind] else 0.0

    def mean_statements(self, kind: str) -> float:
        """Return the mean number of SQL statements an operation of this kind sent."""
        return self.statements[kind] / self.count[kind] if self.count[kind] else 0.0
