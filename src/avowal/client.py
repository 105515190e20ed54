"""A small Python client for site back ends: ``Client(base_url, token)``.

Refusals raise typed exceptions carrying the server's reason, e.g. :class:`PurposeNotAllowed`
with ``.purpose`` and ``.role``, or :class:`RecipientNotAnnounced` with ``.fields``.
"""

from __future__ import annotations

from typing import Any

import httpx


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


class StaleNotice(AvowalError):
    """The notice shown is not current; ``current_notice_id`` says which is."""


class InvalidData(AvowalError):
    """An unknown field, a missing required field or a value of the wrong shape."""


class NotFound(AvowalError):
    """No such collection point, subject or receipt."""


class SubjectErased(AvowalError):
    """The person was erased."""


_BY_ERROR: dict[str, type[AvowalError]] = {
    "not_authenticated": NotAuthenticated,
    "purpose_not_granted": PurposeNotAllowed,
    "recipient_not_announced": RecipientNotAnnounced,
    "notice_not_current": StaleNotice,
    "unknown_field": InvalidData,
    "missing_field": InvalidData,
    "invalid_value": InvalidData,
    "invalid_request": InvalidData,
    "unknown_collection_point": NotFound,
    "subject_not_found": NotFound,
    "receipt_not_found": NotFound,
    "subject_erased": SubjectErased,
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

    def notice(self, point: str) -> dict[str, Any]:
        """Return the current notice of a collection point."""
        result: dict[str, Any] = self._call("GET", f"/v1/notices/{point}")
        return result

    def collect(
        self,
        point: str,
        values: dict[str, Any],
        *,
        ref: str | None = None,
        subject_id: str | None = None,
        notice_id: str | None = None,
    ) -> dict[str, Any]:
        """Collect values (under the current notice unless ``notice_id`` is given)."""
        subject = {"ref": ref} if ref is not None else {"subject_id": subject_id}
        notice_id = notice_id or self.notice(point)["notice_id"]
        result: dict[str, Any] = self._call(
            "POST",
            f"/v1/collect/{point}",
            json={"notice_id": notice_id, "subject": subject, "values": values},
        )
        return result

    def read(
        self, subject: str, *, purpose: str, fields: list[str] | None = None
    ) -> dict[str, Any]:
        """Read a person's values for a purpose."""
        params = {"purpose": purpose}
        if fields:
            params["fields"] = ",".join(fields)
        result: dict[str, Any] = self._call("GET", f"/v1/subjects/{subject}/data", params=params)
        return result

    def lookup(self, field: str, value: str, *, purpose: str) -> list[str]:
        """Return the ids of people whose lookup field has this value."""
        result = self._call(
            "GET",
            "/v1/subjects/lookup",
            params={"field": field, "value": value, "purpose": purpose},
        )
        return list(result["subject_ids"])

    def disclose(
        self, subject: str, *, recipient: str, fields: list[str], purpose: str
    ) -> dict[str, Any]:
        """Disclose values to a recipient announced at collection."""
        result: dict[str, Any] = self._call(
            "POST",
            "/v1/disclosures",
            json={
                "subject_id": subject,
                "recipient": recipient,
                "fields": fields,
                "purpose": purpose,
            },
        )
        return result

    def disclosures(self, subject: str) -> list[dict[str, Any]]:
        """Return a person's disclosure register."""
        return list(self._call("GET", f"/v1/subjects/{subject}/disclosures")["disclosures"])

    def erase(self, subject: str) -> dict[str, Any]:
        """Erase a person (crypto-shredding)."""
        result: dict[str, Any] = self._call("DELETE", f"/v1/subjects/{subject}")
        return result
