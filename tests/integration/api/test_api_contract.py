"""schemathesis over every operation of /openapi.json: no server error, no broken promise.

Each operation gets a bounded number of generated requests (positive and negative), sent through
the test client of a populated server. Valid values are mixed in where generated ones could never
get past the first refusal: a real token, a current notice id, a known person, the share link.
Every answer must be declared for its operation with its status code, content type, headers and
schema; no answer may be a 5xx.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import httpx
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import PURCHASE, REGISTRATION
from tests.integration.api.conftest import SITE, World

EXAMPLES = 40
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# What a generated request could not guess, and a refusal would stop before any rule is tried.
PURPOSES = ("essential.service", "marketing.communications.email", "analytics.reporting")
DIMENSIONS = ("page", "source", "country", "device", "event", "nonsense")
TABLES = ("page", "source", "timeseries", "prop")
VALUES = {
    "registration": REGISTRATION,
    "purchase": PURCHASE,
    "contact": {"email": "ada@example.com", "message": "Hello"},
}


def operations(app: FastAPI) -> list[Any]:
    """Return every operation of the server's own OpenAPI document, loaded by schemathesis."""
    loaded = schemathesis.openapi.from_dict(app.openapi(), config=SchemathesisConfig())
    return [result.ok() for result in loaded.get_all_operations()]


def _maybe(data: st.DataObject, value: Any, label: str) -> Any:
    """Draw whether to use a valid ``value`` (most of the time) instead of the generated one."""
    return value if data.draw(st.integers(0, 3), label=label) else None


def prepare(case: Any, data: st.DataObject, world: World) -> dict[str, str]:
    """Put valid ids, notices and purposes into most cases; return the headers to send.

    Generated values alone would hardly ever get past the first refusal (an unknown point, a
    stale notice, an unknown person), so most requests carry real ones in some places.
    """
    headers: dict[str, str] = {}
    token = world.token_for(case.path)
    choice = data.draw(st.sampled_from(["valid", "valid", "valid", "none", "bogus"]), "auth")
    if token and choice == "valid":
        headers["Authorization"] = f"Bearer {token}"
    elif choice == "bogus":
        headers["Authorization"] = "Bearer avw_not-a-real-token"
    path = case.path_parameters or {}
    valid = {
        "point": data.draw(st.sampled_from(sorted(world.notices))),
        "subject_id": world.subject_id,
        "receipt_id": world.receipt_id,
        "domain": SITE,
        "token": world.share_token,
        "dimension": data.draw(st.sampled_from(DIMENSIONS)),
    }
    for name in list(path):
        if name in valid and (value := _maybe(data, valid[name], f"path.{name}")) is not None:
            path[name] = value
    query = case.query if isinstance(case.query, dict) else {}
    if "purpose" in query and (purpose := _maybe(data, data.draw(st.sampled_from(PURPOSES)), "p")):
        query["purpose"] = purpose
    if "table" in query and _maybe(data, True, "table"):
        query["table"] = data.draw(st.sampled_from(TABLES))
    body = case.body
    if isinstance(body, dict):
        point = path.get("point")
        if "notice_id" in body and point in world.notices and _maybe(data, True, "notice"):
            body["notice_id"] = world.notices[point]
            body["values"] = dict(VALUES[point])
            body["subject"] = {"ref": f"contract-{data.draw(st.integers(0, 5), 'ref')}"}
        if "subject_id" in body and _maybe(data, True, "body.subject_id"):
            body["subject_id"] = world.subject_id
        if case.path == "/api/event" and _maybe(data, True, "event"):
            body.update(name="pageview", url=f"https://{SITE}/pricing", domain=SITE)
    return headers


def send(world: World, case: Any, headers: dict[str, str]) -> httpx.Response:
    """Send a case through the test client (the server's lifespan is running)."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    request: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": kwargs.get("headers") or {},
        "params": kwargs.get("params") or None,
    }
    if "json" in kwargs:
        request["content"] = json.dumps(kwargs["json"]).encode()
    elif kwargs.get("data") is not None:
        raw = kwargs["data"]
        request["content"] = raw.encode() if isinstance(raw, str) else raw
    return world.client.request(**request)


def strategy(operation: Any) -> st.SearchStrategy[Any]:
    """Return generated requests of both kinds: valid for the schema, and not."""
    kinds = [operation.as_strategy(GenerationMode.POSITIVE)]
    negative = operation.as_strategy(GenerationMode.NEGATIVE)
    kinds.append(negative)
    return st.one_of(kinds)


def explore(world: World, operation: Any) -> list[str]:
    """Run an operation's examples; return the failures found (none is the contract kept)."""
    failures: list[str] = []
    seen_kinds: list[list[str]] = []

    @given(case=strategy(operation), data=st.data())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any, data: st.DataObject) -> None:
        headers = prepare(case, data, world)
        label = f"{operation.method.upper()} {operation.path}"
        counts = world.statuses.setdefault(label, Counter())
        try:
            response = send(world, case, headers)
            counts[response.status_code] += 1
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, FailureGroup) as exc:  # failed checks, or the server's own exception
            lines = str(exc).strip().splitlines()
            # One report per kind of failure: the check, and the status it met.
            key = [line for line in lines if line.startswith(("- ", "    Received"))] or lines[:1]
            if key not in seen_kinds:
                seen_kinds.append(key)
                failures.append(f"{label}: {type(exc).__name__}: " + "\n".join(lines[:14]))

    run()
    return failures


def test_every_operation_keeps_its_contract(app: FastAPI, world: World) -> None:
    found = operations(app)
    failures = [failure for operation in found for failure in explore(world, operation)]
    figures = "\n".join(f"{label}: {dict(counts)}" for label, counts in world.statuses.items())
    total = sum(sum(counts.values()) for counts in world.statuses.values())
    print(f"{len(found)} operations, {total} requests, {len(failures)} failures\n{figures}")
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures) + "\n" + figures
    assert len(world.statuses) == len(found), figures
