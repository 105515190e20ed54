"""A throw-away avowal instance for benchmarks: SQLite in a temporary folder, keys, policy."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from avowal.callers.service import Caller
from avowal.crypto import service as crypto
from avowal.crypto.service import Secrets
from avowal.db.engine import make_engine, make_sessionmaker
from avowal.db.migrate import upgrade
from avowal.policy.loader import LoadedPolicy, load_file
from avowal.settings import Settings

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "contactmonkey-2017" / "policy.yaml"

# Three more fields at registration, so one collection gives a person eight values.
EXTRA_REGISTRATION_FIELDS = {
    "job_title": {"label": "Job title", "category": "user.job_title"},
    "country": {"label": "Country", "category": "user.contact.address.country", "type": "country"},
    "postal_code": {
        "label": "Postal code",
        "category": "user.contact.address.postal_code",
        "type": "postal_code",
    },
}


@dataclass
class World:
    """Everything a service call needs, built in a temporary data folder."""

    root: Path
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    loaded: LoadedPolicy
    secrets: Secrets

    def caller(self, role: str) -> Caller:
        """Return a caller acting with one of the policy's staff roles."""
        spec = self.loaded.policy.staff.roles[role]
        return Caller(name=f"bench-{role}", role=role, purposes=tuple(spec.purposes))


def _bench_policy(folder: Path) -> Path:
    """Write the example policy with a registration point of eight fields; return its path."""
    yaml = YAML(typ="rt")
    tree: Any = yaml.load(EXAMPLE.read_text(encoding="utf-8"))
    tree["collection_points"]["registration"]["fields"].update(EXTRA_REGISTRATION_FIELDS)
    out = io.StringIO()
    yaml.dump(tree, out)
    path = folder / "policy.yaml"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


@contextmanager
def world() -> Iterator[World]:
    """Yield a migrated, empty instance; remove it afterwards."""
    with tempfile.TemporaryDirectory(prefix="avowal-bench-") as tmp:
        root = Path(tmp)
        settings = Settings(data_dir=root, policy_file=_bench_policy(root))
        engine = make_engine(settings)
        try:
            upgrade(engine)
            yield World(
                root=root,
                settings=settings,
                engine=engine,
                sessions=make_sessionmaker(engine),
                loaded=load_file(settings.policy_file),
                secrets=crypto.load(settings),
            )
        finally:
            engine.dispose()


def rate_line(name: str, per_second: float, target: float | None = None) -> str:
    """Format a throughput figure, with PASS/MISS against a minimum when one is given."""
    verdict = ""
    if target is not None:
        verdict = f"  target >= {target:,.0f}/s  {'PASS' if per_second >= target else 'MISS'}"
    return f"  {name:<34} {per_second:12,.0f} entries/s{verdict}"
