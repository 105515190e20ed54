"""Who may read a person's records about them (acceptances, linked cookie consents): one rule."""

from __future__ import annotations

from sqlalchemy.orm import Session

from avowal.audit import service as audit
from avowal.callers.exceptions import PurposeNotGranted
from avowal.callers.service import Caller
from avowal.lib import text
from avowal.lib.errors import AvowalError
from avowal.policy.loader import LoadedPolicy
from avowal.policy.taxonomy import LEGAL_OBLIGATION, SERVING_THE_PERSON, is_within
from avowal.vault.exceptions import UnknownPurpose
from avowal.vault.subjects import living_subject


def authorise_records(
    session: Session,
    loaded: LoadedPolicy,
    caller: Caller,
    subject_id: str,
    purpose: str,
    *,
    action: str,
    what: str,
    refusal: type[AvowalError],
) -> None:
    """Allow a read of a living person's ``what`` only for a purpose serving them or the law.

    The purpose must be a data use, granted to the caller, and within ``essential.service`` or
    ``essential.legal_obligation``; a refusal is audited (``refusal`` names the second case).
    The allowed read itself is audited by the caller, with what it returns.
    """
    if purpose not in loaded.taxonomy.data_uses:
        raise UnknownPurpose(
            f"'{text.clean(purpose)}' is not a data use of the taxonomy",
            purpose=text.clean(purpose),
        )
    exc: AvowalError | None = None
    if not caller.grants(purpose):
        exc = PurposeNotGranted(
            f"role '{caller.role}' does not grant the purpose '{purpose}'",
            purpose=purpose,
            role=caller.role,
            granted=list(caller.purposes),
        )
    elif not (is_within(purpose, SERVING_THE_PERSON) or is_within(purpose, LEGAL_OBLIGATION)):
        exc = refusal(
            f"{what} are read to serve the person ({SERVING_THE_PERSON}) or for "
            f"{LEGAL_OBLIGATION}, not for {purpose}",
            purpose=purpose,
            allowed=[SERVING_THE_PERSON, LEGAL_OBLIGATION],
        )
    if exc is not None:
        raise audit.refuse(
            session,
            exc,
            actor=caller.name,
            role=caller.role,
            action=action,
            subject_id=subject_id,
            purpose=purpose,
        )
    living_subject(session, subject_id)
