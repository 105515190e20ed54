"""GET /metrics: operational counts for a scraper holding the token, 404 without the setting."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from avowal.app import create_app
from avowal.db.engine import make_sessionmaker
from avowal.lib import clock
from avowal.mail.models import OutboxMessage
from avowal.settings import Settings

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
