"""Operational metrics in the Prometheus text format: counts only, never anything personal.

Served at ``GET /metrics`` to a scraper holding ``AVOWAL_METRICS_TOKEN``; without the setting the
route answers 404, as if it did not exist.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import APIRouter, Header
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from avowal.lib import clock, problems
from avowal.lib.deps import ReadSessionDep, SettingsDep
from avowal.lib.errors import AvowalError
from avowal.mail import service as mail
from avowal.mail.models import OutboxMessage
from avowal.rights import cases

router = APIRouter(tags=["service"])

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class MetricsNotEnabled(AvowalError):
    status_code = 404
    error = "not_found"


class MetricsTokenRefused(AvowalError):
    status_code = 401
    error = "not_authenticated"
    headers = {"WWW-Authenticate": "Bearer"}  # noqa: RUF012 - one constant for all


@dataclass(frozen=True)
class Metric:
    """One metric family: its name, help text, type and samples (labels, value)."""

    name: str
    help: str
    kind: str
    samples: list[tuple[dict[str, str], float]]

    def render(self) -> str:
        """Write the family in the Prometheus text exposition format."""
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]
        for labels, value in self.samples:
            inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            lines.append(f"{self.name}{{{inner}}} {value:g}" if inner else f"{self.name} {value:g}")
        return "\n".join(lines)


def collect(session: Session) -> list[Metric]:
    """Read the figures: the mail outbox by status, how long the oldest queued one waits, and
    people's open and overdue cases."""
    counts = dict.fromkeys(mail.STATUSES, 0)
    counts.update(
        {
            status: int(n)
            for status, n in session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            )
        }
    )
    oldest = session.scalar(
        select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status == "queued")
    )
    waiting = (clock.now() - clock.aware(oldest)).total_seconds() if oldest is not None else 0.0
    held = cases.counts(session)
    return [
        Metric(
            "avowal_mail_messages",
            "Messages in the outbox by status; failed ones need an operator (avowal mail retry).",
            "gauge",
            [({"status": status}, float(n)) for status, n in counts.items()],
        ),
        Metric(
            "avowal_mail_oldest_queued_seconds",
            "How long the oldest queued message has waited (0 when none is queued).",
            "gauge",
            [({}, max(waiting, 0.0))],
        ),
        Metric(
            "avowal_cases_open",
            "People's questions and rights requests not yet answered.",
            "gauge",
            [({}, float(held.open))],
        ),
        Metric(
            "avowal_cases_overdue",
            "Open questions and requests past their due date (a month, or as extended).",
            "gauge",
            [({}, float(held.overdue))],
        ),
    ]


@router.get(
    "/metrics",
    # A bare Response class: the text/plain of the 200 is declared here, not on the errors.
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        **problems.responses(401, 404, 503),
    },
)
def metrics(
    settings: SettingsDep,
    session: ReadSessionDep,
    authorization: str | None = Header(None, include_in_schema=False),
) -> PlainTextResponse:
    """Report operational counts for a Prometheus scraper holding the metrics token."""
    expected = settings.metrics_token
    if expected is None:
        raise MetricsNotEnabled("no metrics here: set AVOWAL_METRICS_TOKEN to serve them")
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise MetricsTokenRefused("send the metrics token as `Authorization: Bearer TOKEN`")
    body = "\n".join(m.render() for m in collect(session)) + "\n"
    return PlainTextResponse(body, media_type=CONTENT_TYPE)
