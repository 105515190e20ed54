"""The vault API: notices, collection, consents, receipts, purpose-bound reads, disclosures,
erasure."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from avowal.callers.deps import CallerDep
from avowal.crypto import signing
from avowal.lib import problems
from avowal.lib.deps import PolicyDep, SecretsDep, SessionDep, SettingsDep
from avowal.vault import access, activity, collection, consents, erasure, notices
from avowal.vault.schemas import (
    Closed,
    Collected,
    CollectRequest,
    Consented,
    ConsentRequest,
    Disclosed,
    DisclosureRegister,
    DisclosureRequest,
    Erased,
    Found,
    Notice,
    ReadResult,
    ReceiptKey,
    SignedReceipt,
)

router = APIRouter(prefix="/v1", tags=["vault"])

PointName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
SubjectIdPath = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]
Purpose = Annotated[str, Query(min_length=1, max_length=200, description="A fideslang data use.")]


@router.get("/notices/{point}", response_model=Notice, responses=problems.responses(404, 422))
def get_notice(point: PointName, policy: PolicyDep) -> Notice:
    """Show what a person must see before giving data at a collection point."""
    return notices.notice(policy, point)


@router.post(
    "/collect/{point}",
    status_code=201,
    response_model=Collected,
    # 400: a body that is not JSON text (not UTF-8).
    responses=problems.responses(400, 401, 403, 404, 409, 410, 413, 422, 503),
)
def collect(
    point: PointName,
    body: CollectRequest,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    caller: CallerDep,
    settings: SettingsDep,
) -> Collected:
    """Store a person's data under the notice they saw; return a signed receipt.

    A person under the children threshold (at a point admitting minors) is stored locked: the
    answer's ``parental_consent`` says what happens next.
    """
    return collection.collect(session, policy, secrets, caller, point, body, settings)


@router.get("/receipts/key", response_model=ReceiptKey)
def receipt_key(secrets: SecretsDep) -> ReceiptKey:
    """Return the public key that verifies receipts."""
    public = secrets.signing_key.public_key()
    return ReceiptKey(
        algorithm="Ed25519",
        key_id=secrets.signing_key_id,
        public_key_pem=signing.public_pem(public),
    )


@router.get(
    "/receipts/{receipt_id}",
    response_model=SignedReceipt,
    responses=problems.responses(404, 422, 503),
)
def get_receipt(
    receipt_id: Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")], session: SessionDep
) -> SignedReceipt:
    """Return a receipt and its signature (anyone holding its id may fetch it)."""
    return collection.get_receipt(session, receipt_id)


@router.get(
    "/subjects/lookup", response_model=Found, responses=problems.responses(400, 401, 403, 422, 503)
)
def lookup_subjects(
    field: Annotated[str, Query(min_length=1, max_length=64)],
    value: Annotated[str, Query(min_length=1, max_length=500)],
    purpose: Purpose,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    caller: CallerDep,
) -> Found:
    """Find people whose lookup field has the value and was collected for the purpose."""
    return access.lookup(session, policy, secrets, caller, field, value, purpose)


@router.get(
    "/subjects/{subject_id}/data",
    response_model=ReadResult,
    responses=problems.responses(400, 401, 403, 404, 410, 422, 503),
)
def read_subject_data(
    subject_id: SubjectIdPath,
    purpose: Purpose,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    caller: CallerDep,
    fields: Annotated[str | None, Query(description="Comma-separated field names.")] = None,
) -> ReadResult:
    """Read a person's values collected for the purpose; the others are listed as withheld."""
    wanted = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
    return access.read(session, policy, secrets, caller, subject_id, purpose, wanted)


@router.post(
    "/disclosures",
    status_code=201,
    response_model=Disclosed,
    responses=problems.responses(
        400,
        401,
        403,
        404,
        410,
        413,
        422,
        503,
        s403="Forbidden: the caller's role does not grant the purpose, the recipient was not "
        "announced when the values were collected (`recipient_not_announced`) or is not declared "
        "for them (`recipient_not_declared`), or it or the purpose was added to the notice later "
        "and the person must consent first (`consent_required`, naming `consent_endpoint`). "
        "Refusals are audited.",
    ),
)
def disclose_values(
    body: DisclosureRequest,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    caller: CallerDep,
) -> Disclosed:
    """Disclose values to a recipient announced in their notice and declared for them."""
    return access.disclose(
        session, policy, secrets, caller, body.subject_id, body.recipient, body.fields, body.purpose
    )


@router.post(
    "/subjects/{subject_id}/consents",
    status_code=201,
    response_model=Consented,
    # 400: a body that is not JSON text (not UTF-8).
    responses=problems.responses(
        400,
        401,
        403,
        404,
        409,
        410,
        413,
        422,
        503,
        s409="Conflict: the notice given is not the point's current one (`notice_not_current`), "
        "or no value of the person held there is under an earlier notice (`nothing_to_consent`).",
    ),
)
def record_consent(
    subject_id: SubjectIdPath,
    body: ConsentRequest,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    caller: CallerDep,
) -> Consented:
    """Record a person's explicit consent to a point's changed notice; return a signed receipt."""
    return consents.consent(session, policy, secrets, caller, subject_id, body)


@router.get(
    "/subjects/{subject_id}/disclosures",
    response_model=DisclosureRegister,
    responses=problems.responses(400, 401, 403, 404, 410, 422, 503),
)
def list_disclosures(
    subject_id: SubjectIdPath,
    purpose: Purpose,
    session: SessionDep,
    policy: PolicyDep,
    caller: CallerDep,
) -> DisclosureRegister:
    """List the disclosures of a person's data made for uses within the purpose."""
    return DisclosureRegister(
        subject_id=subject_id,
        purpose=purpose,
        disclosures=access.disclosures(session, policy, caller, subject_id, purpose),
    )


@router.delete(
    "/subjects/{subject_id}",
    response_model=Erased,
    responses=problems.responses(401, 403, 404, 410, 422, 503),
)
def erase_subject(
    subject_id: SubjectIdPath,
    session: SessionDep,
    policy: PolicyDep,
    caller: CallerDep,
    settings: SettingsDep,
) -> Erased:
    """Erase a person: destroy their data key and lookup rows, keep a tombstone."""
    return erasure.erase(session, policy, caller, subject_id, outbox=settings.mail_outbox_path)


@router.post(
    "/subjects/{subject_id}/closure",
    response_model=Closed,
    responses=problems.responses(
        401,
        403,
        404,
        410,
        422,
        503,
        s403="Forbidden: only a role granting essential.service (the site's back end serving "
        "the person) may say their account is closed (`closure_not_allowed`). Audited.",
    ),
)
def close_account(subject_id: SubjectIdPath, session: SessionDep, caller: CallerDep) -> Closed:
    """Record that the person closed their account; periods after closure start then.

    A second call changes nothing: the first time counts.
    """
    return activity.close(session, caller, subject_id)
