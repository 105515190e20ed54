"""Signed checkpoints of the chain head, kept in a folder outside the database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from avowal.audit.service import now_iso
from avowal.crypto import signing
from avowal.crypto.keyring import write_private


@dataclass(frozen=True)
class Checkpoint:
    """A signed (seq, hash) pair of the chain."""

    seq: int
    hash: str
    path: Path


def write(folder: Path, key: Ed25519PrivateKey, seq: int, digest: str) -> Path:
    """Write a signed checkpoint of the chain head and return its file."""
    doc = {
        "seq": seq,
        "hash": digest,
        "at": now_iso(),
        "key_id": signing.public_key_id(key.public_key()),
    }
    path = folder / f"checkpoint-{seq:012d}.json"
    write_private(
        path,
        json.dumps({"checkpoint": doc, "signature": signing.sign(key, doc)}, indent=2).encode(),
    )
    return path


def read_all(folder: Path, public: Ed25519PublicKey) -> tuple[list[Checkpoint], list[str]]:
    """Return the checkpoints whose signature verifies, and a problem for each that does not."""
    good: list[Checkpoint] = []
    problems: list[str] = []
    if not folder.is_dir():
        return good, problems
    for path in sorted(folder.glob("checkpoint-*.json")):
        try:
            raw = json.loads(path.read_text())
            doc, sig = raw["checkpoint"], raw["signature"]
            ok = signing.verify(public, doc, sig)
            seq, digest = int(doc["seq"]), str(doc["hash"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problems.append(f"{path.name}: unreadable checkpoint ({exc})")
            continue
        if not ok:
            problems.append(f"{path.name}: the signature does not verify")
            continue
        good.append(Checkpoint(seq, digest, path))
    return good, problems
