"""Operational metrics for Prometheus: counts only, never anything personal.

Served at ``GET /metrics`` to a scraper holding ``AVOWAL_METRICS_TOKEN``; without the setting the
route answers 404, as if it did not exist. Each application has its own registry
(``app.state.metrics``, made by :class:`Metrics`), never prometheus-client's global one, so two
applications in one process count apart.

Requests are counted by route template (``/v1/subjects/{subject_id}/data``), method and status;
refusals by their error code; the analytics ingest's queue and group-commit sizes are read from
its batcher. The outbox, the cases, the audit chain and the worker's heartbeats
(runs and failures by job) are read from the database at each scrape. No label holds a path, a
query string, an id, a token or a value sent: only names from the code (route templates, error
codes, outbox statuses, job names) and HTTP methods and statuses.
"""

from __future__ import annotations

import contextlib
import hmac
import itertools
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import values as prometheus_values
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from avowal.analytics.batcher import BATCH_BOUNDS, GroupCommit
from avowal.analytics.service import Analytics
from avowal.audit import service as audit
from avowal.lib import clock, errors, logs, problems
from avowal.lib.deps import SettingsDep
from avowal.lib.errors import AvowalError
from avowal.mail import service as mail
from avowal.mail.models import OutboxMessage
from avowal.ops import heartbeat, jobs
from avowal.rights import cases

router = APIRouter(tags=["service"])

CONTENT_TYPE = CONTENT_TYPE_LATEST
# prometheus-client's switch to counting in files, which several processes share; read when it is
# first imported, so it must be set before a server process starts (see across_processes).
SHARED_ENV = "PROMETHEUS_MULTIPROC_DIR"


class MetricsNotEnabled(AvowalError):
    status_code = 404
    error = "not_found"


class MetricsTokenRefused(AvowalError):
    status_code = 401
    error = "not_authenticated"
    headers = {"WWW-Authenticate": "Bearer"}  # noqa: RUF012 - one constant for all


@dataclass(frozen=True)
class Figures:
    """What the database holds at a scrape: outbox by status, the oldest wait, cases, audit."""

    mail: dict[str, int]
    oldest_queued_seconds: float
    cases_open: int
    cases_overdue: int
    audit_entries: int
    # Each job's heartbeat and passes, and the age of its heartbeat at the scrape (in seconds).
    workers: dict[str, tuple[heartbeat.Heartbeat, float]]


def read_figures(session: Session) -> Figures:
    """Read the figures: the mail outbox by status, how long the oldest queued one waits,
    people's open and overdue cases, the audit chain's length, and the worker's heartbeats."""
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
    now = clock.now()
    waiting = (now - clock.aware(oldest)).total_seconds() if oldest is not None else 0.0
    held = cases.counts(session)
    # The head's sequence number: every append advances it, in the append's transaction.
    entries, _ = audit.head(session)
    workers = {job: (beat, beat.age(now)) for job, beat in heartbeat.read(session).items()}
    return Figures(counts, max(waiting, 0.0), held.open, held.overdue, entries, workers)


class DatabaseFigures(Collector):
    """The gauges read from the database when scraped (one read-only session a scrape)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def describe(self) -> Iterator[Metric]:
        """Name the families without reading the database (the registry checks for clashes)."""
        return self._families(None)

    def collect(self) -> Iterator[Metric]:
        """Read the figures and return them as gauge families."""
        with self.sessions() as session:
            figures = read_figures(session)
        return self._families(figures)

    @staticmethod
    def _families(figures: Figures | None) -> Iterator[Metric]:
        mail_messages = GaugeMetricFamily(
            "avowal_mail_messages",
            "Messages in the outbox by status; failed ones need an operator (avowal mail retry).",
            labels=["status"],
        )
        oldest = GaugeMetricFamily(
            "avowal_mail_oldest_queued_seconds",
            "How long the oldest queued message has waited (0 when none is queued).",
        )
        cases_open = GaugeMetricFamily(
            "avowal_cases_open", "People's questions and rights requests not yet answered."
        )
        overdue = GaugeMetricFamily(
            "avowal_cases_overdue",
            "Open questions and requests past their due date (a month, or as extended).",
        )
        chain = GaugeMetricFamily(
            "avowal_audit_chain_length", "Entries in the audit chain (its head's sequence number)."
        )
        runs = CounterMetricFamily(
            "avowal_worker_runs",
            "Passes the worker's jobs finished (in the servers on SQLite, in `avowal worker` on "
            "PostgreSQL), by job.",
            labels=["job"],
        )
        failures = CounterMetricFamily(
            "avowal_worker_failures",
            "Passes that raised, or (analytics) could not roll up or purge some site, by job.",
            labels=["job"],
        )
        age = GaugeMetricFamily(
            "avowal_worker_heartbeat_age_seconds",
            "Seconds since each job last started or finished a pass (absent: never ran).",
            labels=["job"],
        )
        if figures is not None:
            for job in jobs.JOBS:
                found = figures.workers.get(job.name)
                runs.add_metric([job.name], found[0].runs if found else 0)
                failures.add_metric([job.name], found[0].failures if found else 0)
                if found is not None:
                    age.add_metric([job.name], found[1])
            for status, n in figures.mail.items():
                mail_messages.add_metric([status], n)
            oldest.add_metric([], figures.oldest_queued_seconds)
            cases_open.add_metric([], figures.cases_open)
            overdue.add_metric([], figures.cases_overdue)
            chain.add_metric([], figures.audit_entries)
        yield from (mail_messages, oldest, cases_open, overdue, chain, runs, failures, age)


class IngestFigures(Collector):
    """The analytics ingest's queue and the sizes of its group commits, read when scraped from
    the application's :class:`~avowal.analytics.batcher.GroupCommit` (nothing per event)."""

    def __init__(self) -> None:
        self.batcher: GroupCommit[Any] | None = None

    def describe(self) -> Iterator[Metric]:
        """Name the families."""
        return self._families(None)

    def collect(self) -> Iterator[Metric]:
        """Read the queue's length and the batch sizes counted so far."""
        return self._families(self.batcher)

    @staticmethod
    def _families(batcher: GroupCommit[Any] | None) -> Iterator[Metric]:
        queued = GaugeMetricFamily(
            "avowal_analytics_ingest_queued",
            "Analytics events' requests waiting to join a group commit in this process.",
        )
        sizes = HistogramMetricFamily(
            "avowal_analytics_batch_events",
            "Events each committed ingest transaction (group commit) held, in this process.",
        )
        if batcher is not None:
            queued.add_metric([], batcher.waiting)
            counts, events = list(batcher.sizes.buckets), batcher.sizes.events
            cumulative = list(itertools.accumulate(counts))
            bounds = [str(float(b)) for b in BATCH_BOUNDS] + ["+Inf"]
            sizes.add_metric([], list(zip(bounds, cumulative, strict=True)), events)
        yield from (queued, sizes)


class Metrics:
    """One application's registry: requests and refusals counted as they are answered, and the
    database's figures read at each scrape."""

    def __init__(self, read_sessions: sessionmaker[Session]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter(
            "avowal_http_requests",
            "Requests answered, by route template (never the path), method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.durations = Histogram(
            "avowal_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by route template and method.",
            ["route", "method"],
            registry=self.registry,
        )
        self.refusals = Counter(
            "avowal_refusals",
            "Answers with an avowal error body, by error code (e.g. purpose_not_allowed).",
            ["error"],
            registry=self.registry,
        )
        self.database = DatabaseFigures(read_sessions)
        self.registry.register(self.database)
        self.ingest = IngestFigures()
        self.registry.register(self.ingest)

    def refused(self, error: str) -> None:
        """Count one answer carrying the error code ``error``."""
        self.refusals.labels(error).inc()

    def answered(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one request answered, and how long it took."""
        self.requests.labels(route, method, str(status)).inc()
        self.durations.labels(route, method).observe(seconds)

    def exposition(self, ingest: GroupCommit[Any] | None = None) -> bytes:
        """Return every family in the Prometheus text format (reading the database, and the
        analytics ingest's group commit ``ingest``)."""
        self.ingest.batcher = ingest
        shared = shared_folder()
        if shared is None:
            return generate_latest(self.registry)
        # Several server processes: every process's requests and refusals, summed from their
        # files, beside this process's ingest figures and the database's.
        registry = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(registry, path=shared)  # type: ignore[no-untyped-call]
        registry.register(self.database)
        registry.register(self.ingest)
        return generate_latest(registry)


def shared_folder() -> str | None:
    """Return the folder where the server processes count their requests, if they count in
    files (``avowal serve --workers N``), else None (each application counts in memory)."""
    path = os.environ.get(SHARED_ENV)
    if not path or prometheus_values.ValueClass is prometheus_values.MutexValue:
        return None
    return path


@contextlib.contextmanager
def across_processes(data_dir: Path) -> Iterator[Path]:
    """Have the server processes started meanwhile count requests in files of one folder, made
    for this run under ``data_dir/metrics`` and removed at its end, so that a scrape of any of
    them reports them all (prometheus-client's multiprocess mode)."""
    parent = data_dir / "metrics"
    parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="serve-", dir=parent))
    before = os.environ.get(SHARED_ENV)
    os.environ[SHARED_ENV] = str(folder)
    try:
        yield folder
    finally:
        if before is None:
            os.environ.pop(SHARED_ENV, None)
        else:
            os.environ[SHARED_ENV] = before
        shutil.rmtree(folder, ignore_errors=True)


class RequestMetrics:
    """ASGI middleware counting each request by route template, method and status, timing it,
    and handing the refusal counter to :mod:`avowal.lib.errors` (through the scope).

    Installed outermost, so refusals answered by other middlewares are counted too.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.templates = logs.RouteTemplates(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        scope[errors.REFUSALS] = self.metrics.refused
        route = self.templates(scope)
        status = 500  # unless an answer starts: an exception escaping is a failure

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.answered(
                route, logs.method_of(scope), status, time.perf_counter() - started
            )


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
    request: Request,
    settings: SettingsDep,
    authorization: str | None = Header(None, include_in_schema=False),
) -> Response:
    """Report operational counts for a Prometheus scraper holding the metrics token."""
    expected = settings.metrics_token
    if expected is None:
        raise MetricsNotEnabled("no metrics here: set AVOWAL_METRICS_TOKEN to serve them")
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise MetricsTokenRefused("send the metrics token as `Authorization: Bearer TOKEN`")
    registry: Metrics = request.app.state.metrics
    analytics: Analytics = request.app.state.analytics
    return Response(registry.exposition(analytics.batcher), media_type=CONTENT_TYPE)
