"""The analytics ingest of one server process: sites, group commit, salts' destruction."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from avowal.analytics import geo, ingest, salts, sites, store, useragent, writer
from avowal.analytics.batcher import GroupCommit
from avowal.analytics.clickhouse import events as clickhouse_events
from avowal.analytics.exceptions import AnalyticsDisabled, UnknownSite
from avowal.analytics.ingest import PendingEvent
from avowal.analytics.schemas import EventAccepted
from avowal.db.engine import purge_wal
from avowal.lib import clock
from avowal.policy.schemas import Policy
from avowal.settings import Settings

log = logging.getLogger(__name__)
HOUSEKEEPING_SECONDS = 600.0


class Analytics:
    """Accept events for the declared sites and commit them in groups."""

    def __init__(
        self,
        settings: Settings,
        policy: Policy,
        engine: Engine,
        sessions: sessionmaker[Session],
    ) -> None:
        self.policy = policy
        self.engine = engine
        self.sessions = sessions
        self.registry = sites.SiteRegistry(sessions, policy)
        self.batcher: GroupCommit[PendingEvent] = GroupCommit(
            self._write, settings.analytics_max_batch
        )
        # The group commits' database work, in a process of its own (see analytics.writer).
        self.writer = writer.WriterProcess(settings) if writer.uses_process(settings) else None
        # Where the events go when they are kept in ClickHouse (None: the database).
        self.clickhouse = clickhouse_events.of(settings)
        self.countries = geo.open_countries(settings.geoip_file)
        self.clock: Callable[[], dt.datetime] = clock.now
        public = urlsplit(settings.public_url)
        self.own_origin = f"{public.scheme}://{public.netloc}"
        self._housekeeping: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Sync the policy's sites, load the parser, start the writer and the salt destroyer."""
        await asyncio.to_thread(self._prepare)
        if self.writer is not None:
            await self.writer.start()
            self.batcher.write_async = self._write_through_process
        await self.batcher.start()
        self._housekeeping = asyncio.create_task(self._housekeep(), name="analytics-salts")

    async def stop(self) -> None:
        """Commit what was submitted, then stop."""
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeping
            self._housekeeping = None
        await self.batcher.stop()
        if self.writer is not None:
            await self.writer.stop()
            self.batcher.write_async = None
        if self.countries is not None:
            self.countries.close()

    def _prepare(self) -> None:
        with self.sessions() as session, session.begin():
            sites.sync_policy_sites(session, self.policy, self.clock())
        self.registry.load()
        useragent.warm_up()

    def _write(self, events: Sequence[PendingEvent]) -> None:
        with self.sessions() as session, session.begin():
            store.write_events(session, events, self.clock(), clickhouse=self.clickhouse)

    async def _write_through_process(self, events: Sequence[PendingEvent]) -> None:
        assert self.writer is not None
        await self.writer.write(events, self.clock())

    async def _housekeep(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.destroy_expired_salts)
            except Exception as exc:
                log.error("expired analytics salts not destroyed: %s", type(exc).__name__)
            await asyncio.sleep(HOUSEKEEPING_SECONDS)

    def destroy_expired_salts(self) -> int:
        """Delete the salts older than 48 hours (and SQLite's old copies of them)."""
        with self.sessions() as session, session.begin():
            destroyed = salts.destroy_expired(session, self.clock())
        if destroyed:
            purge_wal(self.engine)
        return destroyed

    async def ingest(self, body: bytes, ip: str, user_agent: str) -> EventAccepted:
        """Validate, reduce and commit one event; return once it is committed."""
        if not self.policy.analytics.enabled:
            raise AnalyticsDisabled(
                "the privacy policy does not enable analytics, so no page view is counted",
                promise="analytics happen only as the policy's analytics section declares",
            )
        event = ingest.parse_payload(body)
        domains = event.domain.split(",")
        targets = await self.registry.find(domains)
        if not targets:
            domain = ingest.clean(event.domain[:253])
            raise UnknownSite(
                f"no site {domain!r} is counted here: declare it in the policy's "
                "analytics section or add it with `avowal analytics site add`",
                domain=domain,
            )
        pending = ingest.build(event, targets, ip=ip, user_agent=user_agent, now=self.clock())
        # Like Plausible, bots get a 202 too (retrying would gain them nothing); nothing is kept.
        agent = useragent.classify(user_agent)
        if agent is None:
            return EventAccepted(stored=0, dropped="bot")
        if not pending:
            return EventAccepted(stored=0, dropped="excluded")
        country = self.countries.country(ip) if self.countries is not None else None
        for event_row in pending:
            event_row.describe(agent, country)
        await self.batcher.submit(pending)
        return EventAccepted(stored=len(pending))

    def allowed_origin(self, origin: str | None) -> str | None:
        """Return ``origin`` if pages there may send events (a counted site, or this server)."""
        if not origin or origin == "null":
            return None
        if origin == self.own_origin:
            return origin
        try:
            parts = urlsplit(origin)
            host = parts.hostname
        except ValueError:
            return None
        if parts.scheme not in ("http", "https") or not host or parts.path:
            return None
        return origin if self.registry.allows_origin_host(host) else None
