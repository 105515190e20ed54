"""A small Python client for site back ends: ``Client(base_url, token)``.

Answers are parsed into the server's own response models (:mod:`avowal.vault.schemas`, and
:mod:`avowal.rights.schemas` for a person's rights: export, correct, withdraw, object, and the
link into the privacy center).
Refusals raise typed exceptions carrying the server's reason, e.g. :class:`PurposeNotAllowed`
with ``.purpose`` and ``.role``, or :class:`RecipientNotAnnounced` with ``.fields``.
"""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from avowal.children.schemas import ParentNotice
from avowal.consent.schemas import LinkedConsent, SubjectCookieConsents
from avowal.lifecycle.acceptance_schemas import AcceptanceList, AcceptanceRead
from avowal.rights.schemas import Corrected, Export, Objected, SignInLink, Withdrawn
from avowal.vault.schemas import (
    Closed,
    Collected,
    Consented,
    Disclosed,
    DisclosureEntry,
    DisclosureRegister,
    Erased,
    Found,
    Notice,
    ReadResult,
    ReceiptKey,
    SignedReceipt,
)

__all__ = [
    "AcceptanceRead",
    "AlreadyAccepted",
    "AvowalError",
    "Client",
    "Closed",
    "Collected",
    "ConsentRequired",
    "Consented",
    "Corrected",
    "Disclosed",
    "DisclosureEntry",
    "Erased",
    "Export",
    "InvalidData",
    "NotAuthenticated",
    "NotCorrectable",
    "NotFound",
    "NotObjectable",
    "NotWithdrawable",
    "NothingToConsent",
    "Notice",
    "Objected",
    "PersonLocked",
    "PurposeNotAllowed",
    "ReadResult",
    "RecipientNotAnnounced",
    "RecipientNotDeclared",
    "RightsNotAllowed",
    "SignInLink",
    "SignedReceipt",
    "StaleNotice",
    "SubjectErased",
    "UnknownPurpose",
    "Withdrawn",
]

M = TypeVar("M", bound=BaseModel)


class AvowalError(Exception):
    """A refusal or failure reported by the server; ``body`` is its JSON answer."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body
        self.error = str(body.get("error", "error"))
        self.message = str(body.get("message", ""))
        super().__init__(f"{status} {self.error}: {self.message}")

    def __getattr__(self, name: str) -> Any:
        # Structured details of the refusal (fields, purpose, role, notice_id, ...).
        try:
            return self.__dict__["body"][name]
        except KeyError:
            raise AttributeError(name) from None


class NotAuthenticated(AvowalError):
    """The token is missing, wrong or revoked."""


class PurposeNotAllowed(AvowalError):
    """The caller's role does not grant the purpose."""


class RecipientNotAnnounced(AvowalError):
    """The recipient was not in the notice the values were collected under."""


class RecipientNotDeclared(AvowalError):
    """The policy does not declare the recipient for the purpose or the values' categories."""


class ConsentRequired(AvowalError):
    """The recipient or purpose was added after the values were collected; ``consent_endpoint``
    says where to record the person's explicit consent to the current notice."""


class NothingToConsent(AvowalError):
    """No value held at the point is under an earlier notice."""


class StaleNotice(AvowalError):
    """The notice shown is not current; ``current_notice_id`` says which is."""


class InvalidData(AvowalError):
    """An unknown field, a missing required field or a value of the wrong shape."""


class NotFound(AvowalError):
    """No such collection point, subject or receipt."""


class SubjectErased(AvowalError):
    """The person was erased."""


class AlreadyAccepted(AvowalError):
    """The person accepted that version already; ``method`` and ``accepted_at`` say how, when."""


class UnknownPurpose(AvowalError):
    """The purpose is not a data use of the taxonomy."""


class RightsNotAllowed(AvowalError):
    """The caller's role may not act on a person's rights (only the back end serving them, or a
    role answering for legal obligations, may)."""


class NotCorrectable(AvowalError):
    """Nothing of the field is held for the person, the policy keeps nothing of it, or it is the
    date of birth the age gate reads (collect it again instead)."""


class NotWithdrawable(AvowalError):
    """The purpose is the service itself (erase the account to stop it), or nothing of the
    person's is held for it."""


class NotObjectable(AvowalError):
    """An objection is to communications, and the purpose is not one."""


class PersonLocked(AvowalError):
    """A minor whose parent has not consented yet: nothing changes for them until then."""


_BY_ERROR: dict[str, type[AvowalError]] = {
    "already_accepted": AlreadyAccepted,
    "unknown_version": NotFound,
    "not_authenticated": NotAuthenticated,
    "purpose_not_granted": PurposeNotAllowed,
    "recipient_not_announced": RecipientNotAnnounced,
    "recipient_not_declared": RecipientNotDeclared,
    "consent_required": ConsentRequired,
    "nothing_to_consent": NothingToConsent,
    "notice_not_current": StaleNotice,
    "unknown_field": InvalidData,
    "missing_field": InvalidData,
    "invalid_value": InvalidData,
    "invalid_request": InvalidData,
    "invalid_text": InvalidData,
    "too_deeply_nested": InvalidData,
    "unknown_collection_point": NotFound,
    "subject_not_found": NotFound,
    "receipt_not_found": NotFound,
    "subject_erased": SubjectErased,
    "unknown_purpose": UnknownPurpose,
    "rights_not_allowed": RightsNotAllowed,
    "not_correctable": NotCorrectable,
    "not_withdrawable": NotWithdrawable,
    "not_objectable": NotObjectable,
    "parental_consent_pending": PersonLocked,
}


class Client:
    """Talk to an avowal server with a service token."""

    def __init__(
        self, base_url: str, token: str, *, http: httpx.Client | None = None, timeout: float = 10.0
    ) -> None:
        self._http = http or httpx.Client(base_url=base_url, timeout=timeout)
        self._headers = {"Authorization": f"Bearer {token}"}

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self._http.request(method, url, headers=self._headers, **kwargs)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"error": "http_error", "message": response.text}
            if not isinstance(body, dict):
                body = {"error": "http_error", "message": str(body)}
            cls = _BY_ERROR.get(str(body.get("error")), AvowalError)
            raise cls(response.status_code, body)
        return response.json()

    def _parse(self, model: type[M], method: str, url: str, **kwargs: Any) -> M:
        return model.model_validate(self._call(method, url, **kwargs))

    def notice(self, point: str) -> Notice:
        """Return the current notice of a collection point."""
        return self._parse(Notice, "GET", f"/v1/notices/{point}")

    def collect(
        self,
        point: str,
        values: dict[str, Any],
        *,
        ref: str | None = None,
        subject_id: str | None = None,
        notice_id: str | None = None,
        parent_email: str | None = None,
        declared_under: bool | None = None,
    ) -> Collected:
        """Collect values (under the current notice unless ``notice_id`` is given).

        For a person under the policy's children threshold, give ``parent_email``: it is sent
        with the current parent notice (which the person must have been shown), and the answer's
        ``parental_consent`` says what happens next. ``declared_under`` is the person's answer
        where the policy asks age by declaration.
        """
        subject = {"ref": ref} if ref is not None else {"subject_id": subject_id}
        notice_id = notice_id or self.notice(point).notice_id
        body: dict[str, Any] = {"notice_id": notice_id, "subject": subject, "values": values}
        if declared_under is not None:
            body["declared_under"] = declared_under
        if parent_email is not None:
            body["parent"] = {
                "email": parent_email,
                "notice_id": self.parent_notice(point).notice_id,
            }
        return self._parse(Collected, "POST", f"/v1/collect/{point}", json=body)

    def parent_notice(self, point: str) -> ParentNotice:
        """Return what a minor is told when asked for their parent's address at ``point``."""
        return self._parse(ParentNotice, "GET", f"/v1/notices/{point}/parent")

    def consent(self, subject_id: str, point: str, notice_id: str) -> Consented:
        """Record a person's explicit consent to a point's current notice (shown to them)."""
        return self._parse(
            Consented,
            "POST",
            f"/v1/subjects/{subject_id}/consents",
            json={"point": point, "notice_id": notice_id},
        )

    def receipt(self, receipt_id: str) -> SignedReceipt:
        """Return a receipt and its signature."""
        return self._parse(SignedReceipt, "GET", f"/v1/receipts/{receipt_id}")

    def receipt_key(self) -> ReceiptKey:
        """Return the public key that verifies receipts."""
        return self._parse(ReceiptKey, "GET", "/v1/receipts/key")

    def read(self, subject: str, *, purpose: str, fields: list[str] | None = None) -> ReadResult:
        """Read a person's values for a purpose."""
        params = {"purpose": purpose}
        if fields:
            params["fields"] = ",".join(fields)
        return self._parse(ReadResult, "GET", f"/v1/subjects/{subject}/data", params=params)

    def lookup(self, field: str, value: str, *, purpose: str) -> list[str]:
        """Return the ids of people whose lookup field has this value, collected for the purpose."""
        found = self._parse(
            Found,
            "GET",
            "/v1/subjects/lookup",
            params={"field": field, "value": value, "purpose": purpose},
        )
        return found.subject_ids

    def disclose(
        self, subject: str, *, recipient: str, fields: list[str], purpose: str
    ) -> Disclosed:
        """Disclose values to a recipient announced at collection and declared for them."""
        return self._parse(
            Disclosed,
            "POST",
            "/v1/disclosures",
            json={
                "subject_id": subject,
                "recipient": recipient,
                "fields": fields,
                "purpose": purpose,
            },
        )

    def disclosures(self, subject: str, *, purpose: str) -> list[DisclosureEntry]:
        """Return the disclosures of a person's data made for uses within ``purpose``."""
        register = self._parse(
            DisclosureRegister,
            "GET",
            f"/v1/subjects/{subject}/disclosures",
            params={"purpose": purpose},
        )
        return register.disclosures

    def erase(self, subject: str) -> Erased:
        """Erase a person (crypto-shredding)."""
        return self._parse(Erased, "DELETE", f"/v1/subjects/{subject}")

    def closure(self, subject: str) -> Closed:
        """Say the person closed their account (a second call keeps the first time)."""
        return self._parse(Closed, "POST", f"/v1/subjects/{subject}/closure")

    def acceptances(self, subject: str, *, purpose: str) -> list[AcceptanceRead]:
        """Return a person's acceptances of policy versions (a purpose serving them is needed)."""
        found = self._parse(
            AcceptanceList,
            "GET",
            f"/v1/subjects/{subject}/acceptances",
            params={"purpose": purpose},
        )
        return found.acceptances

    def link_cookie_consent(self, subject: str, consent_id: str) -> LinkedConsent:
        """Attach a cookie consent id (from the visitor's consent cookie) to a person."""
        return self._parse(
            LinkedConsent,
            "POST",
            f"/v1/subjects/{subject}/cookie-consents",
            json={"consent_id": consent_id},
        )

    def cookie_consents(self, subject: str, *, purpose: str) -> list[LinkedConsent]:
        """Return a person's linked cookie consents with their histories, newest choice first."""
        found = self._parse(
            SubjectCookieConsents,
            "GET",
            f"/v1/subjects/{subject}/cookie-consents",
            params={"purpose": purpose},
        )
        return found.consents

    def accept(self, subject: str, version_id: str, *, shown: str | None = None) -> AcceptanceRead:
        """Record a person's explicit acceptance of a version in effect or announced."""
        body: dict[str, str] = {"version_id": version_id}
        if shown is not None:
            body["shown"] = shown
        return self._parse(AcceptanceRead, "POST", f"/v1/subjects/{subject}/acceptances", json=body)

    def export(self, subject: str) -> Export:
        """Return everything held about a person (schema avowal-export/1), to hand to them."""
        return self._parse(Export, "GET", f"/v1/subjects/{subject}/export")

    def correct(self, subject: str, point: str, field: str, value: str) -> Corrected:
        """Correct a value the person gave at ``point``: the old one is destroyed, and the new
        one is held on the same terms under a new signed receipt."""
        return self._parse(
            Corrected,
            "POST",
            f"/v1/subjects/{subject}/corrections",
            json={"point": point, "field": field, "value": value},
        )

    def withdraw(self, subject: str, purpose: str) -> Withdrawn:
        """Withdraw the person's agreement to ``purpose``; the next read withholds the values."""
        return self._parse(
            Withdrawn, "POST", f"/v1/subjects/{subject}/withdrawals", json={"purpose": purpose}
        )

    def object(self, subject: str, purpose: str) -> Objected:
        """Record the person's objection to communications for ``purpose`` (repeats are kept
        once: ``new`` is False the second time)."""
        return self._parse(
            Objected, "POST", f"/v1/subjects/{subject}/objections", json={"purpose": purpose}
        )

    def privacy_link(self, subject: str | None = None, *, ref: str | None = None) -> SignInLink:
        """Return a single-use link into the privacy center for the site's signed-in user, by
        subject id or by the site's ``ref``; redirect their browser to it at once (it expires
        in five minutes)."""
        who = {"ref": ref} if ref is not None else {"subject_id": subject}
        return self._parse(SignInLink, "POST", "/v1/privacy/links", json={"subject": who})
