"""The GDPRbench port measures something: both contenders do every operation, to the same end."""

from __future__ import annotations

from pathlib import Path

from bench import bench_gdpr, gdpr_workload


def test_tiny_mix_runs_every_operation_to_the_same_end_state(tmp_path: Path) -> None:
    out = bench_gdpr.measure(tmp_path, None, people=20, ops_per_role=50, chunks=5)

    assert out.expected_ops == 200
    assert out.done == {"avowal": 200, "plain SQL": 200}
    # Each kind of operation the script holds was carried out by both, as often.
    assert out.counts["avowal"] == out.counts["plain SQL"]
    kinds = {kind for mix in gdpr_workload.MIX.values() for kind, _ in mix}
    assert set(out.counts["avowal"]) <= kinds
    assert {"create", "erase", "read", "disclose", "expire", "meta"} <= set(out.counts["avowal"])
    # The same logical state: as many values of living people, the same people erased.
    assert out.living["avowal"] == out.living["plain SQL"] > 0
    assert out.erased["avowal"] == out.erased["plain SQL"] != set()
    for role in gdpr_workload.ROLES:
        assert all(rate > 0 for rate in out.rates[role].values())
    # Each contender's operations reached the database.
    assert all(n > 0 for per_kind in out.statements.values() for n in per_kind.values())


def test_script_is_seeded_and_targets_only_living_people() -> None:
    first = gdpr_workload.script(20, 50)
    assert first == gdpr_workload.script(20, 50)
    assert first != gdpr_workload.script(20, 50, seed=1)
    erased: set[int] = set()
    for role in gdpr_workload.ROLES:
        for op in first[role]:
            if op.kind not in ("meta", "log", "verify"):
                assert op.person not in erased, op
            if op.kind == "erase":
                erased.add(op.person)
