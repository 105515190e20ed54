"""`POST /api/event`: Plausible's payload and the tracker's, scrubbed and hashed; nothing that
identifies anyone is kept."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from avowal.analytics import salts, sites, tracker
from avowal.analytics.models import Salt, ScrubCounter
from avowal.app import create_app
from avowal.db.base import Base
from avowal.db.engine import purge_wal
from avowal.policy.loader import LoadedPolicy, load_file
from avowal.policy.schemas import AnalyticsSite
from avowal.settings import Settings
from tests.integration.analytics.stores import BOTH_STORES, Rows

SITE = "www.contactmonkey.com"
ORIGIN = f"https://{SITE}"
FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
GEOIP = Path(__file__).resolve().parents[2] / "data" / "geoip" / "GeoIP2-Country-Test.mmdb"
NOON = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)

# What is kept of each event, with the events in the database and in ClickHouse.
pytestmark = BOTH_STORES


def send(
    client: TestClient,
    payload: Any,
    *,
    ua: str = FIREFOX,
    content_type: str = "application/json",
    **headers: str,
) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post(
        "/api/event",
        content=body,
        headers={"Content-Type": content_type, "User-Agent": ua, **headers},
    )


def pageview(path: str = "/", **extra: Any) -> dict[str, Any]:
    return {"name": "pageview", "url": f"https://{SITE}{path}", "domain": SITE, **extra}


def one(stored: Rows) -> Any:
    rows = stored()
    assert len(rows) == 1, rows
    return rows[0]


def scrubbed(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(ScrubCounter.kind, ScrubCounter.count)).all()
    return {str(kind): int(count) for kind, count in rows}


@pytest.fixture
def clock(app: FastAPI) -> Iterator[list[dt.datetime]]:
    """Freeze the ingest clock at noon; tests replace ``clock[0]`` to move it."""
    now = [NOON]
    app.state.analytics.clock = lambda: now[0]
    yield now


def proxied_app(settings: Settings, engine: Engine, **overrides: Any) -> FastAPI:
    update = {"trusted_proxies": ["10.0.0.0/8"], **overrides}
    return create_app(settings.model_copy(update=update), engine=engine)


# --- Plausible compatibility and the tracker's short names -----------------------------------


def test_plausible_events_api_payload_is_stored_reduced(
    client: TestClient, engine: Engine, clock: list[dt.datetime], stored: Rows
) -> None:
    response = send(
        client,
        {
            "name": "Signup",
            "url": f"https://{SITE}/pricing?plan=pro#faq",
            "domain": SITE,
            "referrer": "https://news.ycombinator.com/item?id=4242",
            "props": {"plan": "pro", "seats": 3, "annual": True, "skipped": None},
            "revenue": {"currency": "EUR", "amount": 10},
            "interactive": True,
        },
        ua=IPHONE,
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"stored": 1}
    row = one(stored)
    assert row["name"] == "Signup"
    assert row["path"] == "/pricing"
    assert (row["referrer_domain"], row["source"]) == ("news.ycombinator.com", "Hacker News")
    assert (row["browser"], row["os"], row["device"]) == ("Mobile Safari", "iOS", "mobile")
    assert row["country"] is None  # no GeoIP file configured
    assert row["props"] == {"plan": "pro", "seats": "3", "annual": "true"}
    assert row["day"] == NOON.date()
    assert isinstance(row["visitor"], int)
    assert all(row[f"utm_{k}"] is None for k in ("source", "medium", "campaign", "term", "content"))


def test_tracker_short_names_as_text_plain(
    client: TestClient, engine: Engine, stored: Rows
) -> None:
    payload = {
        "n": "pageview",
        "u": f"https://{SITE}/blog/hello",
        "d": SITE,
        "r": None,
        "p": json.dumps({"author": "ada"}),  # old scripts send props as a JSON string
    }
    response = send(client, payload, content_type="text/plain;charset=UTF-8")
    assert response.status_code == 202, response.text
    row = one(stored)
    assert (row["name"], row["path"], row["referrer_domain"]) == ("pageview", "/blog/hello", None)
    assert row["props"] == {"author": "ada"}
    assert (row["browser"], row["os"], row["device"]) == ("Firefox", "Ubuntu", "desktop")


def test_hash_routing_keeps_the_fragment_path(
    client: TestClient, engine: Engine, stored: Rows
) -> None:
    send(client, {"n": "pageview", "u": f"https://{SITE}/app#/settings?tab=2", "d": SITE, "h": 1})
    assert one(stored)["path"] == "/app#/settings"


def test_query_string_is_removed_except_utm_parameters(
    client: TestClient, engine: Engine, stored: Rows
) -> None:
    url = (
        "/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=spring"
        "&utm_term=privacy&utm_content=button&q=ada%40example.com&session=abc123&ref=x#top"
    )
    assert send(client, pageview(url)).status_code == 202
    row = one(stored)
    assert row["path"] == "/pricing"
    assert (row["utm_source"], row["utm_medium"], row["utm_campaign"]) == (
        "newsletter",
        "email",
        "spring",
    )
    assert (row["utm_term"], row["utm_content"]) == ("privacy", "button")
    assert row["source"] == "newsletter"  # utm_source names the source
    # The dropped parameters were never looked at, so nothing was scrubbed from them.
    assert scrubbed(engine) == {}


@pytest.mark.parametrize(
    ("referrer", "domain", "source"),
    [
        ("https://www.google.com/search?q=ada%40example.com", "google.com", "Google"),
        ("https://github.com/ada/secret-repo/issues/1", "github.com", "GitHub"),
        ("https://blog.example.org/u/ada@example.com/", "blog.example.org", "blog.example.org"),
        (f"https://{SITE}/previous-page", None, None),  # a page of the site itself
        ("https://contactmonkey.com/", None, None),  # ... with or without www.
    ],
)  # fmt: skip
def test_referrer_is_kept_as_its_domain_and_source(
    client: TestClient,
    engine: Engine,
    referrer: str,
    domain: str | None,
    source: str | None,
    stored: Rows,
) -> None:
    assert send(client, pageview("/", referrer=referrer)).status_code == 202
    row = one(stored)
    assert (row["referrer_domain"], row["source"]) == (domain, source)
    everything = json.dumps({k: str(v) for k, v in row.items()})
    assert "ada" not in everything and "search" not in everything


def test_identifiers_in_paths_and_props_are_scrubbed_and_counted(
    client: TestClient, engine: Engine, clock: list[dt.datetime], stored: Rows
) -> None:
    path = (
        "/users/ada%40example.com/call/555-0123/pay/4242424242424242/reset/aB3dE5fG7hJ9kL1mN3pQ7r"
    )
    props = {
        "contact": "write to grace@example.com or call +1 555 010 0199",
        "card": "4242 4242 4242 4242",
        "order": "123e4567-e89b-12d3-a456-426614174000",
        "plan": "pro",
    }
    assert send(client, pageview(path, props=props, name="Buy 555-0100")).status_code == 202
    row = one(stored)
    assert row["path"] == "/users/:email/call/:phone/pay/:card/reset/:token"
    assert row["props"] == {
        "contact": "write to :email or call :phone",
        "card": ":card",
        "order": ":id",
        "plan": "pro",
    }
    assert row["name"] == "Buy :phone"
    assert scrubbed(engine) == {"email": 2, "phone": 3, "card": 2, "token": 1, "id": 1}
    with engine.connect() as conn:
        assert conn.execute(select(ScrubCounter.day, ScrubCounter.site_id).distinct()).all() == [
            (NOON.date(), row["site_id"])
        ]
    # A second event adds to the day's counters.
    assert send(client, pageview("/u/ada@example.com")).status_code == 202
    assert scrubbed(engine)["email"] == 3


# --- bots, refusals ----------------------------------------------------------------------------

BOTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.0.0 Safari/537.36",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "",
]


@pytest.mark.parametrize("ua", BOTS)
def test_bots_are_answered_but_not_stored(
    client: TestClient, engine: Engine, ua: str, stored: Rows
) -> None:
    response = send(client, pageview("/"), ua=ua)
    assert response.status_code == 202
    assert response.json() == {"stored": 0, "dropped": "bot"}
    assert len(stored()) == 0


JSON = "application/json"
TEXT = "text/plain"
HUGE_PROPS = {f"p{i}": "y" * 1900 for i in range(5)}
REFUSALS = [
    (pageview("/", domain="unknown.example.com"), JSON, 404, "unknown_site"),
    (b'{"name": "pageview", "url": ', JSON, 400, "malformed_payload"),
    (b"[1, 2]", TEXT, 400, "malformed_payload"),
    (b"", TEXT, 400, "malformed_payload"),
    ({"name": "pageview", "domain": SITE}, JSON, 400, "invalid_event"),
    (pageview("/", url="ftp://example.com/x"), JSON, 400, "invalid_event"),
    (pageview("/", url="javascript:alert(1)"), JSON, 400, "invalid_event"),
    (pageview("/", name="x" * 121), JSON, 400, "invalid_event"),
    (pageview("/", name="   "), JSON, 400, "invalid_event"),
    (pageview("/", props="[1]"), JSON, 400, "invalid_event"),
    # Too many props, nested or long values are dropped, the event kept: test_plausible_events.
    (pageview("/"), "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    (pageview("/"), "", 415, "unsupported_media_type"),
    (pageview("/", props=HUGE_PROPS), JSON, 413, "payload_too_large"),
]


@pytest.mark.parametrize(("payload", "content_type", "status", "error"), REFUSALS)
def test_refusals_store_nothing(
    client: TestClient,
    engine: Engine,
    payload: Any,
    content_type: str,
    status: int,
    error: str,
    stored: Rows,
) -> None:
    for ua in (FIREFOX, BOTS[0]):  # a bot is refused the same way
        response = send(client, payload, content_type=content_type, ua=ua)
        assert response.status_code == status, response.text
        assert response.json()["error"] == error
    assert len(stored()) == 0
    assert scrubbed(engine) == {}


def test_a_streamed_body_over_the_limit_is_refused(
    client: TestClient, engine: Engine, stored: Rows
) -> None:
    chunks = iter([b'{"name": "pageview", "props": {"a": "', b"x" * 9000, b'"}}'])
    response = client.post(
        "/api/event", content=chunks, headers={"Content-Type": "text/plain", "User-Agent": FIREFOX}
    )
    assert response.status_code == 413
    assert len(stored()) == 0


def test_excluded_paths_and_extra_kept_parameters(
    settings: Settings, engine: Engine, tmp_path: Path, stored: Rows
) -> None:
    loaded = load_file(settings.policy_file)
    declared = [
        AnalyticsSite(domain=SITE, exclude_paths=["/admin/*"], keep_query_params=["utm_*", "page"]),
        AnalyticsSite(domain="shop.example.com"),
    ]
    policy = loaded.policy.model_copy(
        update={"analytics": loaded.policy.analytics.model_copy(update={"sites": declared})}
    )
    app = create_app(
        settings,
        engine=engine,
        policy=LoadedPolicy(policy, loaded.taxonomy, loaded.version_id, loaded.source),
    )
    with TestClient(app) as client:
        response = send(client, pageview("/admin/users"))
        assert response.json() == {"stored": 0, "dropped": "excluded"}
        # One event for two declared domains (Plausible's comma list): one row each, each with
        # its site's rules; an undeclared domain in the list is ignored.
        both = pageview("/admin/x?page=2&utm_source=a", domain=f"{SITE},shop.example.com,x.org")
        assert send(client, both).json() == {"stored": 1}
        both["url"] = f"https://{SITE}/list?page=2&utm_source=a&sort=asc"
        assert send(client, both).json() == {"stored": 2}
    rows = stored()
    assert [(r["path"], r["utm_source"]) for r in rows] == [
        ("/admin/x", "a"),
        ("/list?page=2", "a"),
        ("/list", "a"),
    ]
    assert len({r["site_id"] for r in rows}) == 2


def test_nothing_is_counted_when_the_policy_disables_analytics(
    settings: Settings, engine: Engine, stored: Rows
) -> None:
    loaded = load_file(settings.policy_file)
    off = loaded.policy.analytics.model_copy(update={"enabled": False})
    policy = loaded.policy.model_copy(update={"analytics": off})
    app = create_app(
        settings,
        engine=engine,
        policy=LoadedPolicy(policy, loaded.taxonomy, loaded.version_id, loaded.source),
    )
    with TestClient(app) as client:
        with app.state.sessionmaker() as session, session.begin():
            sites.add_site(session, "blog.example.com", NOON)
        response = send(client, pageview("/"))
        assert response.status_code == 403
        assert response.json()["error"] == "analytics_disabled"
        assert preflight(client, ORIGIN).status_code == 403
    assert len(stored()) == 0


def test_a_site_added_by_the_cli_is_accepted_without_a_restart(
    client: TestClient, app: FastAPI, engine: Engine
) -> None:
    payload = pageview("/", domain="blog.example.com", url="https://blog.example.com/")
    assert send(client, payload).json()["error"] == "unknown_site"
    with app.state.sessionmaker() as session, session.begin():
        sites.add_site(session, "blog.example.com", NOON)
    app.state.analytics.registry.loaded_at -= sites.MISS_REFRESH_SECONDS
    assert send(client, payload).json() == {"stored": 1}


# --- CORS ----------------------------------------------------------------------------------


def preflight(client: TestClient, origin: str) -> Any:
    return client.options(
        "/api/event",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )


@pytest.mark.parametrize(
    "origin", [ORIGIN, "http://www.contactmonkey.com", "https://contactmonkey.com"]
)
def test_preflight_is_allowed_for_declared_sites(client: TestClient, origin: str) -> None:
    response = preflight(client, origin)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == origin
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "Content-Type" in response.headers["access-control-allow-headers"]
    assert response.headers["vary"] == "Origin"
    post = send(client, pageview("/"), Origin=origin)
    assert post.status_code == 202
    assert post.headers["access-control-allow-origin"] == origin


@pytest.mark.parametrize(
    "origin", ["https://evil.example.com", "https://www.contactmonkey.com.evil.example", "null"]
)
def test_other_origins_get_no_cors_headers(client: TestClient, origin: str) -> None:
    response = preflight(client, origin)
    assert response.status_code == 403
    assert response.json()["error"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in response.headers
    post = send(client, pageview("/"), Origin=origin)
    assert "access-control-allow-origin" not in post.headers


# --- visitors: trusted proxies, salts, nothing identifying ----------------------------------


def visitors(stored: Rows) -> list[int]:
    return [r["visitor"] for r in stored()]


def test_forwarded_for_counts_only_from_a_trusted_proxy(
    settings: Settings, engine: Engine, stored: Rows
) -> None:
    app = proxied_app(settings, engine)
    with TestClient(app, client=("10.0.0.1", 4000)) as proxy:
        app.state.analytics.clock = lambda: NOON
        for ip in ("198.51.100.1", "198.51.100.2", "198.51.100.1"):
            send(proxy, pageview("/"), **{"X-Forwarded-For": ip})
        send(proxy, pageview("/"))  # no header: the proxy itself
    a, b, a_again, proxy_itself = visitors(stored)
    assert a == a_again
    assert len({a, b, proxy_itself}) == 3
    with TestClient(app, client=("203.0.113.5", 4000)) as direct:
        app.state.analytics.clock = lambda: NOON
        for ip in ("198.51.100.1", "198.51.100.2"):
            send(direct, pageview("/"), **{"X-Forwarded-For": ip})
    forged_a, forged_b = visitors(stored)[4:]
    assert forged_a == forged_b  # both are 203.0.113.5
    assert forged_a not in (a, b)


def test_same_visitor_same_day_same_hash_next_day_another(
    client: TestClient, engine: Engine, clock: list[dt.datetime], stored: Rows
) -> None:
    send(client, pageview("/"))
    clock[0] = NOON + dt.timedelta(hours=11, minutes=59)
    send(client, pageview("/next"))
    send(client, pageview("/"), ua=IPHONE)  # another visitor
    clock[0] = NOON + dt.timedelta(hours=12)  # midnight UTC: a new day, a new salt
    send(client, pageview("/"))
    first, same_day, other, next_day = visitors(stored)
    assert first == same_day
    assert len({first, other, next_day}) == 3
    with engine.connect() as conn:
        assert conn.scalars(select(Salt.day).order_by(Salt.day)).all() == [
            NOON.date(),
            NOON.date() + dt.timedelta(days=1),
        ]


def test_salts_are_destroyed_48_hours_after_their_day_began(
    client: TestClient, app: FastAPI, engine: Engine, clock: list[dt.datetime]
) -> None:
    day = NOON.date()
    send(client, pageview("/"))
    clock[0] = NOON + dt.timedelta(days=1)
    send(client, pageview("/"))

    def kept() -> list[dt.date]:
        with engine.connect() as conn:
            return list(conn.scalars(select(Salt.day).order_by(Salt.day)))

    midnight = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    clock[0] = midnight + dt.timedelta(hours=48) - dt.timedelta(seconds=1)
    assert app.state.analytics.destroy_expired_salts() == 0
    assert kept() == [day, day + dt.timedelta(days=1)]
    clock[0] = midnight + dt.timedelta(hours=48)
    assert app.state.analytics.destroy_expired_salts() == 1
    assert kept() == [day + dt.timedelta(days=1)]
    with app.state.sessionmaker() as session, session.begin():
        assert salts.destroy_expired(session, midnight + dt.timedelta(hours=72)) == 1
    assert kept() == []


def test_two_writers_creating_the_days_salt_agree(app: FastAPI) -> None:
    day = NOON.date()
    with app.state.sessionmaker() as first, first.begin():
        salt = salts.salt_for(first, day, NOON)
    with app.state.sessionmaker() as second, second.begin():
        assert salts.salt_for(second, day, NOON) == salt
    assert len(salt) == 32


def test_no_ip_and_no_user_agent_anywhere(settings: Settings, engine: Engine, stored: Rows) -> None:
    ip = "198.51.100.77"
    ua = FIREFOX.replace("rv:128.0", "rv:128.7").replace("Firefox/128.0", "Firefox/128.7")
    app = proxied_app(settings, engine, geoip_file=GEOIP)
    with TestClient(app, client=("10.0.0.1", 4000)) as proxy:
        for i in range(3):
            payload = pageview(f"/p{i}?utm_source=a", referrer="https://example.org/a/b?c=d")
            assert send(proxy, payload, ua=ua, **{"X-Forwarded-For": ip}).status_code == 202
        # A country is kept as its code only (MaxMind's test database: 81.2.69.160 is GB).
        send(proxy, pageview("/uk"), ua=ua, **{"X-Forwarded-For": "81.2.69.160"})
    kept = stored()
    assert [r["country"] for r in kept] == [None, None, None, "GB"]
    needles = [ip, "81.2.69.160", ua, "128.7", "Gecko", "/a/b", "c=d"]
    # The events as kept (in ClickHouse, when they are kept there)...
    for row in kept:
        for value in row.values():
            assert not any(needle in str(value) for needle in needles), value
    # ... and every analytics table of the database.
    tables = [t for t in Base.metadata.sorted_tables if t.name.startswith("analytics_")]
    assert {t.name for t in tables} >= {"analytics_events", "analytics_salts", "analytics_sites"}
    with engine.connect() as conn:
        for table in tables:
            for row in conn.execute(select(table)):
                for value in row:
                    as_text = value.hex() if isinstance(value, bytes) else str(value)
                    for needle in needles:
                        assert needle not in as_text, (table.name, value)
    # The raw database too (SQLite keeps every table in one file), once the log is folded in:
    # outside any transaction, which every connection of the engine now begins itself.
    purge_wal(engine)
    if engine.dialect.name == "sqlite":
        raw = Path(settings.effective_database_url.removeprefix("sqlite:///")).read_bytes()
        for needle in needles[:3]:
            assert needle.encode() not in raw


# --- the tracker script ---------------------------------------------------------------------


def test_tracker_is_served_small_cached_and_versioned(client: TestClient) -> None:
    script = tracker.SCRIPT
    plain = client.get("/a.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("text/javascript")
    assert plain.headers["cache-control"].startswith("public, max-age=86400")
    assert plain.content == script.body
    assert "set-cookie" not in plain.headers
    assert b"cookie" not in script.body.replace(b"no cookies", b"")
    assert b"localStorage" not in script.body and b"sessionStorage" not in script.body
    assert tracker.gzipped_size(script.body) <= tracker.SIZE_BUDGET
    zipped = client.get("/a.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == script.body  # decoded by the client
    versioned = client.get(f"/{script.name}")
    assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert versioned.content == script.body
    again = client.get(f"/{script.name}", headers={"If-None-Match": script.etag})
    assert again.status_code == 304
    old = client.get("/a-00000000.js", follow_redirects=False)
    assert old.status_code == 307 and old.headers["location"] == "/a.js"
