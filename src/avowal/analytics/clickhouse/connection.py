"""Where ClickHouse analytics live: ``AVOWAL_ANALYTICS_URL``, checked, then connected.

Accepted addresses:

- ``clickhouse://user:password@host:8123/database`` (HTTP) and ``clickhouses://...`` or
  ``https://...`` (HTTPS), a ClickHouse server through ``clickhouse-connect``;
- ``chdb:///absolute/folder?database=name``, ClickHouse's engine embedded in this process (the
  ``chdb`` package): what the test suite runs on. One process only may open a folder, so a
  server on chdb writes its events from a thread (never a writer process) and runs the worker
  itself; a site with several server processes uses a ClickHouse server.

The database is created when missing. The address may hold a password: it is never logged nor
shown, only :func:`describe`'s form without it.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from avowal.lib.errors import AvowalError

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

HTTP_SCHEMES = {"clickhouse": False, "http": False, "clickhouses": True, "https": True}
EMBEDDED = "chdb"
DEFAULT_DATABASE = "avowal"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class InvalidAnalyticsUrl(AvowalError, ValueError):
    """``AVOWAL_ANALYTICS_URL`` is not an address avowal can store analytics at."""

    status_code = 500
    error = "invalid_analytics_url"


@dataclass(frozen=True)
class Target:
    """A checked ClickHouse address."""

    scheme: str
    database: str
    host: str | None = None
    port: int | None = None
    username: str | None = None
    password: str | None = None
    path: str | None = None  # chdb: the folder

    @property
    def embedded(self) -> bool:
        """Tell whether the engine runs in this process (chdb)."""
        return self.scheme == EMBEDDED

    def describe(self) -> str:
        """Return the address without its password (for messages and logs)."""
        if self.embedded:
            return f"chdb://{self.path}?database={self.database}"
        user = f"{self.username}@" if self.username else ""
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}://{user}{self.host}{port}/{self.database}"


def parse(url: str) -> Target:
    """Check ``url`` and return its parts; raise :class:`InvalidAnalyticsUrl` naming the fault."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidAnalyticsUrl(f"AVOWAL_ANALYTICS_URL is not a URL: {exc}") from None
    scheme = parts.scheme.lower()
    query = parse_qs(parts.query)
    if scheme == EMBEDDED:
        if parts.netloc or not parts.path.startswith("/"):
            raise InvalidAnalyticsUrl(
                "AVOWAL_ANALYTICS_URL: a chdb address names an absolute folder, "
                "as chdb:///var/lib/avowal/clickhouse"
            )
        database = query.get("database", [DEFAULT_DATABASE])[0]
        return Target(EMBEDDED, _database(database), path=unquote(parts.path))
    if scheme not in HTTP_SCHEMES:
        raise InvalidAnalyticsUrl(
            f"AVOWAL_ANALYTICS_URL: unknown scheme {scheme!r}; use clickhouse://, clickhouses://, "
            "https:// or chdb://"
        )
    if not parts.hostname:
        raise InvalidAnalyticsUrl("AVOWAL_ANALYTICS_URL names no host")
    database = unquote(parts.path.strip("/")) or DEFAULT_DATABASE
    return Target(
        scheme,
        _database(database),
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def _database(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidAnalyticsUrl(
            f"AVOWAL_ANALYTICS_URL: the database name {name!r} must be letters, digits and "
            "underscores, starting with a letter or an underscore"
        )
    return name


_lock = threading.Lock()


def connect(target: Target) -> Client:
    """Return a client of ``target``'s database, creating the database when missing."""
    with _lock:  # chdb opens its engine once per process; two threads must not race to it
        _client(target, None).command(f"CREATE DATABASE IF NOT EXISTS {target.database}")
        return _client(target, target.database)


def _client(target: Target, database: str | None) -> Client:
    import clickhouse_connect

    if target.embedded:
        return clickhouse_connect.get_client(
            interface=EMBEDDED, path=target.path, database=database
        )
    secure = HTTP_SCHEMES[target.scheme]
    return clickhouse_connect.get_client(
        host=target.host,
        port=target.port or (8443 if secure else 8123),
        username=target.username or "default",
        password=target.password or "",
        secure=secure,
        database=database or "default",
    )
