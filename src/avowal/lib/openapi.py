"""The OpenAPI document: readable operation ids and one error shape, as the server answers.

FastAPI documents a 422 answer of its own shape (``HTTPValidationError``) on every route with
parameters, but :mod:`avowal.lib.errors` answers every error, 422 included, as a
:class:`~avowal.lib.problems.Problem`. :func:`install` makes the document say so.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from avowal.lib.problems import DESCRIPTIONS, Problem

REF = "#/components/schemas/"
FASTAPI_ERRORS = ("HTTPValidationError", "ValidationError")


def operation_id(route: APIRoute) -> str:
    """Name an operation after its route function (``collect``), unless it names itself."""
    return route.name


def install(app: FastAPI, own_errors: tuple[str, ...] = ()) -> None:
    """Serve the document with a Problem for every error answer.

    Paths starting with one of ``own_errors`` answer refusals in a shape of their own, documented
    by their routes (Plausible's Stats API): FastAPI's automatic 422 is dropped there, since their
    validation errors are answered as their own 400.
    """

    build = app.openapi
    amended: list[int] = []

    def openapi() -> dict[str, Any]:
        # FastAPI's builder caches its document (and rebuilds it when routes are added).
        document = build()
        if amended != [id(document)]:
            for path, operations in document.get("paths", {}).items():
                if own_errors and path.startswith(own_errors):
                    for operation in operations.values():
                        operation.get("responses", {}).pop("422", None)
            problems_everywhere(document)
            amended[:] = [id(document)]
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def problems_everywhere(document: dict[str, Any]) -> dict[str, Any]:
    """Answer every 4xx/5xx of ``document`` with the Problem schema; drop FastAPI's own."""
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in (
        Problem.model_json_schema(ref_template=REF + "{model}").pop("$defs", {}).items()
    ):
        schemas.setdefault(name, schema)
    schemas.setdefault("Problem", _own_schema())
    problem = {"application/json": {"schema": {"$ref": REF + "Problem"}}}
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for status, answer in operation.get("responses", {}).items():
                if status[:1] not in ("4", "5"):
                    continue
                content = answer.get("content", {})
                refs = {media.get("schema", {}).get("$ref") for media in content.values()}
                if not content or refs & {REF + name for name in FASTAPI_ERRORS}:
                    answer["content"] = problem
                    if status.isdigit() and int(status) in DESCRIPTIONS:
                        answer["description"] = DESCRIPTIONS[int(status)]
    for name in FASTAPI_ERRORS:
        schemas.pop(name, None)
    return document


def _own_schema() -> dict[str, Any]:
    schema = Problem.model_json_schema(ref_template=REF + "{model}")
    schema.pop("$defs", None)
    return schema
