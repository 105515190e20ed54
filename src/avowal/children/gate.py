"""The age gate: whether a person giving data is under the children threshold, what a point
admitting minors needs from them (their parent's address under its own notice), and what a
point for adults only refuses. Checked before anything is stored."""

from __future__ import annotations

import datetime as dt
import hashlib

from avowal.children.exceptions import (
    AgeRequired,
    MinorNotAdmitted,
    ParentalMailUnavailable,
    ParentRequired,
    StaleParentNotice,
)
from avowal.children.schemas import ParentNotice
from avowal.crypto.signing import canonical
from avowal.lib import clock
from avowal.policy.loader import LoadedPolicy
from avowal.policy.schemas import AgeQuestion, Children, CollectionPoint
from avowal.policy.taxonomy import is_within
from avowal.vault.schemas import CollectRequest

DATE_OF_BIRTH = "user.demographic.date_of_birth"
# The use of the parent's address: asking, confirming, and letting them withdraw.
PARENT_PURPOSE = "essential.service.notifications"


# -- The parent's notice --------------------------------------------------------------------


def rule(loaded: LoadedPolicy) -> Children:
    kids = loaded.policy.children
    assert kids is not None
    return kids


def parent_notice(loaded: LoadedPolicy, point: str) -> ParentNotice:
    """Return what a child is told when asked for their parent's address at ``point``."""
    kids = rule(loaded)
    org = loaded.policy.organisation.name
    text = (
        f"Because you are under {kids.under}, {org} needs your parent's or guardian's permission "
        "before using what you give. We will e-mail them once to ask, and once more to confirm "
        "if they agree. Their address is used for nothing else and is erased with your data if "
        f"they refuse or do not answer within {kids.wait_days} days."
    )
    what = {
        "organisation": org,
        "point": point,
        "under": kids.under,
        "purpose": PARENT_PURPOSE,
        "text": text,
        "wait_days": kids.wait_days,
        "confirm_after_hours": kids.confirm_after_hours,
    }
    digest = hashlib.sha256(canonical(what)).hexdigest()
    return ParentNotice(notice_id=digest, **{k: v for k, v in what.items() if k != "organisation"})


# -- The age gate -----------------------------------------------------------------------------


def _age(born: dt.date, today: dt.date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def birth_field(loaded: LoadedPolicy, cp: CollectionPoint) -> str | None:
    return next(
        (n for n, f in cp.fields.items() if is_within(f.category, DATE_OF_BIRTH)),
        None,
    )


def is_minor(
    loaded: LoadedPolicy, point: str, values: dict[str, str], declared_under: bool | None
) -> bool | None:
    """Tell whether the person giving ``values`` is under the threshold; None when unknown."""
    kids = loaded.policy.children
    if kids is None:
        return False
    cp = loaded.policy.collection_points[point]
    if kids.age_question is AgeQuestion.declaration:
        return declared_under
    name = birth_field(loaded, cp)
    given = values.get(name) if name is not None else None
    if given is None:
        return None
    return _age(dt.date.fromisoformat(given), clock.now().date()) < kids.under


def gate(
    loaded: LoadedPolicy,
    point: str,
    values: dict[str, str],
    body: CollectRequest,
    mail_on: bool,
) -> bool:
    """Check a collection against the children rule before anything is stored; True: a minor.

    A minor at a point that does not admit minors is refused (403); at one that does, the
    parent's address under the current parent notice is required, and mail must be configured.
    """
    kids = loaded.policy.children
    if kids is None:
        return False
    cp = loaded.policy.collection_points[point]
    minor = is_minor(loaded, point, values, body.declared_under)
    if not cp.admits_minors:
        if minor:
            raise MinorNotAdmitted(
                f"'{point}' is only for people aged {kids.under} or over: nothing was stored",
                point=point,
                under=kids.under,
            )
        return False
    if minor is None:
        asked = (
            "declared_under (true or false)"
            if kids.age_question is AgeQuestion.declaration
            else f"the date of birth ({birth_field(loaded, cp)})"
        )
        raise AgeRequired(
            f"'{point}' admits people under {kids.under} only with a parent's consent, so it "
            f"needs {asked}",
            point=point,
            under=kids.under,
        )
    if not minor:
        return False
    note = parent_notice(loaded, point)
    if body.parent is None:
        raise ParentRequired(
            f"the person is under {kids.under}: give their parent's or guardian's e-mail "
            f"address in 'parent', with the parent notice shown (GET /v1/notices/{point}/parent)",
            point=point,
            under=kids.under,
            parent_notice_id=note.notice_id,
        )
    if body.parent.notice_id != note.notice_id:
        raise StaleParentNotice(
            "the parent notice shown is not the current one; show it and collect again",
            point=point,
            notice_id=body.parent.notice_id,
            current_notice_id=note.notice_id,
        )
    if not mail_on:
        raise ParentalMailUnavailable(
            "mail is not configured, so a parent cannot be asked: nothing was stored",
            point=point,
        )
    return True
