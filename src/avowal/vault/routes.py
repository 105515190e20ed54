"""The vault API: notices, collection, receipts, purpose-bound reads, disclosures, erasure."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from avowal.callers.deps import CallerDep
from avowal.crypto import signing
from avowal.crypto.service import Secrets
from avowal.lib.deps import PolicyDep, SessionDep
from avowal.vault import access, collection, notices
from avowal.vault.schemas import CollectRequest, DisclosureRequest

router = APIRouter(prefix="/v1", tags=["vault"])

PointName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
SubjectIdPath = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]
Purpose = Annotated[str, Query(min_length=1, max_length=200, description="A fideslang data use.")]


def get_secrets(request: Request) -> Secrets:
    """Return the server's keys."""
    secrets: Secrets = request.app.state.secrets
    return secrets


SecretsDep = Annotated[Secrets, Depends(get_secrets)]


@router.get("/notices/{point}")
def get_notice(point: PointName, policy: PolicyDep) -> dict[str, Any]:
    """Show what a person must see before giving data at a collection point."""
    return notices.notice(policy, point)


@router.post("/collect/{point}", status_code=201)
def collect(
    point: PointName,
    body: CollectRequest,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    caller: CallerDep,
) -> dict[str, Any]:
    """Store a person's data under the notice they saw; return a signed receipt."""
    return collection.collect(session, policy, secrets, caller, point, body)


@router.get("/receipts/key")
def receipt_key(secrets: SecretsDep) -> dict[str, str]:
    """Return the public key that verifies receipts."""
    public = secrets.signing_key.public_key()
    return {
        "algorithm": "Ed25519",
        "key_id": secrets.signing_key_id,
        "public_key_pem": signing.public_pem(public),
    }


@router.get("/receipts/{receipt_id}")
def get_receipt(
    receipt_id: Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")], session: SessionDep
) -> dict[str, Any]:
    """Return a receipt and its signature (anyone holding its id may fetch it)."""
    return collection.get_receipt(session, receipt_id)


@router.get("/subjects/lookup")
def lookup(
    field: Annotated[str, Query(min_length=1, max_length=64)],
    value: Annotated[str, Query(min_length=1, max_length=500)],
    purpose: Purpose,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    caller: CallerDep,
) -> dict[str, Any]:
    """Find people by a lookup field (blind index) for a purpose the caller's role grants."""
    return access.lookup(session, policy, secrets, caller, field, value, purpose)


@router.get("/subjects/{subject_id}/data")
def read(
    subject_id: SubjectIdPath,
    purpose: Purpose,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    caller: CallerDep,
    fields: Annotated[str | None, Query(description="Comma-separated field names.")] = None,
) -> dict[str, Any]:
    """Read a person's values collected for the purpose; the others are listed as withheld."""
    wanted = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
    return access.read(session, policy, secrets, caller, subject_id, purpose, wanted)


@router.post("/disclosures", status_code=201)
def disclose(
    body: DisclosureRequest,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    caller: CallerDep,
) -> dict[str, Any]:
    """Disclose values to a recipient announced in their notice, and record it."""
    return access.disclose(
        session, policy, secrets, caller, body.subject_id, body.recipient, body.fields, body.purpose
    )


@router.get("/subjects/{subject_id}/disclosures")
def disclosures(
    subject_id: SubjectIdPath, session: SessionDep, caller: CallerDep
) -> dict[str, Any]:
    """List every disclosure of a person's data."""
    return {
        "subject_id": subject_id,
        "disclosures": access.disclosures(session, caller, subject_id),
    }


@router.delete("/subjects/{subject_id}")
def erase(
    subject_id: SubjectIdPath, session: SessionDep, policy: PolicyDep, caller: CallerDep
) -> dict[str, Any]:
    """Erase a person: destroy their data key and lookup rows, keep a tombstone."""
    return access.erase(session, policy, caller, subject_id)
