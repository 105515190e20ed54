"""GDPRbench's operations through avowal's service layer, as its routes and console call them.

Each operation is one transaction, committed at the edge as a request's would be.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from avowal.audit import service as audit
from avowal.audit.models import AuditEntry
from avowal.callers.service import Caller
from avowal.crypto.service import Secrets
from avowal.lib import clock
from avowal.policy.loader import LoadedPolicy
from avowal.rights import export
from avowal.rights import service as rights
from avowal.vault import access, activity, collection, erasure, notices, repository, retention
from avowal.vault.models import PersonalValue, Subject
from avowal.vault.schemas import CollectRequest
from bench import gdpr_workload as wl
from bench.gdpr_workload import Contender, Op

PERSON = {"actor": rights.PERSON, "role": rights.PERSON_ROLE}


class Avowal(Contender):
    """GDPRbench's operations on avowal's vault, each in its own transaction."""

    name = "avowal"

    def __init__(
        self, sessions: sessionmaker[Session], loaded: LoadedPolicy, secrets: Secrets
    ) -> None:
        super().__init__(sessions)
        self.loaded = loaded
        self.secrets = secrets
        roles = loaded.policy.staff.roles
        self.callers = {
            role: Caller(name=f"bench-{role}", role=role, purposes=tuple(roles[role].purposes))
            for role in ("web_backend", "support", "billing", "privacy_officer")
        }
        self.notice = {
            point: notices.notice(loaded, point).notice_id for point in ("registration", "purchase")
        }
        self.ids: dict[int, str] = {}

    def _collect(self, s: Session, point: str, i: int, values: dict[str, str]) -> None:
        subject = {"subject_id": self.ids[i]} if i in self.ids else {"ref": f"person-{i}"}
        body = CollectRequest.model_validate(
            {"notice_id": self.notice[point], "subject": subject, "values": values}
        )
        got = collection.collect(
            s, self.loaded, self.secrets, self.callers["web_backend"], point, body
        )
        self.ids[i] = got.subject_id

    def preload(self, people: int) -> None:
        """Collect ``people`` people at registration, every second one at purchase too."""
        for start in range(0, people, 100):
            with self.sessions() as s, s.begin():
                for i in range(start, min(start + 100, people)):
                    self._collect(s, "registration", i, wl.registration(i))
                    if wl.is_buyer(i, people):
                        self._collect(s, "purchase", i, wl.purchase(i))

    # controller
    def _create(self, s: Session, op: Op) -> None:
        self._collect(s, "registration", op.person, wl.registration(op.person))

    def _close(self, s: Session, op: Op) -> None:
        activity.close(s, self.callers["web_backend"], self.ids[op.person])

    def _expire(self, s: Session, op: Op) -> None:
        then = clock.now() + dt.timedelta(days=wl.EXPIRE_AFTER_DAYS)
        retention.enforce(s, self.loaded, self.ids[op.person], then)

    # customer (the person, signed in to the privacy center)
    def _read_data(self, s: Session, op: Op) -> None:
        export.build(s, self.loaded, self.secrets, self.ids[op.person], **PERSON)

    def _read_meta(self, s: Session, op: Op) -> None:
        repository.receipts_of(s, self.ids[op.person])

    def _update(self, s: Session, op: Op) -> None:
        phone = wl.new_phone(op.person, self.done)
        sid = self.ids[op.person]
        rights.correct(s, self.loaded, self.secrets, sid, "registration", "phone", phone, **PERSON)

    def _erase(self, s: Session, op: Op) -> None:
        erasure.erase(s, self.loaded, self.callers["web_backend"], self.ids[op.person])

    def _object(self, s: Session, op: Op) -> None:
        sid = self.ids[op.person]
        rights.object_to(s, self.loaded, sid, wl.NEWSLETTER, "api", **PERSON)

    # processor (staff and services, for a stated purpose)
    def _read(self, s: Session, op: Op) -> None:
        sid = self.ids[op.person]
        access.read(s, self.loaded, self.secrets, self.callers["support"], sid, wl.SUPPORT)

    def _lookup(self, s: Session, op: Op) -> None:
        email = wl.registration(op.person)["email"]
        support = self.callers["support"]
        access.lookup(s, self.loaded, self.secrets, support, "email", email, wl.SUPPORT)

    def _disclose(self, s: Session, op: Op) -> None:
        out = access.disclose(
            s,
            self.loaded,
            self.secrets,
            self.callers["billing"],
            self.ids[op.person],
            wl.PROCESSOR,
            list(wl.DISCLOSED),
            wl.PAYMENT,
        )
        assert len(out.values) == len(wl.DISCLOSED), out

    # regulator (the privacy officer answering for legal obligations)
    def _meta(self, s: Session, op: Op) -> None:
        sid = self.ids[op.person]
        access.disclosures(s, self.loaded, self.callers["privacy_officer"], sid, wl.LEGAL)
        repository.receipts_of(s, sid)

    def _log(self, s: Session, op: Op) -> None:
        sid = self.ids[op.person]
        s.scalars(
            select(AuditEntry).where(AuditEntry.subject_id == sid).order_by(AuditEntry.seq)
        ).all()

    def _verify(self, s: Session, op: Op) -> None:
        checked = audit.verify(s)
        assert checked.ok, checked

    def living_records(self) -> int:
        """Return how many values of living people are held."""
        with self.sessions() as s:
            return int(
                s.scalar(
                    select(func.count())
                    .select_from(PersonalValue)
                    .join(Subject, Subject.id == PersonalValue.subject_id)
                    .where(Subject.erased_at.is_(None))
                )
                or 0
            )

    def erased(self, created: int) -> set[int]:
        """Return the numbers of the people (of ``created``) who were erased."""
        number = {sid: i for i, sid in self.ids.items() if i < created}
        with self.sessions() as s:
            gone = s.scalars(select(Subject.id).where(Subject.erased_at.is_not(None)))
            return {number[sid] for sid in gone if sid in number}
