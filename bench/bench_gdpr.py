"""GDPRbench's workload: avowal's service layer against plain SQLAlchemy, per role, SQLite and PG.

GDPRbench (Shastri et al., "Understanding and Benchmarking the Impact of GDPR on Database
Systems", VLDB 2020) models personal records carrying GDPR metadata (purpose, recipients,
objections, origin, TTL, owner) and four roles, each with its own mix of operations. It is
ported here as a seeded script (:mod:`bench.gdpr_workload`) run over a pre-loaded set of
fictional people (every second one also bought a subscription), by two contenders in one process
on the same database: avowal's real services (:mod:`bench.gdpr_avowal`) and plain SQLAlchemy
doing the same logical step with no enforcement (:mod:`bench.gdpr_plain`: one row per value with
its metadata in plain columns, no encryption, no notice, no receipt, a plain audit row where
GDPRbench logs). Every operation is one transaction.

What maps to what (GDPRbench → avowal → plain):

- controller: create-record → a collection at registration under its notice (values encrypted,
  lookup digest, signed receipt, audit) → insert five rows; update-metadata (TTL) → closing the
  account (starts the policy's "365 days after closure" period) → set the rows' TTL;
  delete-by-TTL → the retention worker's step for one person 400 days on (the closed account's
  service values destroyed, the newsletter address kept for its own purpose) → delete the rows
  past their TTL, strip the service purposes from the one that has another;
- customer: read-data-by-user → the privacy center's export (everything, decrypted) → select the
  person's rows; read-metadata → their signed receipts → select the metadata columns;
  update-data → correcting the telephone number (new receipt) → update one row; delete-by-user →
  erasure (crypto-shredding, journal) → delete the rows; object/withdraw → objecting to the
  newsletter → set the rows' objections;
- processor: read-data-by-key for a purpose → a purpose-bound read by support (only the values
  collected for it) → select the rows, keep those of the purpose; read-by-metadata → a lookup by
  e-mail address through the blind index, for a purpose → select by field and value, keep those
  of the purpose; (sharing) → a disclosure of the purchase values to the payment processor
  announced in their notice → select the rows whose recipients name it;
- regulator: read-metadata-by-user → the disclosure register and receipts of a person → select
  the metadata columns; get-system-logs (per person) → the person's audit entries → select their
  audit rows; verify (2 %) → walking the whole audit chain → reading the whole audit table.

Left out: GDPRbench's whole-table metadata scans (read or delete every record of a purpose, or
every record past its TTL in one statement): avowal has no bulk read of personal data by design,
and retention runs person by person (here, one person per operation); updating a record's
purposes or recipients at the controller's will (avowal changes terms only on the person's
consent to a new notice); GDPRbench's YCSB-style value sizes and Zipfian key choice (keys here
are uniform, values are the example's registration and purchase fields).

The contenders are measured side by side: each role's script is cut into chunks that the two run
in alternation (:func:`bench.timing.compare`), so machine noise hits both alike; figures are
medians of the chunks. The whole mix's figure is each role's operations at its measured rate.
Each kind of operation is also shown with its mean time and the SQL statements it sent, on each
side, so the gap can be traced to its cause.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from avowal.crypto import service as crypto
from avowal.db.engine import make_engine, make_sessionmaker, purge_wal
from avowal.db.migrate import upgrade
from avowal.policy.loader import load_file
from avowal.settings import Settings
from bench import gdpr_workload as wl
from bench.gdpr_avowal import Avowal
from bench.gdpr_plain import Plain
from bench.gdpr_workload import Contender
from bench.timing import compare
from bench.world import EXAMPLE

PEOPLE = 2_000
OPS_PER_ROLE = 2_000
CHUNKS = 10
TARGET = 0.6


@dataclass
class Outcome:
    """What a run measured on one database, and the state each contender ended in."""

    rates: dict[str, dict[str, float]]  # role -> contender -> operations per second
    done: dict[str, int]  # contender -> operations carried out
    living: dict[str, int]  # contender -> records of living people held
    erased: dict[str, set[int]]  # contender -> numbers of the people erased
    expected_ops: int
    ms: dict[str, dict[str, float]]  # contender -> kind of operation -> mean milliseconds
    counts: dict[str, dict[str, int]]  # contender -> kind of operation -> how many were done
    statements: dict[str, dict[str, float]]  # contender -> kind -> mean SQL statements sent

    def mix_ratio(self, ops_per_role: int) -> float:
        """Return avowal's throughput on the whole mix over plain SQL's."""
        seconds = {
            name: sum(ops_per_role / self.rates[role][name] for role in wl.ROLES)
            for name in ("avowal", "plain SQL")
        }
        return seconds["plain SQL"] / seconds["avowal"]


@contextmanager
def _contenders(folder: Path, url: str | None) -> Iterator[tuple[Avowal, Plain, Engine]]:
    settings = Settings(data_dir=folder, policy_file=EXAMPLE, database_url=url)
    engine = make_engine(settings)
    try:
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        avowal = Avowal(sessions, load_file(settings.policy_file), crypto.load(settings))
        yield avowal, Plain(engine, sessions), engine
    finally:
        engine.dispose()


def _chunks(contender: Contender, ops: list[wl.Op], size: int) -> Callable[[], object]:
    """Return a call that carries out the next ``size`` operations of ``ops``."""
    queue = iter(ops)

    def chunk() -> None:
        for _ in range(size):
            contender.do(next(queue))

    return chunk


def measure(
    folder: Path,
    url: str | None,
    people: int = PEOPLE,
    ops_per_role: int = OPS_PER_ROLE,
    chunks: int = CHUNKS,
) -> Outcome:
    """Load ``people`` into both contenders, run every role's script in alternating chunks."""
    assert ops_per_role % chunks == 0, "the chunks must cover every operation"
    plan = wl.script(people, ops_per_role)
    created = 1 + max(op.person for ops in plan.values() for op in ops)
    with _contenders(folder, url) as (avowal, plain, engine):
        avowal.preload(people)
        plain.preload(people)
        if url is None:
            purge_wal(engine)
        rates: dict[str, dict[str, float]] = {}
        size = ops_per_role // chunks
        for role in wl.ROLES:
            runners = {c.name: _chunks(c, plan[role], size) for c in (avowal, plain)}
            seconds = compare(runners, rounds=chunks, repeat=1)
            rates[role] = {name: size / secs for name, secs in seconds.items()}
        return Outcome(
            rates=rates,
            done={c.name: c.done for c in (avowal, plain)},
            living={c.name: c.living_records() for c in (avowal, plain)},
            erased={c.name: c.erased(created) for c in (avowal, plain)},
            expected_ops=ops_per_role * len(wl.ROLES),
            ms={c.name: {k: c.mean_ms(k) for k in c.count} for c in (avowal, plain)},
            counts={c.name: dict(c.count) for c in (avowal, plain)},
            statements={
                c.name: {k: c.mean_statements(k) for k in c.count} for c in (avowal, plain)
            },
        )


def report(label: str, out: Outcome, ops_per_role: int) -> None:
    """Print a database's figures: per role, the whole mix, and the verdict."""
    print(f"  {label}")
    print(f"    {'role':<12} {'avowal ops/s':>13} {'plain ops/s':>13} {'ratio':>7}")
    for role in wl.ROLES:
        a, p = out.rates[role]["avowal"], out.rates[role]["plain SQL"]
        print(f"    {role:<12} {a:13,.0f} {p:13,.0f} {a / p:6.2f}x")
    print(
        f"    {'operation':<22} {'done':>5} {'avowal ms':>10} {'plain ms':>9} {'slower':>7}"
        f"  {'SQL statements avowal/plain':>28}"
    )
    for role in wl.ROLES:
        for kind, _ in wl.MIX[role]:
            n = out.counts["avowal"].get(kind, 0)
            if not n:
                continue
            a, p = out.ms["avowal"][kind], out.ms["plain SQL"][kind]
            sa, sp = out.statements["avowal"][kind], out.statements["plain SQL"][kind]
            print(
                f"    {role + ' ' + kind:<22} {n:5,} {a:10.2f} {p:9.2f} {a / p:6.1f}x"
                f"  {sa:20.1f} / {sp:.1f}"
            )
    ratio = out.mix_ratio(ops_per_role)
    same = out.living["avowal"] == out.living["plain SQL"] and (
        out.erased["avowal"] == out.erased["plain SQL"]
    )
    print(
        f"    whole mix: {ratio:.2f}x plain SQL  target >= {TARGET}x  "
        f"{'PASS' if ratio >= TARGET else 'MISS'}"
    )
    print(
        f"    operations done: avowal {out.done['avowal']:,}, plain {out.done['plain SQL']:,} "
        f"of {out.expected_ops:,}; records of living people: avowal {out.living['avowal']:,}, "
        f"plain {out.living['plain SQL']:,}; erased: {len(out.erased['avowal']):,} and "
        f"{len(out.erased['plain SQL']):,}  {'same end state' if same else 'STATES DIFFER'}"
    )


def run() -> None:
    """Print ops/s per role of avowal and plain SQL, their ratios and the verdict, per database."""
    head = (
        f"  {PEOPLE:,} people pre-loaded, {OPS_PER_ROLE:,} operations per role (seed {wl.SEED}), "
        f"{CHUNKS} alternating chunks per role, one transaction per operation"
    )
    print(head)
    with tempfile.TemporaryDirectory(prefix="avowal-bench-gdpr-") as tmp:
        root = Path(tmp)
        (root / "sqlite").mkdir()
        out = measure(root / "sqlite", None)
        report("SQLite (WAL, durable commits)", out, OPS_PER_ROLE)
        _postgres(root)


def _postgres(root: Path) -> None:
    from tests import pg

    if not pg.binaries_available():
        print(f"  PostgreSQL: skipped, no PostgreSQL 15 binaries in {pg.PG_BIN}")
        return
    try:
        cluster = pg.TempCluster.start()
    except pg.ClusterError as exc:
        print(f"  PostgreSQL: skipped, a throwaway cluster could not start: {exc}")
        return
    try:
        url = cluster.server.create_database()
        (root / "postgres").mkdir()
        out = measure(root / "postgres", url)
        label = "PostgreSQL 15 (throwaway cluster, fsync and synchronous_commit off)"
        report(label, out, OPS_PER_ROLE)
    finally:
        cluster.stop()
