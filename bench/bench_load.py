"""A deployment under load: four server processes and the worker on PostgreSQL (docs/deploy.md,
made by tests/deployment.py on a throwaway cluster), the mix of bench/load_mix.py at full size
over loopback: throughput, and p50/p99 latency by kind of request.

tests/integration/ops/test_load.py runs the same mix small and checks what it leaves behind
(no 5xx, every acknowledged write present, no orphan rows, the audit chain intact); here the
figures, with the 5xx count and the unexpected answers. Without PostgreSQL 15 binaries the run is
skipped, saying so.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench import load_mix
from tests import deployment, pg

PEOPLE, THREADS, PROCESSES = 600, 16, 4


def run() -> None:
    """Print the load's figures."""
    if not pg.binaries_available():
        print(f"  skipped: PostgreSQL 15 not found in {pg.PG_BIN}")
        return
    cluster = pg.TempCluster.start()
    try:
        url = cluster.server.create_database()
        with (
            tempfile.TemporaryDirectory(prefix="avowal-bench-load-") as tmp,
            deployment.deployed(url, Path(tmp), workers=PROCESSES) as site,
        ):
            done = load_mix.run(site.url, site.token, PEOPLE, THREADS)
            verified = deployment.avowal(site.env, "audit", "verify").strip()
    finally:
        cluster.stop()
    print(
        f"  {PEOPLE} people, {THREADS} client threads, {PROCESSES} server processes and the "
        "worker, PostgreSQL 15 on loopback (this machine's 2 cores run clients and servers):"
    )
    for line in done.report():
        print(f"    {line}")
    errors = sum(n for status, n in done.statuses.items() if status >= 500)
    print(
        f"    5xx: {errors}; unexpected answers: {len(done.unexpected)}; people kept "
        f"{len(done.collected) - len(done.erased)}, erased {len(done.erased)}, page views "
        f"{done.events}; {verified}"
    )
