"""The baseline: GDPRbench's operations in plain SQLAlchemy, with no enforcement.

A record is one value of one person with its GDPR metadata in plain columns (GDPRbench's
key-value record with purpose, recipients, TTL, origin, objections and owner); values are stored
as given, with no encryption, no notice, no receipt, and a plain audit row where GDPRbench logs.
Purposes are matched with the same hierarchy rule as avowal (a read for a use within the
record's purpose), since GDPRbench's processor, too, reads only records of its purpose.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from avowal.lib import clock
from avowal.policy.taxonomy import is_within
from bench import gdpr_workload as wl
from bench.gdpr_workload import Contender, Op

meta = MetaData()
records = Table(
    "gdpr_plain_records",
    meta,
    Column("key", String(120), primary_key=True),
    Column("owner", String(40), nullable=False, index=True),
    Column("field", String(40), nullable=False),
    Column("data", Text),
    Column("purposes", Text, nullable=False),
    Column("recipients", Text, nullable=False),
    Column("ttl", DateTime(timezone=True)),
    Column("origin", String(40), nullable=False),
    Column("objections", Text, nullable=False, default="[]"),
    Index("ix_gdpr_plain_records_field_data", "field", "data"),
)
plain_audit = Table(
    "gdpr_plain_audit",
    meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True)),
    Column("actor", String(40)),
    Column("action", String(32)),
    Column("owner", String(40), index=True),
    Column("purpose", String(200)),
)

REGISTRATION_PURPOSES = [
    "essential.service.authentication",
    "essential.service.notifications.email",
    wl.SUPPORT,
]
PURCHASE_PURPOSES = [wl.PAYMENT, "essential.service.notifications.email"]


def owner(i: int) -> str:
    return f"person-{i}"


def _rows(i: int, point: str, values: dict[str, str], now: dt.datetime) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for field, value in values.items():
        if point == "registration":
            purposes = REGISTRATION_PURPOSES + ([wl.NEWSLETTER] if field == "email" else [])
            recipients: list[str] = []
            ttl = None
        else:
            purposes, recipients = PURCHASE_PURPOSES, [wl.PROCESSOR]
            ttl = now + dt.timedelta(days=wl.CARD_TTL_DAYS) if field == "card" else None
        rows.append(
            {
                "key": f"{owner(i)}:{point}:{field}",
                "owner": owner(i),
                "field": field,
                "data": value,
                "purposes": json.dumps(purposes),
                "recipients": json.dumps(recipients),
                "ttl": ttl,
                "origin": point,
                "objections": "[]",
            }
        )
    return rows


class Plain(Contender):
    """GDPRbench's operations on the plain tables, each in its own transaction."""

    name = "plain SQL"

    def __init__(self, engine: Engine, sessions: sessionmaker[Session]) -> None:
        super().__init__(sessions)
        meta.create_all(engine)

    def preload(self, people: int) -> None:
        """Insert ``people`` registered people, every second one with a purchase too."""
        now = clock.now()
        for start in range(0, people, 100):
            rows: list[dict[str, object]] = []
            for i in range(start, min(start + 100, people)):
                rows += _rows(i, "registration", wl.registration(i), now)
                if wl.is_buyer(i, people):
                    rows += _rows(i, "purchase", wl.purchase(i), now)
            with self.sessions() as s, s.begin():
                s.execute(insert(records), rows)
                # One audit row per collection, as avowal writes one entry per collection.
                s.execute(
                    insert(plain_audit),
                    [
                        {"at": now, "actor": "loader", "action": "collect", "owner": o}
                        for o, _ in dict.fromkeys((r["owner"], r["origin"]) for r in rows)
                    ],
                )

    def _audit(self, s: Session, op: Op, purpose: str | None = None) -> None:
        s.execute(
            insert(plain_audit),
            {
                "at": clock.now(),
                "actor": op.role,
                "action": op.kind,
                "owner": owner(op.person),
                "purpose": purpose,
            },
        )

    # controller
    def _create(self, s: Session, op: Op) -> None:
        s.execute(
            insert(records),
            _rows(op.person, "registration", wl.registration(op.person), clock.now()),
        )
        self._audit(s, op)

    def _close(self, s: Session, op: Op) -> None:
        ttl = clock.now() + dt.timedelta(days=wl.CLOSE_TTL_DAYS)
        s.execute(update(records).where(records.c.owner == owner(op.person)).values(ttl=ttl))
        self._audit(s, op)

    def _expire(self, s: Session, op: Op) -> None:
        then = clock.now() + dt.timedelta(days=wl.EXPIRE_AFTER_DAYS)
        due = s.execute(
            select(records.c.key, records.c.purposes).where(
                records.c.owner == owner(op.person), records.c.ttl < then
            )
        ).all()
        gone = []
        for key, purposes in due:
            left = [p for p in json.loads(purposes) if not is_within(p, wl.SERVICE)]
            if left:  # held for another purpose too: only the service's purposes expire
                s.execute(
                    update(records)
                    .where(records.c.key == key)
                    .values(purposes=json.dumps(left), ttl=None)
                )
            else:
                gone.append(key)
        if gone:
            s.execute(delete(records).where(records.c.key.in_(gone)))
        if due:
            self._audit(s, op)

    # customer
    def _read_data(self, s: Session, op: Op) -> None:
        s.execute(select(records).where(records.c.owner == owner(op.person))).all()
        self._audit(s, op)

    def _read_meta(self, s: Session, op: Op) -> None:
        s.execute(
            select(
                records.c.key,
                records.c.purposes,
                records.c.recipients,
                records.c.ttl,
                records.c.origin,
                records.c.objections,
            ).where(records.c.owner == owner(op.person))
        ).all()

    def _update(self, s: Session, op: Op) -> None:
        s.execute(
            update(records)
            .where(records.c.key == f"{owner(op.person)}:registration:phone")
            .values(data=wl.new_phone(op.person, self.done))
        )
        self._audit(s, op)

    def _erase(self, s: Session, op: Op) -> None:
        s.execute(delete(records).where(records.c.owner == owner(op.person)))
        self._audit(s, op)

    def _object(self, s: Session, op: Op) -> None:
        s.execute(
            update(records)
            .where(records.c.owner == owner(op.person))
            .values(objections=json.dumps([wl.NEWSLETTER]))
        )
        self._audit(s, op, wl.NEWSLETTER)

    # processor
    def _read(self, s: Session, op: Op) -> None:
        rows = s.execute(
            select(records.c.field, records.c.data, records.c.purposes).where(
                records.c.owner == owner(op.person)
            )
        ).all()
        _ = {f: d for f, d, p in rows if any(is_within(wl.SUPPORT, u) for u in json.loads(p))}
        self._audit(s, op, wl.SUPPORT)

    def _lookup(self, s: Session, op: Op) -> None:
        rows = s.execute(
            select(records.c.owner, records.c.purposes).where(
                records.c.field == "email", records.c.data == wl.registration(op.person)["email"]
            )
        ).all()
        _ = {o for o, p in rows if any(is_within(wl.SUPPORT, u) for u in json.loads(p))}
        self._audit(s, op, wl.SUPPORT)

    def _disclose(self, s: Session, op: Op) -> None:
        rows = s.execute(
            select(records.c.field, records.c.data, records.c.recipients).where(
                records.c.owner == owner(op.person), records.c.origin == "purchase"
            )
        ).all()
        out = {f: d for f, d, r in rows if f in wl.DISCLOSED and wl.PROCESSOR in json.loads(r)}
        assert len(out) == len(wl.DISCLOSED), out
        self._audit(s, op, wl.PAYMENT)

    # regulator
    def _meta(self, s: Session, op: Op) -> None:
        self._read_meta(s, op)
        self._audit(s, op, wl.LEGAL)

    def _log(self, s: Session, op: Op) -> None:
        s.execute(
            select(plain_audit)
            .where(plain_audit.c.owner == owner(op.person))
            .order_by(plain_audit.c.id)
        ).all()

    def _verify(self, s: Session, op: Op) -> None:
        s.execute(select(plain_audit).order_by(plain_audit.c.id)).all()

    def living_records(self) -> int:
        """Return how many records are held."""
        with self.sessions() as s:
            return int(s.scalar(select(func.count()).select_from(records)) or 0)

    def erased(self, created: int) -> set[int]:
        """Return the numbers of the people (of ``created``) of whom nothing is held."""
        with self.sessions() as s:
            held = set(s.scalars(select(records.c.owner).distinct()))
        return {i for i in range(created) if owner(i) not in held}
