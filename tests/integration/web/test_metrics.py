"""GET /metrics: operational counts for a scraper holding the token, 404 without the setting."""

from __future__ import annotations

import datetime as dt
import re
import uuid

from fastapi.testclient import TestClient
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import Engine, func, select

from avowal.app import create_app
from avowal.audit.models import AuditEntry
from avowal.callers import service as callers
from avowal.db.engine import make_sessionmaker
from avowal.lib import clock
from avowal.mail.models import OutboxMessage
from avowal.settings import Settings
from tests.factories import REGISTRATION

TOKEN = "scrape-7f3c-example-token"


def _message(status: str, age_minutes: int) -> OutboxMessage:
    at = clock.now() - dt.timedelta(minutes=age_minutes)
    return OutboxMessage(
        id=f"00000000-0000-4000-8000-{age_minutes:012d}",
        kind="staff_enrolment",
        purpose=None,
        status=status,
        attempts=8 if status == "failed" else 0,
        created_at=at,
        next_attempt_at=at,
    )


def test_metrics_need_the_setting_and_the_token(client: TestClient) -> None:
    answer = client.get("/metrics")
    assert answer.status_code == 404
    assert "AVOWAL_METRICS_TOKEN" in answer.json()["message"]


def test_metrics_count_the_outbox_by_status(settings: Settings, engine: Engine) -> None:
    with make_sessionmaker(engine).begin() as session:
        session.add_all([_message("failed", 90), _message("queued", 30), _message("queued", 5)])
    app = create_app(settings.model_copy(update={"metrics_token": SecretStr(TOKEN)}), engine=engine)
    with TestClient(app) as client:
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"
        answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = answer.text
    assert "# TYPE avowal_mail_messages gauge" in text
    assert 'avowal_mail_messages{status="failed"} 1' in text
    assert 'avowal_mail_messages{status="queued"} 2' in text
    assert 'avowal_mail_messages{status="sent"} 0' in text
    waited = re.search(r"^avowal_mail_oldest_queued_seconds (\S+)$", text, re.M)
    assert waited is not None and 29 * 60 <= float(waited.group(1)) <= 31 * 60


# --- prometheus-client families: requests by route template, refusals, the audit chain ---------

TAG = uuid.uuid4().hex[:10]
EMAIL = f"metrics-{TAG}@example.com"
REF = f"ref-metrics-{TAG}"
MARKETING = "marketing.communications.email"


def _scrape(client: TestClient) -> dict[str, Metric]:
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200, answer.text
    return {f.name: f for f in text_string_to_metric_families(answer.text)}


def _value(family: Metric, sample: str, **labels: str) -> float:
    found = [s.value for s in family.samples if s.name == sample and s.labels == labels]
    assert len(found) == 1, (sample, labels, family.samples)
    return found[0]


def test_metrics_count_requests_by_route_template_and_refusals_by_code(
    settings: Settings, engine: Engine
) -> None:
    app = create_app(settings.model_copy(update={"metrics_token": SecretStr(TOKEN)}), engine=engine)
    with app.state.sessionmaker.begin() as session:
        policy = app.state.policies.current()
        backend = callers.create(session, policy, "web_backend", "web_backend")
    auth = {"Authorization": f"Bearer {backend}"}
    with TestClient(app) as client:
        notice = client.get("/v1/notices/registration", headers=auth).json()["notice_id"]
        collected = client.post(
            "/v1/collect/registration",
            json={
                "notice_id": notice,
                "subject": {"ref": REF},
                "values": {**REGISTRATION, "email": EMAIL},
            },
            headers={**auth, "X-Request-ID": f"rid-{TAG}"},
        )
        assert collected.status_code == 201, collected.text
        subject = collected.json()["subject_id"]
        # A read for a purpose the back end may not use: a refusal with its error code.
        refused = client.get(
            f"/v1/subjects/{subject}/data", params={"purpose": MARKETING, "x": EMAIL}, headers=auth
        )
        assert refused.status_code == 403, refused.text
        code = refused.json()["error"]
        assert code.startswith("purpose_")
        assert client.get(f"/no/such/{EMAIL}", params={"ref": REF}).status_code == 404
        # A method nobody defined: counted as OTHER, never as sent.
        assert client.request(f"X{TAG.upper()}", "/healthz").status_code == 405
        families = _scrape(client)
        with app.state.read_sessionmaker() as session:
            entries = session.scalar(select(func.count()).select_from(AuditEntry))

    requests = families["avowal_http_requests"]
    assert requests.type == "counter"
    total = "avowal_http_requests_total"
    read = "/v1/subjects/{subject_id}/data"
    assert _value(requests, total, route=read, method="GET", status="403") == 1
    assert _value(requests, total, route="/v1/collect/{point}", method="POST", status="201") == 1
    assert _value(requests, total, route="(no route)", method="GET", status="404") == 1
    assert _value(requests, total, route="(no route)", method="OTHER", status="405") == 1
    durations = families["avowal_http_request_duration_seconds"]
    assert durations.type == "histogram"
    timed = "avowal_http_request_duration_seconds"
    assert _value(durations, f"{timed}_count", route=read, method="GET") == 1
    assert _value(durations, f"{timed}_sum", route=read, method="GET") > 0
    refusals = families["avowal_refusals"]
    assert refusals.type == "counter"
    assert _value(refusals, "avowal_refusals_total", error=code) == 1
    assert _value(refusals, "avowal_refusals_total", error="not_found") == 1
    assert _value(refusals, "avowal_refusals_total", error="method_not_allowed") == 1
    chain = families["avowal_audit_chain_length"]
    assert chain.type == "gauge"
    assert entries and _value(chain, "avowal_audit_chain_length") == entries
    # The database's figures are still there, under their names.
    assert _value(families["avowal_mail_messages"], "avowal_mail_messages", status="failed") == 0
    for name in ("avowal_mail_oldest_queued_seconds", "avowal_cases_open", "avowal_cases_overdue"):
        assert families[name].type == "gauge" and len(families[name].samples) == 1

    # No label holds a path with an id, a query string, a method or anything else sent.
    labels = {v for f in families.values() for s in f.samples for v in s.labels.values()}
    sent = (subject, TAG, TAG.upper(), EMAIL, REF, notice, backend, TOKEN, MARKETING, "/no/such")
    for value in labels:
        assert not any(part in value for part in sent), value
        assert "?" not in value and "=" not in value and "@" not in value, value
    routes = {s.labels["route"] for s in requests.samples if "route" in s.labels}
    assert routes <= {read, "/v1/collect/{point}", "/v1/notices/{point}", "(no route)"}, routes


def test_each_application_counts_in_its_own_registry(settings: Settings, engine: Engine) -> None:
    enabled = settings.model_copy(update={"metrics_token": SecretStr(TOKEN)})
    first, second = create_app(enabled, engine=engine), create_app(enabled, engine=engine)
    assert first.state.metrics.registry is not second.state.metrics.registry
    with TestClient(first) as client:
        for _ in range(3):
            assert client.get("/healthz").status_code == 200
    with TestClient(second) as client:
        families = _scrape(client)
    requests = families["avowal_http_requests"]
    assert not [s for s in requests.samples if s.labels.get("route") == "/healthz"]


# --- the analytics ingest: its queue, and the sizes of its group commits ---------------------

SITE = "www.contactmonkey.com"


def _pageview(client: TestClient, path: str) -> int:
    answer = client.post(
        "/api/event",
        json={"name": "pageview", "url": f"https://{SITE}{path}", "domain": SITE},
        headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0"},
    )
    return answer.status_code


def test_metrics_show_the_ingest_queue_and_group_commit_sizes(
    settings: Settings, engine: Engine
) -> None:
    app = create_app(settings.model_copy(update={"metrics_token": SecretStr(TOKEN)}), engine=engine)
    with TestClient(app) as client:
        empty = _scrape(client)
        assert empty["avowal_analytics_batch_events"].type == "histogram"
        for n in range(4):
            assert _pageview(client, f"/metrics-{TAG}-{n}") == 202
        families = _scrape(client)
    queued = families["avowal_analytics_ingest_queued"]
    assert queued.type == "gauge"
    assert _value(queued, "avowal_analytics_ingest_queued") == 0  # every 202 followed a commit
    sizes = families["avowal_analytics_batch_events"]
    name = "avowal_analytics_batch_events"
    assert _value(empty[name], f"{name}_count") == 0
    # One request at a time: four commits of one event each.
    assert _value(sizes, f"{name}_count") == 4
    assert _value(sizes, f"{name}_sum") == _value(sizes, f"{name}_count")
    assert _value(sizes, f"{name}_bucket", le="1.0") == _value(sizes, f"{name}_count")
    assert _value(sizes, f"{name}_bucket", le="+Inf") == _value(sizes, f"{name}_count")
    paths = {v for s in sizes.samples for v in s.labels.values()}
    assert not any(TAG in v for v in paths)


def test_refusals_answered_outside_the_handlers_are_counted(
    settings: Settings, engine: Engine
) -> None:
    """The event endpoint and the two CORS pre-flights answer their refusals themselves."""
    app = create_app(settings.model_copy(update={"metrics_token": SecretStr(TOKEN)}), engine=engine)
    foreign = {"Origin": "https://elsewhere.example.com", "Access-Control-Request-Method": "POST"}
    with TestClient(app) as client:
        unknown = client.post(
            "/api/event",
            json={"name": "pageview", "url": "https://nowhere.example.com/", "domain": EXAMPLE},
            headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0"},
        )
        assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_site"
        malformed = client.post("/api/event", content=b"[1", headers={"Content-Type": "text/plain"})
        assert malformed.status_code == 400 and malformed.json()["error"] == "malformed_payload"
        event_preflight = client.options("/api/event", headers=foreign)
        assert event_preflight.status_code == 403
        consent_preflight = client.options("/v1/consents/cookies", headers=foreign)
        assert consent_preflight.status_code == 403
        assert consent_preflight.json()["error"] == "origin_not_allowed"
        refusals = _scrape(client)["avowal_refusals"]
    counted = {s.labels["error"]: s.value for s in refusals.samples if s.name.endswith("_total")}
    assert counted == {"unknown_site": 1, "malformed_payload": 1, "origin_not_allowed": 2}


EXAMPLE = "nowhere.example.com"
