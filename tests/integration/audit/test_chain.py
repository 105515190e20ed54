"""The audit chain: every access leaves an entry, and any tampering is named by `audit verify`."""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from avowal.audit import chain, checkpoints, parallel
from avowal.audit import service as audit
from avowal.cli import app as cli
from avowal.client import Client, PurposeNotAllowed, RecipientNotAnnounced
from avowal.settings import Settings
from avowal.vault import journal
from tests.factories import PURCHASE, REGISTRATION
from tests.integration.conftest import StaffDesk

runner = CliRunner()

COLUMNS = (*chain.HASHED, "prev_hash", "entry_hash")
TEXT_COLUMNS = tuple(c for c in COLUMNS if c != "seq")

# (actor, role, action, decision, purpose) of each entry the API calls of `trail` leave, in order.
EXPECTED = [
    ("web_backend", "web_backend", "collect", "allow", None),
    ("web_backend", "web_backend", "collect", "allow", None),
    ("web_backend", "web_backend", "read", "allow", "essential.service.authentication"),
    ("marketing", "marketing", "read", "deny", "essential.service.payment_processing"),
    ("billing", "billing", "disclose", "allow", "essential.service.payment_processing"),
    ("privacy_officer", "privacy_officer", "disclose", "deny", "essential.legal_obligation"),
    ("support", "support", "lookup", "allow", "essential.service.operations.support"),
    ("web_backend", "web_backend", "erase", "allow", None),
]
COUNT = len(EXPECTED)
DENIED_READ = 4  # the seq of marketing's refused read


@dataclass(frozen=True)
class Trail:
    """The chain produced through the API, and who it is about."""

    subject_id: str
    app: FastAPI
    engine: Engine
    settings: Settings


@pytest.fixture
def trail(
    app: FastAPI,
    engine: Engine,
    settings: Settings,
    as_role: Callable[[str], Client],
    as_staff: Callable[[str], StaffDesk],
) -> Trail:
    """Collect, read (allowed and refused), disclose (allowed and refused), look up and erase."""
    backend = as_role("web_backend")
    sid = backend.collect("registration", REGISTRATION, ref="user-1")["subject_id"]
    backend.collect("purchase", PURCHASE, subject_id=sid)
    data = backend.read(sid, purpose="essential.service.authentication")
    assert data["values"]["email"]["value"] == REGISTRATION["email"]
    with pytest.raises(PurposeNotAllowed) as refused:
        as_staff("marketing").read(sid, purpose="essential.service.payment_processing")
    assert refused.value.status == 403
    sent = as_staff("billing").disclose(
        sid,
        recipient="payment_processor",
        fields=["card"],
        purpose="essential.service.payment_processing",
    )
    assert sent["values"] == {"card": "4242"}
    with pytest.raises(RecipientNotAnnounced):
        as_staff("privacy_officer").disclose(
            sid, recipient="authorities", fields=["name"], purpose="essential.legal_obligation"
        )
    found = as_staff("support").lookup(
        "email", REGISTRATION["email"], purpose="essential.service.operations.support"
    )
    assert found == [sid]
    backend.erase(sid)
    return Trail(sid, app, engine, settings)


def entries(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT {', '.join(COLUMNS)} FROM audit_entries ORDER BY seq"))
        return [dict(r._mapping) for r in rows]


def verify(t: Trail, marks: list[tuple[int, str]] | None = None) -> audit.Verification:
    """Verify by the sequential walk, and check the parallel path gives the same answer."""
    with t.app.state.sessionmaker() as session:
        walked = audit.verify(session, marks or [])
    saved = parallel.MIN_PARALLEL
    parallel.MIN_PARALLEL = 1  # the trail is short: force the parallel path
    try:
        with t.app.state.sessionmaker() as session:
            fast = parallel.verify(session, marks or [], workers=2)
    finally:
        parallel.MIN_PARALLEL = saved
    assert fast == walked
    return walked


def head(engine: Engine) -> tuple[int, str]:
    with engine.connect() as conn:
        seq, digest = conn.execute(text("SELECT seq, hash FROM audit_head WHERE id = 1")).one()
    return int(seq), str(digest)


def sql(engine: Engine, statement: str, **params: Any) -> None:
    with engine.begin() as conn:
        conn.execute(text(statement), params)


def assert_broken(t: Trail, first_bad: int, *words: str) -> audit.Verification:
    result = verify(t)
    assert not result.ok
    assert result.first_bad == first_bad, result.problem
    assert result.problem is not None
    for word in words:
        assert word in result.problem
    return result


def rewrite_from_genesis(engine: Engine, change: Callable[[dict[str, Any]], None]) -> None:
    """Rewrite the whole chain consistently after ``change`` edits its rows, as a forger would."""
    rows = entries(engine)
    for row in rows:
        change(row)
    prev = chain.GENESIS
    with engine.begin() as conn:
        for row in rows:
            digest = chain.entry_hash([row[c] for c in chain.HASHED], prev)
            conn.execute(
                text(
                    "UPDATE audit_entries SET actor = :actor, role = :role, action = :action, "
                    "subject_id = :subject_id, fields = :fields, purpose = :purpose, "
                    "decision = :decision, reason = :reason, at = :at, prev_hash = :prev, "
                    "entry_hash = :digest WHERE seq = :seq"
                ),
                {**row, "prev": prev, "digest": digest},
            )
            prev = digest
        conn.execute(
            text("UPDATE audit_head SET seq = :seq, hash = :hash WHERE id = 1"),
            {"seq": len(rows), "hash": prev},
        )


def allow_the_denied_read(row: dict[str, Any]) -> None:
    if row["seq"] == DENIED_READ:
        row["decision"], row["reason"] = "allow", None


# --- what the chain records ------------------------------------------------------------------


def test_every_action_leaves_an_entry_with_who_what_and_why(trail: Trail) -> None:
    rows = entries(trail.engine)
    got = [(r["actor"], r["role"], r["action"], r["decision"], r["purpose"]) for r in rows]
    assert got == EXPECTED
    assert [r["seq"] for r in rows] == list(range(1, COUNT + 1))
    assert all(r["subject_id"] == trail.subject_id for r in rows)
    by_seq = {r["seq"]: r for r in rows}
    assert json.loads(by_seq[1]["fields"]) == sorted(REGISTRATION)
    assert json.loads(by_seq[2]["fields"]) == sorted(PURCHASE)
    assert by_seq[1]["reason"].startswith("point registration, notice ")
    assert by_seq[2]["reason"].startswith("point purchase, notice ")
    denied = by_seq[DENIED_READ]
    assert json.loads(denied["fields"]) == []
    assert "role 'marketing' does not grant" in denied["reason"]
    assert json.loads(by_seq[5]["fields"]) == ["card"]
    assert by_seq[5]["reason"] == "to payment_processor"
    assert json.loads(by_seq[6]["fields"]) == ["name"]
    assert "'authorities' was not announced" in by_seq[6]["reason"]
    assert json.loads(by_seq[7]["fields"]) == ["email"]
    assert by_seq[7]["reason"] == "1 match(es)"
    # Each entry is chained to the one before it.
    assert rows[0]["prev_hash"] == chain.GENESIS
    for before, after in itertools.pairwise(rows):
        assert after["prev_hash"] == before["entry_hash"]
    assert head(trail.engine) == (COUNT, rows[-1]["entry_hash"])


def _needles() -> set[str]:
    values = {str(v) for v in (*REGISTRATION.values(), *PURCHASE.values())}
    # The stored (normalised) forms too, and the parts of values a careless message might quote.
    values |= {"+15550100", "555-0100", "4242424242424242", "4242", "Ada", "Springfield"}
    values |= {"Example Street", "ada.billing"}
    return {v.lower() for v in values}


HEXISH = re.compile(r"[0-9a-f-]{16,}")


def test_no_entry_holds_a_personal_value(trail: Trail) -> None:
    needles = _needles()
    for row in entries(trail.engine):
        for column in TEXT_COLUMNS:
            value = row[column]
            if value is None:
                continue
            raw = str(value).lower()
            if column == "at":
                # Our own timestamp: its microseconds may spell "4242"; check its shape instead.
                assert re.fullmatch(r"\d{4}-\d\d-\d\dt\d\d:\d\d:\d\d\.\d{6}z", raw), raw
                continue
            # Hashes, ids and notice prefixes are hex: look for short hex-only needles (such as
            # "4242" or "ada") only outside them, so a random digest cannot fail the test.
            outside_hex = HEXISH.sub(" ", raw)
            for needle in needles:
                hex_only = re.fullmatch(r"[0-9a-f]+", needle) is not None
                haystack = outside_hex if hex_only and len(needle) < 12 else raw
                assert needle not in haystack, f"entry {row['seq']} {column} holds {needle!r}"


def test_an_intact_chain_verifies(trail: Trail) -> None:
    result = verify(trail)
    assert result == audit.Verification(True, COUNT, COUNT)
    seq, digest = head(trail.engine)
    assert verify(trail, [(seq, digest), (2, entries(trail.engine)[1]["entry_hash"])]).ok


def test_an_empty_chain_verifies(app: FastAPI) -> None:
    with app.state.sessionmaker() as session:
        assert audit.verify(session) == audit.Verification(True, 0, 0)


# --- tampering, each caught and named --------------------------------------------------------


FORGERIES = {
    "decision": "allow",
    "reason": "nothing to see",
    "fields": '["card", "email"]',
    "actor": "someone_else",
    "role": "privacy_officer",
    "action": "lookup",
    "subject_id": "00000000-0000-0000-0000-000000000000",
    "purpose": "essential.service",
    "at": "2020-01-01T00:00:00.000000Z",
}


def test_a_changed_column_names_its_entry(trail: Trail) -> None:
    k = DENIED_READ
    original = entries(trail.engine)[k - 1]
    assert set(FORGERIES) == set(chain.HASHED) - {"seq"}
    for column, forged in FORGERIES.items():
        update = f"UPDATE audit_entries SET {column} = :v WHERE seq = :k"
        sql(trail.engine, update, v=forged, k=k)
        result = assert_broken(trail, k, f"entry {k} was changed after it was written")
        assert result.count == k - 1, column
        sql(trail.engine, update, v=original[column], k=k)
        assert verify(trail).ok, column


def test_a_changed_hash_is_caught_at_the_next_entry(trail: Trail) -> None:
    # Editing entry 3 and recomputing its own hash keeps entry 3 self-consistent; entry 4 no
    # longer follows it.
    row = entries(trail.engine)[2]
    row["reason"] = "withheld: nothing"
    digest = chain.entry_hash([row[c] for c in chain.HASHED], row["prev_hash"])
    sql(
        trail.engine,
        "UPDATE audit_entries SET reason = :r, entry_hash = :h WHERE seq = 3",
        r=row["reason"],
        h=digest,
    )
    assert_broken(trail, 4, "entry 4 does not follow entry 3")


def test_a_removed_entry_is_named(trail: Trail) -> None:
    sql(trail.engine, "DELETE FROM audit_entries WHERE seq = :k", k=3)
    result = assert_broken(trail, 3, "entry 3 is missing (removed)")
    assert result.count == 2


def test_removing_the_first_entry_is_named(trail: Trail) -> None:
    sql(trail.engine, "DELETE FROM audit_entries WHERE seq = 1")
    assert_broken(trail, 1, "entry 1 is missing")


def test_an_inserted_entry_is_caught_where_the_original_no_longer_follows(trail: Trail) -> None:
    k = DENIED_READ
    rows = entries(trail.engine)
    prev = rows[k - 2]["entry_hash"]  # entry k-1's hash: the forgery chains correctly to it
    forged = {
        "seq": k,
        "at": rows[k - 1]["at"],
        "actor": "privacy_officer",
        "role": "privacy_officer",
        "action": "read",
        "subject_id": trail.subject_id,
        "fields": "[]",
        "purpose": "essential.legal_obligation",
        "decision": "allow",
        "reason": "approved",
    }
    digest = chain.entry_hash([forged[c] for c in chain.HASHED], prev)
    with trail.engine.begin() as conn:
        # Make room at k (two steps, so the primary key never collides on either database).
        conn.execute(text("UPDATE audit_entries SET seq = -seq - 1 WHERE seq >= :k"), {"k": k})
        conn.execute(text("UPDATE audit_entries SET seq = -seq WHERE seq < 0"))
        conn.execute(
            text(
                f"INSERT INTO audit_entries ({', '.join(COLUMNS)}) VALUES "
                f"({', '.join(':' + c for c in COLUMNS)})"
            ),
            {**forged, "prev_hash": prev, "entry_hash": digest},
        )
        conn.execute(text("UPDATE audit_head SET seq = seq + 1 WHERE id = 1"))
    assert [r["seq"] for r in entries(trail.engine)] == list(range(1, COUNT + 2))
    # The forgery itself is self-consistent and chained to entry k-1; the walk first fails at
    # the original entry k, now numbered k+1: it still points at entry k-1.
    result = assert_broken(trail, k + 1, f"entry {k + 1} does not follow entry {k}", "inserted")
    assert result.count == k


def test_swapped_entries_are_named_at_the_first(trail: Trail) -> None:
    k = 3
    rows = {r["seq"]: r for r in entries(trail.engine)}
    assignments = ", ".join(f"{c} = :{c}" for c in COLUMNS if c != "seq")
    with trail.engine.begin() as conn:
        for seq, other in ((k, k + 1), (k + 1, k)):
            conn.execute(
                text(f"UPDATE audit_entries SET {assignments} WHERE seq = :target"),
                {**rows[other], "target": seq},
            )
    assert_broken(trail, k, f"entry {k} does not follow entry {k - 1}", "reordered")


def test_a_truncated_tail_is_caught_by_the_head(trail: Trail) -> None:
    sql(trail.engine, "DELETE FROM audit_entries WHERE seq > :n", n=COUNT - 2)
    result = assert_broken(
        trail, COUNT - 1, f"ends at entry {COUNT - 2}", f"says {COUNT}", "removed from the end"
    )
    assert result.count == COUNT - 2
    assert result.head_seq == COUNT


def test_an_altered_head_is_caught(trail: Trail) -> None:
    sql(trail.engine, "UPDATE audit_head SET hash = :h WHERE id = 1", h="f" * 64)
    assert_broken(trail, COUNT + 1, "head altered")


def test_an_entry_appended_past_the_head_is_named(trail: Trail) -> None:
    # A forged entry chained to the last one, the head left as it was.
    last = entries(trail.engine)[-1]
    forged = {**last, "seq": COUNT + 1, "action": "read", "reason": "forged"}
    forged["prev_hash"] = last["entry_hash"]
    forged["entry_hash"] = chain.entry_hash([forged[c] for c in chain.HASHED], last["entry_hash"])
    sql(
        trail.engine,
        f"INSERT INTO audit_entries ({', '.join(COLUMNS)}) "
        f"VALUES ({', '.join(':' + c for c in COLUMNS)})",
        **forged,
    )
    result = assert_broken(trail, COUNT + 1, f"ends at entry {COUNT + 1}", f"says {COUNT}")
    assert result.count == COUNT + 1


def test_a_missing_head_row_is_caught(trail: Trail) -> None:
    sql(trail.engine, "DELETE FROM audit_head")
    assert_broken(trail, 1, "head row is missing")
    sql(trail.engine, "DELETE FROM audit_entries")
    assert_broken(trail, 1, "head row is missing")


def test_a_truncation_with_a_lowered_head_is_caught_only_by_a_checkpoint(trail: Trail) -> None:
    marks = [head(trail.engine)]
    keep = COUNT - 2
    digest = entries(trail.engine)[keep - 1]["entry_hash"]
    with trail.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entries WHERE seq > :n"), {"n": keep})
        conn.execute(
            text("UPDATE audit_head SET seq = :n, hash = :h WHERE id = 1"), {"n": keep, "h": digest}
        )
    assert verify(trail).ok
    result = verify(trail, marks)
    assert not result.ok
    assert result.first_bad == keep + 1
    assert result.problem is not None
    assert f"checkpoint covers entry {COUNT}" in result.problem


def test_a_consistent_rewrite_passes_alone_but_fails_against_a_checkpoint(trail: Trail) -> None:
    marks = [head(trail.engine)]
    rewrite_from_genesis(trail.engine, allow_the_denied_read)
    rows = entries(trail.engine)
    assert rows[DENIED_READ - 1]["decision"] == "allow"
    assert verify(trail) == audit.Verification(True, COUNT, COUNT)
    result = verify(trail, marks)
    assert not result.ok
    assert result.first_bad == COUNT  # the checkpointed entry, whose hash no longer matches
    assert result.problem is not None
    assert "differs from the signed checkpoint" in result.problem
    # A checkpoint of an entry before the change still matches; one at the change does not.
    early = [(2, rows[1]["entry_hash"])]
    assert verify(trail, early).ok


# --- the command line ------------------------------------------------------------------------


@pytest.fixture
def cli_env(trail: Trail, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the CLI at the test's database and data folder (the server's keys); return it."""
    for name in [k for k in os.environ if k.startswith("AVOWAL_")]:
        monkeypatch.delenv(name)  # e.g. a checkpoint folder or key file of the caller's
    monkeypatch.setenv("AVOWAL_ENV", "test")
    monkeypatch.setenv("AVOWAL_DATABASE_URL", trail.settings.effective_database_url)
    monkeypatch.setenv("AVOWAL_DATA_DIR", str(trail.settings.data_dir))
    monkeypatch.setenv("AVOWAL_POLICY_FILE", str(trail.settings.policy_file))
    return trail.settings.data_dir


def test_cli_verify_passes_an_intact_chain(cli_env: Path) -> None:
    out = runner.invoke(cli, ["audit", "verify"])
    assert out.exit_code == 0, out.output
    assert f"audit chain intact: {COUNT} entries" in out.stdout
    assert "0 signed checkpoint(s)" in out.stdout
    # It used the server's keys rather than generating its own (the erasure journal of the
    # trail's erasures lies beside them).
    names = {p.name for p in (cli_env / "keys").iterdir()} - {journal.NAME}
    assert sorted(names) == [
        "index.key",
        "master.json",
        "signing.pem",
    ]


def test_cli_verify_fails_naming_the_changed_entry(trail: Trail, cli_env: Path) -> None:
    sql(trail.engine, "UPDATE audit_entries SET decision = 'allow' WHERE seq = :k", k=DENIED_READ)
    out = runner.invoke(cli, ["audit", "verify"])
    assert out.exit_code == 1
    assert f"audit chain BROKEN at entry {DENIED_READ}" in out.stderr
    assert f"entry {DENIED_READ} was changed" in out.stderr
    assert out.stdout == ""


def test_cli_verify_fails_naming_the_removed_entry(trail: Trail, cli_env: Path) -> None:
    sql(trail.engine, "DELETE FROM audit_entries WHERE seq = 2")
    out = runner.invoke(cli, ["audit", "verify"])
    assert out.exit_code == 1
    assert "BROKEN at entry 2: entry 2 is missing" in out.stderr


def test_cli_checkpoint_then_a_full_rewrite_fails_verify(trail: Trail, cli_env: Path) -> None:
    out = runner.invoke(cli, ["audit", "checkpoint"])
    assert out.exit_code == 0, out.output
    written = cli_env / "checkpoints" / f"checkpoint-{COUNT:012d}.json"
    assert written.is_file()
    assert str(written) in out.stdout
    # The checkpoint is signed by the server's key and holds the head at the time.
    public = trail.app.state.secrets.signing_key.public_key()
    marks, problems = checkpoints.read_all(cli_env / "checkpoints", public)
    assert problems == []
    assert [(m.seq, m.hash) for m in marks] == [head(trail.engine)]
    out = runner.invoke(cli, ["audit", "verify"])
    assert out.exit_code == 0, out.output
    assert f"{COUNT} entries, checked against 1 signed checkpoint(s)" in out.stdout

    rewrite_from_genesis(trail.engine, allow_the_denied_read)
    assert verify(trail).ok  # the chain alone cannot tell
    out = runner.invoke(cli, ["audit", "verify"])
    assert out.exit_code == 1
    assert f"BROKEN at entry {COUNT}" in out.stderr
    assert "differs from the signed checkpoint (the chain was rewritten)" in out.stderr


def test_cli_checkpoint_refuses_a_broken_chain(trail: Trail, cli_env: Path) -> None:
    sql(trail.engine, "UPDATE audit_entries SET reason = 'x' WHERE seq = 5")
    out = runner.invoke(cli, ["audit", "checkpoint"])
    assert out.exit_code == 1
    assert "refusing to checkpoint a broken chain: entry 5" in out.stderr
    assert not (cli_env / "checkpoints").exists()


def test_cli_verify_fails_on_a_forged_checkpoint(trail: Trail, cli_env: Path) -> None:
    assert runner.invoke(cli, ["audit", "checkpoint"]).exit_code == 0
    path = cli_env / "checkpoints" / f"checkpoint-{COUNT:012d}.json"
    doc = json.loads(path.read_text())
    doc["checkpoint"]["hash"] = "0" * 64
    path.write_text(json.dumps(doc))
    out = runner.invoke(cli, ["audit", "verify"])
    assert out.exit_code == 1
    assert "the signature does not verify" in out.stderr
    assert "1 checkpoint(s) failed verification" in out.stderr


def test_the_parallel_path_confirms_an_intact_chain_on_its_own(
    trail: Trail, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "MIN_PARALLEL", 1)

    def no_fallback(*_: object) -> audit.Verification:
        raise AssertionError("the parallel path fell back to the sequential walk")

    monkeypatch.setattr(parallel.audit, "verify", no_fallback)
    with trail.app.state.sessionmaker() as session:
        assert parallel.verify(session, [], workers=2) == audit.Verification(True, COUNT, COUNT)
