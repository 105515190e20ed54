"""The one documented shape of every error answer, and the helper that declares a route's errors.

Every refusal is a JSON object with a stable ``error`` code, a ``message`` a person can act on,
and details naming the field, rule or promise concerned (see :class:`avowal.lib.errors.AvowalError`
and the handlers in :mod:`avowal.lib.errors`). Routes list the status codes they can really
answer with :func:`responses`, so the OpenAPI document and generated clients know them::

    @router.get("/v1/things/{id}", responses=problems.responses(401, 403, 404, 422, 503))
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

# What each status means in this API; a route may give a more precise description of its own.
DESCRIPTIONS: dict[int, str] = {
    400: "Refused: the request breaks a rule of the API or of the policy; `error` names it.",
    401: "Not authenticated: send a service token as `Authorization: Bearer <token>`.",
    403: "Forbidden: the caller's role or the policy does not allow this (refusals of access "
    "to personal data are audited).",
    404: "Not found.",
    409: "Conflict with the current state, e.g. a notice older than the enforced policy.",
    410: "Gone: the person was erased.",
    413: "The request body is too large; nothing was stored.",
    415: "Unsupported media type; nothing was stored.",
    422: "The request is not valid: `problems` lists each field and what is wrong with it.",
    429: "Too many requests: wait as `Retry-After` says.",
    503: "Temporarily unavailable: storage (nothing was stored), or figures still being prepared "
    "(`filters_pending`); send the request again after `Retry-After` seconds.",
}
HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "`Bearer`: the scheme to authenticate with.",
            "schema": {"type": "string"},
        }
    },
    429: {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}}},
}


class ValidationProblem(BaseModel):
    """One invalid part of a request: where it is and what is wrong with it."""

    model_config = ConfigDict(extra="allow")

    location: str = Field(
        description="Where the problem is, dotted: `body.values.email`, `query.purpose`."
    )
    message: str = Field(description="What is wrong, e.g. `Field required`.")


class Problem(BaseModel):
    """An error answer: a stable code, a message a person can act on, and details.

    Details depend on the error and name what a caller needs to fix the request: the ``field``,
    the ``purpose``, the ``promise`` of the policy the refusal protects, the ``problems`` of an
    invalid request, a ``limit``... Unknown details are to be ignored by clients.
    """

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "error": "purpose_not_granted",
                    "message": "role 'marketing' may not use data for essential.service",
                    "purpose": "essential.service",
                },
                {
                    "error": "invalid_request",
                    "message": "the request is not valid",
                    "problems": [{"location": "query.purpose", "message": "Field required"}],
                },
            ]
        },
    )

    error: str = Field(
        description="A stable, machine-readable code, e.g. `purpose_not_allowed` or "
        "`invalid_request`.",
        examples=["purpose_not_allowed"],
    )
    message: str = Field(description="What was refused and why, for a person to act on.")
    problems: list[ValidationProblem] | SkipJsonSchema[None] = Field(
        default=None,
        description="For `invalid_request` (422): every invalid part of the request.",
    )


def responses(*statuses: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """Declare the error answers a route can really give, each as a :class:`Problem`.

    ``described`` gives a route's own wording for a status, keyed ``s404="no such point"``.
    """
    declared: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {
            "model": Problem,
            "description": described.get(f"s{status}", DESCRIPTIONS.get(status, "Error.")),
        }
        if status in HEADERS:
            entry["headers"] = HEADERS[status]
        declared[status] = entry
    unknown = {key for key in described if key.removeprefix("s") not in map(str, statuses)}
    if unknown:
        raise ValueError(f"descriptions for undeclared statuses: {sorted(unknown)}")
    return declared
