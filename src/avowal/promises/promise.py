"""What a promise of the ledger is: its kind, its state on a server, and how that is decided."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from avowal.policy.loader import LoadedPolicy
from avowal.promises.evidence import Evidence
from avowal.promises.ids import PromiseId
from avowal.settings import Settings

# An attestation older than this is flagged as stale (it still counts, but must be renewed).
ATTESTATION_DAYS = 365


class Kind(StrEnum):
    enforced = "enforced"
    organisational = "organisational"


class State(StrEnum):
    """Where a promise stands on this server."""

    enforced = "enforced"
    needs_configuration = "needs_configuration"
    not_available = "not_available"
    attested = "attested"
    not_attested = "not_attested"
    attestation_stale = "attestation_stale"


KEPT = frozenset({State.enforced, State.attested, State.attestation_stale})


@dataclass(frozen=True)
class AttestationRecord:
    """The latest attestation of an organisational measure."""

    promise: str
    by: str
    at: dt.datetime
    note: str | None = None


@dataclass(frozen=True)
class Status:
    """A promise's state and, when it is not plainly enforced, what to do or what is missing."""

    state: State
    detail: str = ""
    attestation: AttestationRecord | None = None

    @property
    def kept(self) -> bool:
        """Say whether the promise may be published in production."""
        return self.state in KEPT

    @property
    def flagged(self) -> bool:
        """Say whether the internal review should draw attention to it."""
        return self.state is not State.enforced and self.state is not State.attested


Stated = Callable[[LoadedPolicy], bool]
Needs = Callable[[Settings, LoadedPolicy], str | None]


@cache
def resolves(path: str) -> bool:
    """Say whether a dotted path names an importable module attribute (a class's too)."""
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(obj, name):
                return False
            obj = getattr(obj, name)
        return callable(obj)
    return False


@dataclass(frozen=True)
class Promise:
    """One promise of the page, with how it is kept and shown."""

    id: PromiseId
    statement: str
    section: str
    kind: Kind
    stated: Stated
    mechanism: str | None
    tests: tuple[str, ...] = ()
    missing: str | None = None
    needs: Needs | None = None
    evidence: Evidence | None = None

    def status(
        self,
        settings: Settings,
        loaded: LoadedPolicy,
        attestations: Mapping[str, AttestationRecord],
        now: dt.datetime | None = None,
    ) -> Status:
        """Return where this promise stands under ``settings`` with these attestations."""
        if self.kind is Kind.organisational:
            found = attestations.get(self.id)
            if found is None:
                return Status(
                    State.not_attested,
                    f"attest it: avowal promises attest {self.id} --by NAME",
                )
            age = (now or dt.datetime.now(dt.UTC)) - found.at
            if age > dt.timedelta(days=ATTESTATION_DAYS):
                return Status(
                    State.attestation_stale,
                    f"attested more than a year ago; attest again: avowal promises attest "
                    f"{self.id} --by NAME",
                    found,
                )
            return Status(State.attested, "", found)
        if self.mechanism is None or not resolves(self.mechanism):
            what = self.missing or f"{self.mechanism} is not built yet"
            return Status(State.not_available, f"not built yet: {what}")
        need = self.needs(settings, loaded) if self.needs is not None else None
        if need is not None:
            return Status(State.needs_configuration, need)
        return Status(State.enforced)
